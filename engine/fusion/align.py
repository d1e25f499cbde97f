"""Align a bracket to its reference frame with median-threshold bitmaps (Ward 2003), translation only.

Thresholding each frame at its own median grey level gives nearly the same bitmap whatever the
exposure, so bitmaps of differently exposed frames can be compared directly; pixels within a few grey
levels of the median are noise-prone and excluded. The shift is found coarse to fine on a pyramid of
halved bitmaps, testing the 9 neighbours of the doubled coarser shift at each level, which reaches
+-(2^levels - 1) pixels. On large levels only every k-th row is compared: the error is a count, so a
regular sample of rows estimates it well and keeps the finest level cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.fusion.weights import GREY_WEIGHTS
from engine.jobs import CancelToken, ProgressFn, check, no_progress

DEFAULT_LEVELS = 6  # largest recoverable shift: 63 px, as OpenCV's AlignMTB
EXCLUDE_RANGE = 4  # grey levels around the median that are ignored
SAMPLED_PIXELS = 1_500_000  # compare about this many pixels per candidate shift


@dataclass(frozen=True)
class Shift:
    """Move a frame's content by (dy, dx) pixels to lay it on the reference: aligned[y, x] = frame[y-dy, x-dx]."""

    dy: int = 0
    dx: int = 0

    def __add__(self, other: Shift) -> Shift:
        return Shift(self.dy + other.dy, self.dx + other.dx)


def grey_levels(pixels: np.ndarray) -> np.ndarray:
    """8-bit grey image of an (H, W, 3) frame in [0, 1]."""
    grey = np.asarray(pixels, dtype=np.float32) @ (GREY_WEIGHTS * np.float32(255.0))
    grey += 0.5
    np.clip(grey, 0, 255, out=grey)
    return grey.astype(np.uint8)


def _halve(grey: np.ndarray) -> np.ndarray:
    """2x2 box average of an 8-bit image (odd last row/column dropped)."""
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    g = grey[:h, :w].astype(np.uint16)
    total = g[0::2, 0::2] + g[1::2, 0::2]
    total += g[0::2, 1::2]
    total += g[1::2, 1::2]
    total += 2
    total >>= 2
    return total.astype(np.uint8)


