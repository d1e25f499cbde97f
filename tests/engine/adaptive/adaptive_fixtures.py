"""Tiny before/after folders made from a real photo (shared by the adaptive tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.image import Photo, sample_photo, save_photo


def graded(pixels: np.ndarray) -> np.ndarray:
    """The 'after' look of the tiny pairs: warmer and brighter (a smooth global colour transform)."""
    return np.clip(pixels**0.8 * np.array([1.05, 1.0, 0.85], np.float32), 0, 1).astype(np.float32)


def make_pair_folder(root: Path, count: int, size: int = 48) -> Path:
    """DIR/input and DIR/target with `count` pairs: crops of a bundled photo with different exposures."""
    photo = sample_photo("astronaut").pixels
    rng = np.random.default_rng(0)
    (root / "input").mkdir(parents=True)
    (root / "target").mkdir()
    for index in range(count):
        top, left = rng.integers(0, photo.shape[0] - 4 * size, 2)
        clean = photo[top : top + 4 * size : 4, left : left + 4 * size : 4]
        before = np.clip(clean * rng.uniform(0.6, 1.3), 0, 1).astype(np.float32)
        save_photo(Photo(before), root / "input" / f"img{index:02d}.png")
        save_photo(Photo(graded(clean)), root / "target" / f"img{index:02d}.png")
    return root
