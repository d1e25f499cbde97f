"""Benchmark: our CPU LUT application against Pillow's ImageFilter.Color3DLUT on a 12-megapixel photo.

    python bench/lut_apply.py [--megapixels 12] [--size 33] [--repeat 3]

Prints one table: wall time (best of --repeat), ratio to Pillow (trilinear, its only mode), and the peak
resident memory of the process during the call (each row runs in a fresh subprocess; the kernel's
high-water mark is reset after the photo is prepared). A last row checks the 24-megapixel memory budget.
Pillow works on 8-bit pixels, we on float32; each is timed on its native input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(engine_name: str, interpolation: str, megapixels: float, size: int, repeat: int) -> dict:
    """Run in a fresh process: prepare, reset the peak-RSS mark, time the call, report peak memory."""
    import numpy as np

    lut = graded_lut(size)
    pixels = photo(megapixels)
    if engine_name == "pillow":
        from PIL import Image, ImageFilter

        image = Image.fromarray(np.rint(pixels * 255).astype(np.uint8))
        del pixels
        lut_filter = ImageFilter.Color3DLUT(size, lut.table.reshape(-1, 3).tolist())

        def call():
            return image.filter(lut_filter)
    else:
        from engine.lut import apply_lut

        def call():
            return apply_lut(pixels, lut, interpolation)

    times = []
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: measure the call, not the set-up
    before = _rss_mb("VmRSS")
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        del result
    return {"seconds": min(times), "peak_mb": _rss_mb("VmHWM"), "before_mb": before}


def measure(engine_name: str, interpolation: str, megapixels: float, size: int, repeat: int) -> dict:
    args = [sys.executable, __file__, "--child", engine_name, interpolation, str(megapixels), str(size), str(repeat)]
    result = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--size", type=int, default=33, help="LUT size (default 33)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, interpolation, megapixels, size, repeat = args.child
        print(json.dumps(child(name, interpolation, float(megapixels), int(size), int(repeat))))
        return

    from engine.lut.apply import MAX_THREADS

    mp, size, repeat = args.megapixels, args.size, args.repeat
    pillow = measure("pillow", "trilinear", mp, size, repeat)
    rows = [("Pillow Color3DLUT", "trilinear", mp, pillow)]
    for interpolation in ("trilinear", "tetrahedral"):
        rows.append(("LUTLab apply_lut", interpolation, mp, measure("ours", interpolation, mp, size, repeat)))
    rows.append(("LUTLab apply_lut", "trilinear", 24.0, measure("ours", "trilinear", 24.0, size, 1)))

    threads = min(os.cpu_count() or 1, MAX_THREADS)
    print(f"LUT {size}^3 on a {mp:g} MP photo; {os.cpu_count()} CPUs, LUTLab uses {threads} threads; "
          f"load average {os.getloadavg()[0]:.1f}; best of {repeat}")
    print(f"{'engine':<18} {'interpolation':<12} {'MP':>4} {'time s':>8} {'vs Pillow':>9} {'peak RSS MB':>11} "
          f"{'(before)':>9}")
    for name, interpolation, megapixels, row in rows:
        ratio = row["seconds"] / pillow["seconds"] if megapixels == mp else float("nan")
        ratio_text = f"{ratio:8.2f}x" if ratio == ratio else f"{'-':>9}"
        print(f"{name:<18} {interpolation:<12} {megapixels:>4g} {row['seconds']:>8.3f} {ratio_text} "
              f"{row['peak_mb']:>11.0f} {row['before_mb']:>9.0f}")


if __name__ == "__main__":
    main()
