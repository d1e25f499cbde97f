"""Full-resolution LUT application: the GPU path when an OpenGL 3.3 context can be made, else the CPU.

Both paths give the same pixels within 1/255 (tests assert it), so callers only choose speed. The GPU
path renders the photo in tiles of at most `EXPORT_TILE` pixels a side, reading each tile straight
into the result array, checking for cancellation between tiles.
"""

from __future__ import annotations

import logging

import numpy as np

from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lut.apply import apply_lut
from engine.lut.lut3d import LUT3D
from engine.lut.sampling import DEFAULT_INTERPOLATION, check_interpolation

EXPORT_TILE = 4096
log = logging.getLogger(__name__)


def apply_lut_gpu(
    pixels: np.ndarray,
    lut: LUT3D,
    interpolation: str = DEFAULT_INTERPOLATION,
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    renderer: object | None = None,
    tile: int = EXPORT_TILE,
) -> np.ndarray:
    """`engine.lut.apply_lut` on the GPU. Uses `renderer` (a LutRenderer in the current context) if
    given, otherwise makes a headless EGL context on a GL thread for the call (GLUnavailable if none)."""
    from engine.gpu.context import GLThread
    from engine.gpu.renderer import LutRenderer, _as_rgb_float

    check_interpolation(interpolation)
    pixels = _as_rgb_float(pixels)
    if renderer is None:

        def with_own_renderer() -> np.ndarray:
            own = LutRenderer()
            try:
                return apply_lut_gpu(
                    pixels, lut, interpolation, strength, progress=progress, cancel=cancel, renderer=own, tile=tile
                )
            finally:
                own.release()

        with GLThread() as gl:
            return gl.run(with_own_renderer)
    assert isinstance(renderer, LutRenderer)
    height, width = pixels.shape[:2]
    step = min(tile, renderer.max_texture_size)
    renderer.set_lut(lut)
    renderer.interpolation = interpolation
    renderer.strength = strength
    out = np.empty_like(pixels)
    rects = [(x, y) for y in range(0, height, step) for x in range(0, width, step)]
    for done, (x, y) in enumerate(rects, start=1):
        check(cancel)
        part = pixels[y : y + step, x : x + step]
        renderer.set_photo(part, mipmaps=False)
        renderer.render_graded(out=out[y : y + step, x : x + step])
        progress(done / len(rects), "applying LUT on the GPU")
    return out


def apply_lut_fast(
    pixels: np.ndarray,
    lut: LUT3D,
    interpolation: str = DEFAULT_INTERPOLATION,
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    use_gpu: bool = True,
) -> tuple[np.ndarray, str]:
    """Apply `lut` at full resolution on the GPU if possible, else on the CPU; returns (pixels, "gpu"|"cpu")."""
    if use_gpu:
        from engine.gpu.context import GLUnavailable

        try:
            return apply_lut_gpu(pixels, lut, interpolation, strength, progress=progress, cancel=cancel), "gpu"
        except GLUnavailable as exc:
            log.info("GPU export unavailable (%s); using the CPU", exc)
    return apply_lut(pixels, lut, interpolation, strength, progress=progress, cancel=cancel), "cpu"
