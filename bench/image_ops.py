"""The shared image operations (engine.image, engine.color) against the numpy versions they replaced.

    python bench/image_ops.py [--megapixels 12] [--repeat 3]

Prints, per operation, the best-of-N seconds of the plain numpy version (as it was written in the tree before
issue 16) and of the shared one, and the largest difference between their outputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.color import linear_to_srgb, srgb_to_linear  # noqa: E402
from engine.image import resize_bilinear, shrink_by_blocks  # noqa: E402


def numpy_bilinear(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """The separable numpy bilinear engine.image had (pixel centres aligned)."""
    for axis, size in ((0, height), (1, width)):
        n = plane.shape[axis]
        pos = np.clip((np.arange(size) + 0.5) * (n / size) - 0.5, 0, n - 1)
        low = np.minimum(pos.astype(np.int64), max(n - 2, 0))
        frac = (pos - low).astype(np.float32)
        high = np.minimum(low + 1, n - 1)
        shape = (-1, 1) if axis == 0 else (1, -1)
        a, b = np.take(plane, low, axis=axis), np.take(plane, high, axis=axis)
        plane = a + frac.reshape(shape) * (b - a)
    return plane.astype(np.float32)


def numpy_blocks(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The reshape-mean block average of app/preview.py, engine/adaptive/data.py and engine/lowlight/data.py."""
    h, w = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
    return pixels[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3), dtype=np.float32)


def numpy_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def numpy_encode(v: np.ndarray) -> np.ndarray:
    v = np.maximum(v, 0.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055).astype(np.float32)


def best_seconds(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    assert out is not None
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    height = int(round((args.megapixels * 1e6 * 3 / 4) ** 0.5))
    width = height * 4 // 3
    photo = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    plane = photo[..., 0].copy()
    cases = [
        (
            f"bilinear x2 up, {width}x{height} plane",
            lambda: numpy_bilinear(plane, 2 * height, 2 * width),
            lambda: resize_bilinear(plane, 2 * height, 2 * width),
        ),
        (
            f"bilinear to 1/2, {width}x{height} plane",
            lambda: numpy_bilinear(plane, height // 2, width // 2),
            lambda: resize_bilinear(plane, height // 2, width // 2),
        ),
        (
            f"block average 4x4, {width}x{height} RGB",
            lambda: numpy_blocks(photo, 4),
            lambda: shrink_by_blocks(photo, -(-max(height, width) // 4)),
        ),
        (f"sRGB decode, {width}x{height} RGB", lambda: numpy_decode(photo), lambda: srgb_to_linear(photo)),
        (f"sRGB encode, {width}x{height} RGB", lambda: numpy_encode(photo), lambda: linear_to_srgb(photo)),
    ]
    print(f"{'operation':<42}{'numpy s':>9}{'shared s':>10}{'speed-up':>10}{'max |diff|':>12}")
    for name, old, new in cases:
        old_s, old_out = best_seconds(old, args.repeat)
        new_s, new_out = best_seconds(new, args.repeat)
        assert old_out.shape == new_out.shape, (name, old_out.shape, new_out.shape)
        diff = float(np.abs(old_out - new_out).max())
        print(f"{name:<42}{old_s:>9.3f}{new_s:>10.3f}{old_s / new_s:>9.1f}x{diff:>12.1e}")


if __name__ == "__main__":
    main()
