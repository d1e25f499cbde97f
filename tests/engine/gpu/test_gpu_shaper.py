"""A LUT with a 1D shaper on the GPU (export and preview programs): the same pixels as the CPU's exact
two-stage lookup, for both interpolations, with shapers longer than one texture row."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gpu.export import apply_lut_gpu
from engine.gpu.renderer import SHAPER_ROW, LutRenderer
from engine.lut import LUT3D, apply_lut
from engine.lut.lut3d import LUT1D


def log_shaper_lut(strong: LUT3D, entries: int) -> LUT3D:
    """A log2 shaper over [2^-8, 2^2] (photo values reach into its steep bottom) in front of `strong`."""
    inputs = np.linspace(2.0**-8, 4.0, entries)
    curve = (np.log2(inputs) + 8) / 10
    shaper = LUT1D(np.stack([curve, curve**0.9, curve], axis=1), [2.0**-8] * 3, [4.0] * 3)
    return LUT3D(strong.table, "log look", shaper=shaper)


@pytest.mark.parametrize("entries", [37, SHAPER_ROW * 3 + 5])
@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_gpu_applies_the_shaper_exactly(gl, photo_pixels, strong_lut, interpolation, entries):
    lut = log_shaper_lut(strong_lut, entries)
    pixels = photo_pixels**2.2  # linear-light values, many near the shaper's steep bottom

    def job() -> np.ndarray:
        renderer = LutRenderer(max_texture_size=64)
        try:
            return apply_lut_gpu(pixels, lut, interpolation, 0.9, renderer=renderer, tile=50)
        finally:
            renderer.release()

    got = gl.run(job)
    expected = apply_lut(pixels, lut, interpolation, 0.9)
    assert np.abs(got - expected).max() <= 0.5 / 255.0
    baked = apply_lut(pixels, lut.baked(17), interpolation, 0.9)  # what folding the shaper away would show
    assert np.abs(baked - expected).max() > 2.0 / 255.0


def test_1d_only_lut_on_the_gpu(gl, photo_pixels):
    curve = np.stack([np.linspace(0, 1, 9) ** 2, 1 - np.linspace(0, 1, 9), np.full(9, 0.3)], axis=1)
    lut = LUT3D.from_1d(LUT1D(curve))

    def job() -> np.ndarray:
        renderer = LutRenderer()
        try:
            return apply_lut_gpu(photo_pixels, lut, "tetrahedral", renderer=renderer)
        finally:
            renderer.release()

    expected = np.stack([np.interp(photo_pixels[..., c], np.linspace(0, 1, 9), curve[:, c]) for c in range(3)], -1)
    assert np.abs(gl.run(job) - expected).max() <= 0.5 / 255.0
