"""Benchmark: our CPU LUT application against Pillow's ImageFilter.Color3DLUT on a 12-megapixel photo.

    python bench/lut_apply.py [--megapixels 12] [--size 33] [--repeat 3]
    python bench/lut_apply.py --files 24,100 [--cube-size 256]

`--files`: whole-file jobs instead, each in a fresh process: `main.py apply` on an N-megapixel 8-bit PNG
(decoded, graded in place band by band, encoded) with its peak resident memory and time, and reading an
N^3 .cube (`--cube-size`, 0 to skip).

Prints one table: wall time (best of --repeat runs, interleaved across engines in one process so a busy
machine slows all alike), ratio to Pillow (trilinear, its only mode), and the peak resident memory of a
fresh process during one call (the kernel's high-water mark is reset after the photo is prepared; the
"before" column is the process with its input). A last row checks the 24-megapixel memory budget.
Pillow works on 8-bit pixels, we on float32; each is timed on its native input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._measure import reset_peak_rss, rss_mb, run_json  # noqa: E402

INTERPOLATIONS = ("trilinear", "tetrahedral")


def graded_lut(size: int):
    """A plausible look (S-curve contrast, warm shift, some desaturation), analytic so any size works."""
    import numpy as np

    from engine.lut import LUT3D

    rgb = LUT3D.identity(size).table.astype(np.float64)
    curve = rgb - 0.15 * np.sin(2 * np.pi * rgb) / (2 * np.pi)  # steeper mid-tones: more contrast
    grey = curve @ np.array([0.2126, 0.7152, 0.0722])
    mixed = grey[..., None] + 0.85 * (curve - grey[..., None])
    warm = mixed * np.array([1.04, 1.0, 0.93]) + np.array([0.01, 0.0, -0.01])
    return LUT3D(np.clip(warm, 0, 1), "bench look")


def photo(megapixels: float):
    """A real photo (scikit-image's astronaut) resized to the requested size, as float32 [0, 1]."""
    import cv2
    import numpy as np

    from engine.image import sample_photo

    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    pixels = cv2.resize(sample_photo("astronaut").pixels, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(pixels, 0, 1)


def _pillow_call(pixels, lut, size: int):
    """Pillow's filter on the 8-bit version of the photo (the float photo is not kept alive)."""
    import numpy as np
    from PIL import Image, ImageFilter

    image = Image.fromarray(np.rint(pixels * 255).astype(np.uint8))
    lut_filter = ImageFilter.Color3DLUT(size, lut.table.reshape(-1, 3).tolist())
    return lambda: image.filter(lut_filter)


def _our_call(pixels, lut, interpolation: str):
    from engine.lut import apply_lut

    return lambda: apply_lut(pixels, lut, interpolation)


def _callables(engines: list[str], megapixels: float, size: int) -> dict:
    """Prepared calls, one per engine name ("pillow", "trilinear", "tetrahedral"), on the same photo."""
    lut = graded_lut(size)
    pixels = photo(megapixels)
    return {
        name: _pillow_call(pixels, lut, size) if name == "pillow" else _our_call(pixels, lut, name) for name in engines
    }


def child_times(megapixels: float, size: int, repeat: int) -> dict:
    """Best wall time of each engine; runs are interleaved so a busy machine slows all of them alike."""
    calls = _callables(["pillow", *INTERPOLATIONS], megapixels, size)
    best = {name: float("inf") for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def child_memory(engine_name: str, megapixels: float, size: int) -> dict:
    """Peak resident memory of one call in a fresh process (the high-water mark is reset after set-up)."""
    call = _callables([engine_name], megapixels, size)[engine_name]
    reset_peak_rss()  # measure the call, not the set-up
    before = rss_mb("VmRSS")
    call()
    return {"peak_mb": rss_mb("VmHWM"), "before_mb": before}


def child_file_apply(source: str, lut_path: str, target: str) -> dict:
    """`main.py apply` in this fresh process: its peak memory covers decoding, grading and encoding."""
    from engine.cli import main as cli_main

    start = time.perf_counter()
    status = cli_main(["apply", "--lut", lut_path, source, target])
    return {"status": status, "seconds": time.perf_counter() - start, "peak_mb": rss_mb("VmHWM")}


def child_cube_read(path: str) -> dict:
    from engine.lut import read_cube

    start = time.perf_counter()
    read_cube(path)
    return {"seconds": time.perf_counter() - start, "peak_mb": rss_mb("VmHWM")}


def file_jobs(megapixel_list: list[float], cube_size: int) -> None:
    import tempfile

    import numpy as np
    from PIL import Image

    from engine.lut import LUT3D, write_cube

    folder = Path(tempfile.mkdtemp(prefix="lutlab-bench-"))
    write_cube(graded_lut(33), folder / "look.cube")
    print(f"{'job':<34} {'time s':>8} {'peak RSS MB':>11}")
    for megapixels in megapixel_list:
        source = folder / f"in{megapixels:g}.png"
        Image.fromarray(np.rint(photo(megapixels) * 255).astype(np.uint8)).save(source, compress_level=1)
        result = run_child("file", str(source), str(folder / "look.cube"), str(folder / f"out{megapixels:g}.png"))
        print(f"{f'apply {megapixels:g} MP 8-bit PNG -> PNG':<34} {result['seconds']:>8.1f} {result['peak_mb']:>11.0f}")
        source.unlink()
    if cube_size:
        rng = np.random.default_rng(0)
        write_cube(LUT3D(rng.random((cube_size,) * 3 + (3,), dtype=np.float32)), folder / "big.cube")
        result = run_child("cube", str(folder / "big.cube"))
        print(f"{f'read a {cube_size}^3 .cube':<34} {result['seconds']:>8.1f} {result['peak_mb']:>11.0f}")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def run_child(*args: str) -> dict:
    return run_json(__file__, "--child", *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--size", type=int, default=33, help="LUT size (default 33)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", help="comma-separated megapixels: whole-file apply jobs instead")
    parser.add_argument("--cube-size", type=int, default=256, help="with --files: also read a N^3 .cube")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.files:
        file_jobs([float(mp) for mp in args.files.split(",")], args.cube_size)
        return
    if args.child:
        kind, *rest = args.child
        if kind == "file":
            print(json.dumps(child_file_apply(*rest)))
        elif kind == "cube":
            print(json.dumps(child_cube_read(*rest)))
        elif kind == "times":
            print(json.dumps(child_times(float(rest[0]), int(rest[1]), int(rest[2]))))
        else:
            print(json.dumps(child_memory(rest[0], float(rest[1]), int(rest[2]))))
        return

    from engine.lut.apply import MAX_THREADS

    mp, size = args.megapixels, args.size
    times = run_child("times", str(mp), str(size), str(args.repeat))
    rows = [("Pillow Color3DLUT", "trilinear", "pillow", mp)]
    rows += [("LUTLab apply_lut", name, name, mp) for name in INTERPOLATIONS]
    rows.append(("LUTLab apply_lut", "trilinear", "trilinear", 24.0))

    threads = min(os.cpu_count() or 1, MAX_THREADS)
    print(
        f"LUT {size}^3 on a {mp:g} MP photo; {os.cpu_count()} CPUs, LUTLab uses {threads} threads; "
        f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat} interleaved runs"
    )
    print(
        f"{'engine':<18} {'interpolation':<12} {'MP':>4} {'time s':>8} {'vs Pillow':>9} {'peak RSS MB':>11} "
        f"{'(before)':>9}"
    )
    for label, interpolation, engine_name, megapixels in rows:
        memory = run_child("memory", engine_name, str(megapixels), str(size))
        if megapixels == mp:
            seconds = times[engine_name]
            timing = f"{seconds:>8.3f} {seconds / times['pillow']:>8.2f}x"
        else:
            timing = f"{'-':>8} {'-':>9}"
        print(
            f"{label:<18} {interpolation:<12} {megapixels:>4g} {timing} {memory['peak_mb']:>11.0f} "
            f"{memory['before_mb']:>9.0f}"
        )


if __name__ == "__main__":
    main()
