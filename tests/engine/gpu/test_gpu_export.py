"""Full-resolution export: GPU (tiled) and CPU paths give the same pixels within 1/255."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.gpu.export import apply_lut_fast, apply_lut_gpu
from engine.gpu.renderer import LutRenderer
from engine.jobs import CancelToken
from engine.lut import apply_lut


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_tiled_gpu_export_matches_cpu(gl, photo_pixels, strong_lut, interpolation):
    seen: list[float] = []

    def job() -> np.ndarray:
        renderer = LutRenderer(max_texture_size=48)
        try:
            return apply_lut_gpu(
                photo_pixels,
                strong_lut,
                interpolation,
                0.8,
                renderer=renderer,
                tile=40,
                progress=lambda f, m="": seen.append(f),
            )
        finally:
            renderer.release()

    got = gl.run(job)
    expected = apply_lut(photo_pixels, strong_lut, interpolation, 0.8)
    assert np.abs(got - expected).max() <= 1.0 / 255.0
    assert len(seen) == 12 and seen[-1] == pytest.approx(1.0)  # 130x90 in 40 px tiles: 4 x 3


def test_best_path_uses_the_gpu_and_agrees_with_the_cpu_path(gl, photo_pixels, strong_lut):
    gpu, used = apply_lut_fast(photo_pixels, strong_lut, "tetrahedral", 1.0)
    cpu, used_cpu = apply_lut_fast(photo_pixels, strong_lut, "tetrahedral", 1.0, use_gpu=False)
    assert (used, used_cpu) == ("gpu", "cpu")
    assert np.abs(gpu - cpu).max() <= 1.0 / 255.0


def test_cancelled_export_raises(gl, photo_pixels, strong_lut):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        apply_lut_gpu(photo_pixels, strong_lut, cancel=token)
