"""Deghosting: where a frame disagrees with the reference after exposure normalisation, use the reference.

Exposure normalisation is an intensity mapping function (IMF) from each frame's grey levels to the
reference's, found by matching cumulative histograms (ranks), so it needs no camera response or EXIF.
Each grey level maps to the interval of reference levels its ranks span: narrow for ordinary levels,
wide for a pile of clipped pixels (a clipped pixel only says "at least this bright"), so clipping is
not mistaken for motion. A pixel disagrees when the reference lies outside its interval. Differences are
measured at quarter resolution (less noise, cheaper), turned into a soft mask with a ramp, grown a
little so object edges are covered, and brought back to full size with the pyramid's smooth up-sampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.fusion.pyramid import downsample, upsample

RAMP = (0.05, 0.12)  # grey difference (0..1) beyond the mapped interval where the mask starts and reaches 1
MASK_LEVELS = 2  # measure at 1/4 resolution
GROW_STEPS = 1  # 3x3 dilations at that resolution (4 px at full size), before the smooth up-sampling


def intensity_mapping(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of the 256 source grey levels, the (lowest, highest) target level of the same ranks."""
    counts = np.bincount(source.ravel(), minlength=256)
    after = np.cumsum(counts) / source.size
    before = after - counts / source.size
    target_cdf = np.cumsum(np.bincount(target.ravel(), minlength=256)) / target.size
    levels = np.arange(256)
    low = levels[np.minimum(np.searchsorted(target_cdf, before, side="right"), 255)]
    high = levels[np.minimum(np.searchsorted(target_cdf, after - 1e-12, side="left"), 255)]
    return low.astype(np.float32), high.astype(np.float32)


def _quarter(grey: np.ndarray) -> np.ndarray:
    small = grey.astype(np.float32)
    for _ in range(MASK_LEVELS):
        small = downsample(small)
    return small


def _grow(mask: np.ndarray) -> np.ndarray:
    for _ in range(GROW_STEPS):
        padded = np.pad(mask, 1, mode="edge")
        grown = padded[1:-1, 1:-1].copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.maximum(grown, padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]], out=grown)
        mask = grown
    return mask


def ghost_mask(grey: np.ndarray, ref_grey: np.ndarray) -> np.ndarray:
    """Soft mask in [0, 1], (H, W) float32: 1 where a frame shows something the reference does not.

    Both inputs are aligned 8-bit grey images (`engine.fusion.align.grey_levels`).
    """
    low_table, high_table = intensity_mapping(grey, ref_grey)
    low, high, ref = _quarter(low_table[grey]), _quarter(high_table[grey]), _quarter(ref_grey)
    distance = np.maximum(low - ref, 0.0)
    distance += np.maximum(ref - high, 0.0)
    distance /= 255.0
    mask = np.clip((distance - RAMP[0]) / (RAMP[1] - RAMP[0]), 0.0, 1.0).astype(np.float32)
    mask = _grow(mask)
    for size in reversed(_sizes(grey.shape)[:-1]):
        mask = upsample(mask, size)
    return np.clip(mask, 0.0, 1.0, out=mask)


def _sizes(size: tuple[int, int]) -> list[tuple[int, int]]:
    """Sizes of the levels between full resolution and the (one level coarser than) mask resolution."""
    sizes = [size]
    for _ in range(MASK_LEVELS):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    return sizes


def deghost_weights(weights: Sequence[np.ndarray], masks: Sequence[np.ndarray | None], reference: int) -> None:
    """Move each frame's normalised weight inside its ghost mask to the reference frame (in place).

    Working on normalised weights keeps their sum at 1, so even flat regions, where every raw weight is
    near zero, end up taken from the reference.
    """
    for index, (weight, mask) in enumerate(zip(weights, masks, strict=True)):
        if index == reference or mask is None:
            continue
        moved = weight * mask
        weight -= moved
        weights[reference] += moved
