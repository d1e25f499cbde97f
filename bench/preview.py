"""Benchmark of the GPU LUT pass: preview frame time and full-resolution export vs Pillow's Color3DLUT.

    python bench/preview.py [--repeat 5]

Rows: the LUT pass alone (photo already uploaded, draw + glFinish) at 1920x1080 and at 12 MP, and a
full 12 MP export (upload + render + read back into float32) against Pillow's C `Color3DLUT`
(8-bit in, 8-bit out, trilinear) and the numpy CPU path on the same photo. Times are the best of
`--repeat` runs; ratios are Pillow time / ours. Runs in a headless EGL context (Mesa llvmpipe here).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from engine.gpu.context import GLThread  # noqa: E402  (engine.gpu picks the EGL platform first)
from engine.gpu.export import apply_lut_gpu  # noqa: E402
from engine.gpu.renderer import Compare, Layout, LutRenderer, View  # noqa: E402
from engine.lut import LUT3D, apply_lut, identity_table  # noqa: E402

SIZES = {"1920x1080": (1920, 1080), "12 MP (4000x3000)": (4000, 3000)}
LUT_SIZE = 33


@dataclass(frozen=True)
class Timing:
    """Best wall time of the runs and the process CPU time (all threads) of that run, in ms."""

    wall: float
    cpu: float


def best_ms(fn: Callable[[], object], repeat: int) -> Timing:
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append(Timing(1000.0 * (time.perf_counter() - wall), 1000.0 * (time.process_time() - cpu)))
    return min(runs, key=lambda t: t.wall)


def test_photo(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 50.0 + y / 70.0)], axis=-1)
    return np.clip(base + rng.normal(0, 0.03, base.shape).astype(np.float32), 0, 1).astype(np.float32)


def graded_lut() -> LUT3D:
    unit = identity_table(LUT_SIZE)
    table = np.clip(unit**0.8 * np.float32([1.05, 0.98, 0.9]) + 0.02, 0, 1).astype(np.float32)
    return LUT3D(table, title="bench")


def gl_renderer_name() -> str:
    from OpenGL import GL  # after engine.gpu, which chose the EGL platform

    return GL.glGetString(GL.GL_RENDERER).decode()


def frame_times(lut: LUT3D, repeat: int) -> list[tuple[str, str, Timing]]:
    """The preview's LUT pass (view + split layout + LUT) drawn at 1:1 into a target of the photo's size."""
    from OpenGL import GL

    rows = []
    renderer = LutRenderer()
    try:
        renderer.set_lut(lut)
        for label, size in SIZES.items():
            renderer.set_photo(test_photo(*size), mipmaps=False)
            renderer.bind_offscreen(*size)
            for interpolation in ("trilinear", "tetrahedral"):
                renderer.interpolation = interpolation

                def frame(size: tuple[int, int] = size) -> None:
                    renderer.draw(size, View(), Compare(Layout.SPLIT_VERTICAL, divider_width=2.0))
                    GL.glFinish()

                frame()
                rows.append((label, interpolation, best_ms(frame, repeat)))

                splits = iter(np.linspace(0.2, 0.8, repeat + 1))

                def split_moved(size: tuple[int, int] = size, splits=splits) -> None:  # noqa: ANN001
                    compare = Compare(Layout.SPLIT_VERTICAL, split=float(next(splits)), divider_width=2.0)
                    renderer.draw(size, View(), compare, reuse_graded=True)
                    GL.glFinish()

                split_moved()  # fills the graded-frame cache
                rows.append((label, f"{interpolation}, split drag (cached)", best_ms(split_moved, repeat)))
    finally:
        renderer.release()
    return rows


def export_times(photo: np.ndarray, lut: LUT3D, repeat: int) -> dict[str, Timing]:
    """apply_lut_gpu on a live renderer: upload + export pass + read back into float32."""
    renderer = LutRenderer()
    try:
        times = {}
        for interpolation in ("trilinear", "tetrahedral"):

            def export(interpolation: str = interpolation) -> None:
                apply_lut_gpu(photo, lut, interpolation, renderer=renderer)

            export()  # warm-up: shader compile, texture and framebuffer allocation
            times[interpolation] = best_ms(export, repeat)
        return times
    finally:
        renderer.release()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from PIL import Image, ImageFilter

    lut = graded_lut()
    width, height = SIZES["12 MP (4000x3000)"]
    photo = test_photo(width, height)
    photo8 = (photo * 255 + 0.5).astype(np.uint8)
    pil_image = Image.fromarray(photo8)
    pil_filter = ImageFilter.Color3DLUT(LUT_SIZE, lut.table.reshape(-1).tolist())  # red fastest, like .cube

    with GLThread() as gl:
        renderer_name = gl.run(gl_renderer_name)
        frames = gl.run(frame_times, lut, args.repeat)
        exports = gl.run(export_times, photo, lut, args.repeat)

    pillow = best_ms(lambda: pil_image.filter(pil_filter), args.repeat)
    cpu_path = best_ms(lambda: apply_lut(photo, lut, "trilinear"), max(1, args.repeat // 2))

    print(
        f"LUTLab preview benchmark — {renderer_name}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} at the end, LUT {LUT_SIZE}^3, best of {args.repeat}"
    )
    print("wall = elapsed time; CPU = this process's CPU time in that run, all threads. Both are shown: on a")
    print("shared machine the wall time depends on the neighbours, the CPU time much less.")
    print()
    print(f"{'preview pass (split)':<24}{'interpolation':<36}{'wall ms':>9}{'CPU ms':>9}{'fps':>7}")
    for label, interpolation, t in frames:
        print(f"{label:<24}{interpolation:<36}{t.wall:9.1f}{t.cpu:9.1f}{1000.0 / t.wall:7.1f}")
    print()
    print(f"{'12 MP export: upload+render+readback':<46}{'wall ms':>9}{'CPU ms':>9}{'Pillow/this wall':>18}{'CPU':>7}")
    rows = [(f"GPU {name}", t) for name, t in exports.items()]
    rows += [("Pillow Color3DLUT (8-bit, trilinear)", pillow), ("numpy CPU apply_lut (float, trilinear)", cpu_path)]
    for label, t in rows:
        print(f"{label:<46}{t.wall:9.1f}{t.cpu:9.1f}{pillow.wall / t.wall:17.2f}x{pillow.cpu / t.cpu:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
