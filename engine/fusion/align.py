"""Align a bracket to its reference frame with median-threshold bitmaps (Ward 2003): translation, plus a
small rotation when the frame turned measurably.

Thresholding each frame at its own median grey level gives nearly the same bitmap whatever the
exposure, so bitmaps of differently exposed frames can be compared directly; pixels within a few grey
levels of the median are noise-prone and excluded. The shift is found coarse to fine on a pyramid of
halved bitmaps, testing the 9 neighbours of the doubled coarser shift at each level, which reaches
+-(2^levels - 1) pixels. On large levels only every k-th row is compared: the error is a count, so a
regular sample of rows estimates it well and keeps the finest level cheap.

Rotation: after the global shift, the same search runs on a 4 x 4 grid of tiles (on the half-size and
coarser bitmaps already made), each refined to a fraction of a pixel by a parabola through the mismatch
at the best shift and its neighbours. A rotation about the centre plus a translation is fitted to the
tile shifts by least squares, refitted without the tiles that disagree (no texture, moving objects). Only
when the rotation moves the corners by a pixel or more is the frame resampled (bilinear); otherwise the
exact integer shift is kept, which needs no interpolation.

One module because the shift search and the tile rotation share one set of bitmaps and one error measure.
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
TILE_GRID = 4  # tiles per side for the rotation estimate
TILE_LEVELS = 4  # tiles search levels 3..1 (1/8 to 1/2 size) around the global shift: +-14 px more
MIN_TILE_SIDE = 64
MIN_ROTATION_PX = 1.0  # rotations that move the corners less than this are left alone
ROBUST_TOLERANCES_PX = (8.0, 3.0, 1.0)  # tiles farther than this from the fit are dropped, round by round
TILE_SAMPLED_PIXELS = 250_000


@dataclass(frozen=True)
class Shift:
    """How to lay a frame on the reference: move its content by (dy, dx) pixels, aligned[y, x] = frame[y-dy,
    x-dx], after turning it by `angle` degrees about the frame centre (0 for a pure translation).

    With a rotation, aligned[p] = frame[c + R(angle) (p - c) - (dy, dx)] for p = (y, x) and centre c, where
    R(a) = [[cos a, -sin a], [sin a, cos a]] acts on (y, x).
    """

    dy: int = 0
    dx: int = 0
    angle: float = 0.0

    def __add__(self, other: Shift) -> Shift:
        return Shift(self.dy + other.dy, self.dx + other.dx, self.angle + other.angle)


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


def _mismatch(
    reference: tuple[np.ndarray, np.ndarray],
    frame: tuple[np.ndarray, np.ndarray],
    shift: Shift,
    budget: int = SAMPLED_PIXELS,
    window: tuple[slice, slice] | None = None,
) -> float:
    """Fraction of usable pixels where the shifted frame's bitmap disagrees with the reference's, over the
    reference `window` (default: all of it), on about `budget` pixels (whole rows, evenly spaced)."""
    ref_bits, ref_keep = reference
    bits, keep = frame
    h, w = ref_bits.shape
    rows_in, cols_in = window or (slice(0, h), slice(0, w))
    y0, y1 = max(shift.dy, rows_in.start, 0), min(h + shift.dy, rows_in.stop, h)
    x0, x1 = max(shift.dx, cols_in.start, 0), min(w + shift.dx, cols_in.stop, w)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return 1.0
    step = max(1, int((y1 - y0) * (x1 - x0) / budget))
    ref_rows = slice(y0, y1, step)
    rows = slice(y0 - shift.dy, y1 - shift.dy, step)
    cols, ref_cols = slice(x0 - shift.dx, x1 - shift.dx), slice(x0, x1)
    usable = ref_keep[ref_rows, ref_cols] & keep[rows, cols]
    differ = np.logical_xor(ref_bits[ref_rows, ref_cols], bits[rows, cols])
    differ &= usable
    return int(np.count_nonzero(differ)) / max(int(np.count_nonzero(usable)), 1)


def find_shift(reference: np.ndarray, frame: np.ndarray, *, levels: int = DEFAULT_LEVELS) -> Shift:
    """Translation that lays `frame` on `reference`, both 8-bit grey images from `grey_levels`."""
    return _search(_BitmapPyramid(reference, levels), _BitmapPyramid(frame, levels))


def _search(reference: _BitmapPyramid, frame: _BitmapPyramid, budget: int = SAMPLED_PIXELS) -> Shift:
    best = Shift()
    for level in reversed(range(min(len(reference.levels), len(frame.levels)))):
        centre = Shift(best.dy * 2, best.dx * 2)
        candidates = [centre + Shift(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        errors = [_mismatch(reference.levels[level], frame.levels[level], c, budget) for c in candidates]
        best = candidates[int(np.argmin(errors))]
    return best


def _parabola_vertex(before: float, at: float, after: float) -> float:
    """Offset in (-0.5, 0.5) of the minimum of the parabola through three equally spaced errors."""
    curvature = before - 2.0 * at + after
    if curvature <= 0:
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def _tile_shift(
    reference: _BitmapPyramid, frame: _BitmapPyramid, window: tuple[slice, slice], start: Shift
) -> tuple[float, float] | None:
    """Sub-pixel shift (in full-resolution pixels) of one tile of the reference, searched coarse to fine on
    levels TILE_LEVELS - 1 down to 1 of the bitmap pyramids around `start`; None when the tile has too
    little texture, or matches too badly, to tell."""
    finest, coarsest = 1, TILE_LEVELS - 1
    best = start
    for level in range(coarsest, finest - 1, -1):
        scale = 2**level
        row_span, col_span = (slice(s.start // scale, s.stop // scale) for s in window)
        view = (row_span, col_span)
        if level == coarsest:
            centre = Shift(int(round(start.dy / scale)), int(round(start.dx / scale)))
        else:
            centre = Shift(best.dy * 2, best.dx * 2)
        candidates = [centre + Shift(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        errors = [
            _mismatch(reference.levels[level], frame.levels[level], c, TILE_SAMPLED_PIXELS, view) for c in candidates
        ]
        best = candidates[int(np.argmin(errors))]
    keep = reference.levels[finest][1][view]
    if np.count_nonzero(keep) < 0.25 * keep.size or min(errors) > 0.25:
        return None

    def error(offset: Shift) -> float:
        return _mismatch(reference.levels[finest], frame.levels[finest], best + offset, TILE_SAMPLED_PIXELS, view)

    at = error(Shift())
    dy = _parabola_vertex(error(Shift(-1, 0)), at, error(Shift(1, 0)))
    dx = _parabola_vertex(error(Shift(0, -1)), at, error(Shift(0, 1)))
    return (best.dy + dy) * 2**finest, (best.dx + dx) * 2**finest


def _with_rotation(reference: _BitmapPyramid, frame: _BitmapPyramid, shift: Shift, size: tuple[int, int]) -> Shift:
    """Refine a global shift with a rotation fitted to per-tile shifts; `shift` itself when none shows.

    Tiles are matched on the half-resolution bitmaps the global search already made, so this costs only
    comparisons; fitting 16 sub-pixel tile shifts still pins the rotation well below a pixel."""
    height, width = size
    if min(height, width) < TILE_GRID * MIN_TILE_SIDE or len(reference.levels) < TILE_LEVELS:
        return shift
    centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
    rows, targets = [], []
    for i in range(TILE_GRID):
        for j in range(TILE_GRID):
            ys = slice(i * height // TILE_GRID, (i + 1) * height // TILE_GRID)
            xs = slice(j * width // TILE_GRID, (j + 1) * width // TILE_GRID)
            found = _tile_shift(reference, frame, (ys, xs), shift)
            if found is None:
                continue
            y, x = (ys.start + ys.stop - 1) / 2.0 - centre_y, (xs.start + xs.stop - 1) / 2.0 - centre_x
            # small-angle model of the displacement at (y, x): (ty + theta x, tx - theta y)
            rows += [[1.0, 0.0, x], [0.0, 1.0, -y]]
            targets += list(found)
    design, target = np.array(rows).reshape(-1, 3), np.array(targets)
    keep = np.ones(len(target) // 2, dtype=bool)
    for tolerance in (*ROBUST_TOLERANCES_PX, None):  # refit, each time keeping the tiles that agree
        if np.count_nonzero(keep) < 6:  # too few tiles agree to trust a rotation
            return shift
        chosen = np.repeat(keep, 2)
        solution = np.linalg.lstsq(design[chosen], target[chosen], rcond=None)[0]
        if tolerance is not None:
            keep = np.abs(design @ solution - target).reshape(-1, 2).max(axis=1) <= tolerance
    ty, tx, theta = solution
    if abs(theta) * np.hypot(centre_y, centre_x) < MIN_ROTATION_PX:
        return shift
    return Shift(int(round(ty)), int(round(tx)), float(np.degrees(theta)))


def find_shifts(
    greys: Sequence[np.ndarray],
    reference: int,
    *,
    levels: int = DEFAULT_LEVELS,
    rotation: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[Shift]:
    """Shift of every frame onto greys[reference] (whose own shift is zero); inputs from `grey_levels`."""
    check(cancel)
    ref_pyramid = _BitmapPyramid(greys[reference], levels)
    shifts = []
    for index, grey in enumerate(greys):
        check(cancel)
        shift = Shift()
        if index != reference:
            pyramid = _BitmapPyramid(grey, levels)
            shift = _search(ref_pyramid, pyramid)
            if rotation:
                shift = _with_rotation(ref_pyramid, pyramid, shift, grey.shape)
        shifts.append(shift)
        progress((index + 1) / len(greys), "aligning")
    return shifts


def move(array: np.ndarray, shift: Shift, channel: int | None = None) -> np.ndarray:
    """`shift` applied to an (H, W) or (H, W, C) array (or just its `channel`), as a new contiguous array.

    Uncovered borders repeat the nearest edge (`covered` says which pixels are real). Pure translations
    copy pixels exactly; rotations resample bilinearly.
    """
    if shift.angle and min(array.shape[:2]) >= 2:
        return _rotate(array, shift, channel)
    return shift_frame(array if channel is None else array[..., channel], shift)


def _mapped_rows(shift: Shift, height: int, width: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Where aligned rows first..last-1 come from in the frame: (y, x) coordinates, float64."""
    theta = np.radians(shift.angle)
    centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
    y = np.arange(first, last, dtype=np.float64)[:, None] - centre_y
    x = np.arange(width, dtype=np.float64)[None, :] - centre_x
    source_y = centre_y + np.cos(theta) * y - np.sin(theta) * x - shift.dy
    source_x = centre_x + np.sin(theta) * y + np.cos(theta) * x - shift.dx
    return source_y, source_x


