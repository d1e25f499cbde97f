"""Training batches for the SR nets and the table fine-tuning: random (LR, HR) patches of photo planes.

Each R, G and B plane is a grey photo of its own; crops are flipped and rotated at random, and the LR
patch is the antialiased bicubic downscale (MATLAB convention, `engine.sr.resize`) rounded to 8 bits, as
a photo will be when it is upscaled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import InputError
from engine.sr.resize import resize_matrix

FLAT_TRIES = 10
DOWNSCALE_MARGIN = 2  # low-resolution pixels of high-resolution support the bicubic kernel needs per side


def channel_planes(photos: Sequence[np.ndarray]) -> list[np.ndarray]:
    planes = []
    for photo in photos:
        photo = np.asarray(photo, dtype=np.float32)
        planes.extend([photo] if photo.ndim == 2 else [photo[:, :, c] for c in range(min(photo.shape[2], 3))])
    return planes


class PatchSampler:
    """Random (LR, HR) single-channel patch batches: crop, flip, rotate, bicubic-downscale, 8-bit LR.

    The LR patch has `context` extra pixels on every side, downscaled from real neighbourhood (the HR crop
    is taken DOWNSCALE_MARGIN LR pixels larger still, so no LR pixel sees a mirrored border); the HR
    target covers only the inner `crop` x `crop` LR pixels. Planes too small for that are reflect-padded.
    Crops whose target's std is below `flat_std` are drawn again (up to FLAT_TRIES times)."""

    def __init__(
        self,
        photos: Sequence[np.ndarray],
        *,
        scale: int,
        crop: int,
        batch: int,
        seed: int,
        context: int = 0,
        flat_std: float = 0.0,
    ) -> None:
        r = scale
        self.context, self.scale = context, r
        outer = crop + 2 * (context + DOWNSCALE_MARGIN)  # LR side of the crop taken from the photo
        self.hr_side = outer * r
        planes = [p for p in channel_planes(photos) if min(p.shape) >= crop * r]
        if not planes:
            raise InputError(f"no photo of at least {crop * r}x{crop * r} pixels to train on")
        self.planes = [_pad_to(p, self.hr_side) for p in planes]
        areas = np.array([p.size for p in planes], dtype=np.float64)
        self.weights = areas / areas.sum()
        full = resize_matrix(self.hr_side, outer).astype(np.float32)
        self.down = np.ascontiguousarray(full[DOWNSCALE_MARGIN : outer - DOWNSCALE_MARGIN])
        self.target = slice((context + DOWNSCALE_MARGIN) * r, (outer - context - DOWNSCALE_MARGIN) * r)
        self.batch, self.flat_std, self.seed = batch, flat_std, seed
        self.rng = np.random.default_rng(seed)

    def _crop(self, rng: np.random.Generator) -> np.ndarray:
        side = self.hr_side
        for _ in range(FLAT_TRIES):
            plane = self.planes[rng.choice(len(self.planes), p=self.weights)]
            y = rng.integers(0, plane.shape[0] - side + 1)
            x = rng.integers(0, plane.shape[1] - side + 1)
            patch = plane[y : y + side, x : x + side]
            if self.flat_std <= 0 or patch[self.target, self.target].std() >= self.flat_std:
                break
        patch = np.rot90(patch, int(rng.integers(4)))
        return patch[:, ::-1] if rng.integers(2) else patch

    def __call__(self, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One batch: ((B, 1, crop + 2 context, ...) LR, (B, 1, crop * r, ...) HR). With `step`, the batch
        depends on (seed, step) alone, so a resumed run draws the same batches."""
        return self.draw(self.rng if step is None else np.random.default_rng([self.seed, step]))

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One batch drawn with `rng` (a torchrun shard's own generator, see engine.distributed)."""
        hr = np.stack([self._crop(rng) for _ in range(self.batch)]).astype(np.float32)
        lr = self.down @ hr @ self.down.T
        lr = np.round(np.clip(lr, 0.0, 1.0) * 255.0) / 255.0
        return lr[:, None].astype(np.float32), np.ascontiguousarray(hr[:, None, self.target, self.target])


def _pad_to(plane: np.ndarray, side: int) -> np.ndarray:
    """`plane`, reflect-padded (symmetrically) up to `side` on each axis where it is smaller."""
    pads = [((side - n + 1) // 2, (side - n) // 2) if n < side else (0, 0) for n in plane.shape]
    return np.pad(plane, pads, mode="symmetric") if any(sum(p) for p in pads) else plane