def _bitmaps(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(threshold bitmap, exclusion bitmap): above the median, and farther than EXCLUDE_RANGE from it."""
    counts = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    median = int(np.searchsorted(counts, counts[-1] / 2.0))
    threshold = grey > median
    keep = (grey < median - EXCLUDE_RANGE) | (grey > median + EXCLUDE_RANGE)
    return threshold, keep


class _BitmapPyramid:
    """Threshold and exclusion bitmaps of one grey image at every level, finest first."""

    def __init__(self, grey: np.ndarray, levels: int) -> None:
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        for level in range(levels):
            if level:
                grey = _halve(grey)
            self.levels.append(_bitmaps(grey))
            if min(grey.shape) < 16:
                break


def _mismatch(reference: tuple[np.ndarray, np.ndarray], frame: tuple[np.ndarray, np.ndarray], shift: Shift) -> float:
    """Fraction of usable pixels where the shifted frame's bitmap disagrees with the reference's."""
    ref_bits, ref_keep = reference
    bits, keep = frame
    h, w = ref_bits.shape
    y0, y1 = max(shift.dy, 0), min(h, h + shift.dy)
    x0, x1 = max(shift.dx, 0), min(w, w + shift.dx)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return 1.0
    step = max(1, int((y1 - y0) * (x1 - x0) / SAMPLED_PIXELS))
    ref_rows = slice(y0, y1, step)
    rows = slice(y0 - shift.dy, y1 - shift.dy, step)
    cols, ref_cols = slice(x0 - shift.dx, x1 - shift.dx), slice(x0, x1)
    usable = ref_keep[ref_rows, ref_cols] & keep[rows, cols]
    differ = np.logical_xor(ref_bits[ref_rows, ref_cols], bits[rows, cols])
    differ &= usable
    return np.count_nonzero(differ) / max(np.count_nonzero(usable), 1)


def find_shift(reference: np.ndarray, frame: np.ndarray, *, levels: int = DEFAULT_LEVELS) -> Shift:
    """Translation that lays `frame` on `reference`, both 8-bit grey images from `grey_levels`."""
    return _search(_BitmapPyramid(reference, levels), _BitmapPyramid(frame, levels))


def _search(reference: _BitmapPyramid, frame: _BitmapPyramid) -> Shift:
    best = Shift()
    for level in reversed(range(min(len(reference.levels), len(frame.levels)))):
        centre = Shift(best.dy * 2, best.dx * 2)
        candidates = [centre + Shift(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        errors = [_mismatch(reference.levels[level], frame.levels[level], c) for c in candidates]
        best = candidates[int(np.argmin(errors))]
    return best


def find_shifts(
    greys: Sequence[np.ndarray],
    reference: int,
    *,
    levels: int = DEFAULT_LEVELS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[Shift]:
    """Shift of every frame onto greys[reference] (whose own shift is zero); inputs from `grey_levels`."""
    check(cancel)
    ref_pyramid = _BitmapPyramid(greys[reference], levels)
    shifts = []
    for index, grey in enumerate(greys):
        check(cancel)
        shifts.append(Shift() if index == reference else _search(ref_pyramid, _BitmapPyramid(grey, levels)))
        progress((index + 1) / len(greys), "aligning")
    return shifts


def shift_frame(pixels: np.ndarray, shift: Shift, *, planar: bool = False) -> np.ndarray:
    """Apply `shift` to an (H, W) or (H, W, C) array; uncovered borders repeat the nearest edge pixel.

    With `planar`, an (H, W, C) input comes back as (C, H, W), in the same single pass.
    """
    h, w = pixels.shape[:2]
    if abs(shift.dy) >= h or abs(shift.dx) >= w:
        raise ValueError(f"shift {shift} is larger than the {w}x{h} frame")
    top, bottom = max(shift.dy, 0), max(-shift.dy, 0)
    left, right = max(shift.dx, 0), max(-shift.dx, 0)
    source = pixels.transpose(2, 0, 1) if planar else pixels
    lead = (slice(None),) if planar else ()
    out = np.empty(source.shape, dtype=pixels.dtype)
    out[(*lead, slice(top, h - bottom), slice(left, w - right))] = source[
        (*lead, slice(bottom, h - top), slice(right, w - left))
    ]
    rows = (slice(None),) if planar else ()
    if top:
        out[(*rows, slice(0, top))] = out[(*rows, slice(top, top + 1))]
    if bottom:
        out[(*rows, slice(h - bottom, h))] = out[(*rows, slice(h - bottom - 1, h - bottom))]
    if left:
        out[(*rows, slice(None), slice(0, left))] = out[(*rows, slice(None), slice(left, left + 1))]
    if right:
        out[(*rows, slice(None), slice(w - right, w))] = out[(*rows, slice(None), slice(w - right - 1, w - right))]
    return out


def covered(shift: Shift, height: int, width: int) -> np.ndarray:
    """Bool (H, W) mask of the pixels a frame shifted by `shift` really covers (not edge repeats)."""
    valid = np.zeros((height, width), dtype=bool)
    valid[max(shift.dy, 0) : height - max(-shift.dy, 0), max(shift.dx, 0) : width - max(-shift.dx, 0)] = True
    return valid


def common_window(shifts: Sequence[Shift], height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns every shifted frame covers (for cropping instead of filling)."""
    top = max(max(s.dy for s in shifts), 0)
    bottom = max(max(-s.dy for s in shifts), 0)
    left = max(max(s.dx for s in shifts), 0)
    right = max(max(-s.dx for s in shifts), 0)
    return slice(top, height - bottom), slice(left, width - right)