def _rotate(array: np.ndarray, shift: Shift, channel: int | None) -> np.ndarray:
    """Bilinear resampling for `move`, strip by strip (edge pixels repeat outside the frame)."""
    height, width = array.shape[:2]
    flat = np.ascontiguousarray(array).reshape(height * width, -1)
    columns = slice(None) if channel is None else channel
    out = np.empty(array.shape if channel is None else (height, width), dtype=array.dtype)
    for first in range(0, height, 64):
        last = min(first + 64, height)
        source_y, source_x = _mapped_rows(shift, height, width, first, last)
        row = np.clip(np.floor(source_y), 0, height - 2).astype(np.intp)
        col = np.clip(np.floor(source_x), 0, width - 2).astype(np.intp)
        fy = np.clip(source_y - row, 0.0, 1.0).astype(np.float32)
        fx = np.clip(source_x - col, 0.0, 1.0).astype(np.float32)
        if channel is None:
            fy, fx = fy[..., None], fx[..., None]
        index = row * width + col
        top = flat[index, columns].astype(np.float32)
        top += (flat[index + 1, columns] - top) * fx
        bottom = flat[index + width, columns].astype(np.float32)
        bottom += (flat[index + width + 1, columns] - bottom) * fx
        top += (bottom - top) * fy
        rows = out[first:last]
        rows[...] = (np.rint(top) if np.issubdtype(out.dtype, np.integer) else top).reshape(rows.shape)
    return out


def shift_frame(pixels: np.ndarray, shift: Shift) -> np.ndarray:
    """An integer translation of an (H, W) or (H, W, C) array, as a new contiguous array; uncovered borders
    repeat the nearest covered row or column (`covered` says which pixels are real)."""
    h, w = pixels.shape[:2]
    if abs(shift.dy) >= h or abs(shift.dx) >= w:
        raise ValueError(f"shift {shift} is larger than the {w}x{h} frame")
    top, bottom = max(shift.dy, 0), max(-shift.dy, 0)
    left, right = max(shift.dx, 0), max(-shift.dx, 0)
    out = np.empty(pixels.shape, dtype=pixels.dtype)
    out[top : h - bottom, left : w - right] = pixels[bottom : h - top, right : w - left]
    if top:
        out[:top] = out[top : top + 1]
    if bottom:
        out[h - bottom :] = out[h - bottom - 1 : h - bottom]
    if left:
        out[:, :left] = out[:, left : left + 1]
    if right:
        out[:, w - right :] = out[:, w - right - 1 : w - right]
    return out


def covered(shift: Shift, height: int, width: int) -> np.ndarray:
    """Bool (H, W) mask of the pixels a frame moved by `shift` really covers (not edge repeats)."""
    valid = np.zeros((height, width), dtype=bool)
    if not shift.angle:
        valid[max(shift.dy, 0) : height - max(-shift.dy, 0), max(shift.dx, 0) : width - max(-shift.dx, 0)] = True
        return valid
    for first in range(0, height, 256):
        last = min(first + 256, height)
        source_y, source_x = _mapped_rows(shift, height, width, first, last)
        valid[first:last] = (source_y >= 0) & (source_y <= height - 1) & (source_x >= 0) & (source_x <= width - 1)
    return valid


def common_window(shifts: Sequence[Shift], height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns every moved frame covers (for cropping instead of filling); a rotation widens the
    margins by how far it moves the frame's edges."""
    tilt = [int(np.ceil(abs(np.sin(np.radians(s.angle))) * max(height, width) / 2.0)) for s in shifts]
    top = max(max(s.dy + t for s, t in zip(shifts, tilt, strict=True)), 0)
    bottom = max(max(-s.dy + t for s, t in zip(shifts, tilt, strict=True)), 0)
    left = max(max(s.dx + t for s, t in zip(shifts, tilt, strict=True)), 0)
    right = max(max(-s.dx + t for s, t in zip(shifts, tilt, strict=True)), 0)
    return slice(top, height - bottom), slice(left, width - right)
