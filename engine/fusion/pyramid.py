"""Gaussian/Laplacian pyramids with exact sizes at odd dimensions, and Laplacian-pyramid blending.

The 5-tap binomial kernel [1, 4, 6, 4, 1] / 16 is applied separably and only at the kept samples
(down) or polyphase (up), so no work is spent on samples that are thrown away or known to be zero.
A level of size n has a parent of size ceil(n / 2); up-sampling takes the target size explicitly, so
collapse reproduces every odd size exactly. Collapse uses the very same `upsample` as the build, which
makes build + collapse the identity up to float rounding (the pitfall seed 004 describes).
Everything stays float32. Arrays are (H, W) or (C, H, W): the pyramid works on the last two axes, so
every filter runs along long contiguous or simply strided rows (blending works one colour plane at a time).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.jobs import CancelToken, ProgressFn, check, no_progress

STRIP_ROWS = 64  # rows per cache-sized strip of work
MIN_LEVEL_SIZE = 2  # halve until the smaller side is 2 or 3: deep pyramids blend tones most globally


def _axis_slice(array: np.ndarray, axis: int, start: int, stop: int | None, step: int = 1) -> np.ndarray:
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop, step)
    return array[tuple(index)]


def _sample(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    return _axis_slice(array, axis, index, index + 1)


def _mirror(index: int, n: int) -> int:
    """Reflect an index past either end without repeating the edge sample (reflect-101)."""
    if index < 0:
        index = -index
    if index > n - 1:
        index = 2 * (n - 1) - index
    return min(max(index, 0), n - 1)


def _coarse_neighbour(index: int, m: int) -> int:
    """Coarse sample i sits on fine sample 2i: before the first one the signal mirrors around it, after
    the last one (fine samples 2m-1 and beyond) it continues flat. Mirroring there too would bend the
    last fine sample back towards the interior, which on the 2- and 3-sample top levels tilts whole images.
    """
    return -index if index < 0 else min(index, m - 1)


_DOWN_TAPS = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16


def _downsample_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Blur with [1 4 6 4 1]/16 along `axis` (mirrored borders) and keep every other sample: n -> ceil(n/2).

    The interior is computed from strided views of x (no padded copy); the one or two border samples
    whose taps cross an edge are computed alone.
    """
    n = x.shape[axis]
    m = (n + 1) // 2
    shape = list(x.shape)
    shape[axis] = m
    out = np.empty(shape, dtype=np.float32)
    last_inner = (n - 3) // 2  # the last output whose five taps all lie inside
    if last_inner >= 1:
        taps = [_axis_slice(x, axis, t, t + 2 * last_inner - 1, 2) for t in range(5)]
        inner = _axis_slice(out, axis, 1, last_inner + 1)
        np.add(taps[0], taps[4], out=inner)
        tmp = np.add(taps[1], taps[3])
        tmp *= 4.0
        inner += tmp
        np.multiply(taps[2], 6.0, out=tmp)
        inner += tmp
        inner *= 1.0 / 16.0
    for i in [0, *range(max(last_inner, 0) + 1, m)]:
        border = sum(_sample(x, axis, _mirror(2 * i + t - 2, n)) * w for t, w in enumerate(_DOWN_TAPS))
        _sample(out, axis, i)[...] = border
    return out


def _upsample_axis(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Companion of `_downsample_axis`: zero-insert to length n (2m-1 or 2m) and blur with [1 4 6 4 1]/8.

    Polyphase form, written straight into the output: even samples (x[i-1] + 6 x[i] + x[i+1]) / 8,
    odd samples (x[i] + x[i+1]) / 2.
    """
    m = x.shape[axis]
    if n not in (2 * m - 1, 2 * m):
        raise ValueError(f"cannot up-sample {m} samples to {n}")
    shape = list(x.shape)
    shape[axis] = n
    out = np.empty(shape, dtype=np.float32)
    even, odd = _axis_slice(out, axis, 0, None, 2), _axis_slice(out, axis, 1, None, 2)
    if m >= 3:
        inner = _axis_slice(even, axis, 1, m - 1)
        np.add(_axis_slice(x, axis, 0, m - 2), _axis_slice(x, axis, 2, m), out=inner)
        inner *= 0.125
        inner += _axis_slice(x, axis, 1, m - 1) * np.float32(0.75)
    for i in {0, m - 1}:
        before, after = min(_coarse_neighbour(i - 1, m), m - 1), _coarse_neighbour(i + 1, m)
        outer = _sample(x, axis, before) + _sample(x, axis, after)
        _sample(even, axis, i)[...] = outer * np.float32(0.125) + _sample(x, axis, i) * np.float32(0.75)
    pairs = min(n // 2, m - 1)
    if pairs > 0:
        inner = _axis_slice(odd, axis, 0, pairs)
        np.add(_axis_slice(x, axis, 0, pairs), _axis_slice(x, axis, 1, pairs + 1), out=inner)
        inner *= 0.5
    if n // 2 == m:  # the last odd sample lies past the last coarse one
        _sample(odd, axis, m - 1)[...] = _sample(x, axis, m - 1)
    return out


def downsample(image: np.ndarray) -> np.ndarray:
    """One Gaussian-pyramid step on the last two axes: (..., H, W) -> (..., ceil(H/2), ceil(W/2)), float32.

    Done in strips of output rows (each reading its 2 rows of context), so both passes run in cache.
    """
    x = np.asarray(image, dtype=np.float32)
    n = x.shape[-2]
    m = (n + 1) // 2
    out = np.empty((*x.shape[:-2], m, (x.shape[-1] + 1) // 2), dtype=np.float32)
    for first in range(0, m, STRIP_ROWS):
        last = min(first + STRIP_ROWS, m)
        top, bottom = max(2 * first - 2, 0), min(2 * last + 1, n)  # input rows: even start, 2 rows of context
        rows = _downsample_axis(x[..., top:bottom, :], -2)[..., first - top // 2 : last - top // 2, :]
        out[..., first:last, :] = _downsample_axis(rows, -1)
    return out


def _upsampled_strips(x: np.ndarray, size: tuple[int, int]) -> Iterator[tuple[slice, np.ndarray]]:
    """`upsample(x, size)` piece by piece: (rows of the result, those rows), each expanded from the few
    coarse rows it needs, so a caller can use every piece while it is still in cache."""
    m, n = x.shape[-2], size[0]
    if n not in (2 * m - 1, 2 * m):
        raise ValueError(f"cannot up-sample {m} rows to {n}")
    for first in range(0, n, 2 * STRIP_ROWS):
        last = min(first + 2 * STRIP_ROWS, n)
        top, bottom = max(first // 2 - 1, 0), min((last - 1) // 2 + 2, m)  # coarse rows, 1 row of context
        finer = n - 2 * top if bottom == m else 2 * (bottom - top)
        rows = _upsample_axis(x[..., top:bottom, :], finer, -2)[..., first - 2 * top : last - 2 * top, :]
        yield slice(first, last), _upsample_axis(rows, size[1], -1)


def upsample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Expand a pyramid level to `size` = (H, W) of the finer level (each 2h-1 or 2h), last two axes."""
    x = np.asarray(image, dtype=np.float32)
    out = np.empty((*x.shape[:-2], *size), dtype=np.float32)
    for rows, piece in _upsampled_strips(x, size):
        out[..., rows, :] = piece
    return out


def level_sizes(height: int, width: int, levels: int | None = None) -> list[tuple[int, int]]:
    """Sizes of every level, finest first; by default as deep as the smaller side allows."""
    sizes = [(height, width)]
    while (levels is None or len(sizes) < levels) and min(sizes[-1]) >= 2 * MIN_LEVEL_SIZE:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


def gaussian_pyramid(image: np.ndarray, levels: int | None = None) -> list[np.ndarray]:
    """Successively blurred and halved copies, finest (the input as float32) first."""
    pyramid = [np.asarray(image, dtype=np.float32)]
    height, width = pyramid[0].shape[-2:]
    for _ in level_sizes(height, width, levels)[1:]:
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: np.ndarray, levels: int | None = None) -> list[np.ndarray]:
    """Band-pass levels G_l - up(G_l+1), with the coarsest Gaussian level last."""
    gaussian = gaussian_pyramid(image, levels)
    bands = [g - upsample(coarser, g.shape[-2:]) for g, coarser in zip(gaussian, gaussian[1:], strict=False)]
    return bands + [gaussian[-1]]


def collapse(pyramid: Sequence[np.ndarray]) -> np.ndarray:
    """Rebuild the image from a Laplacian pyramid (inverse of `laplacian_pyramid`); reuses the band arrays."""
    image = np.asarray(pyramid[-1], dtype=np.float32)
    for band in reversed(pyramid[:-1]):
        for rows, piece in _upsampled_strips(image, band.shape[-2:]):
            band[..., rows, :] += piece
        image = band
    return image


def _add_weighted_bands(image: np.ndarray, weights: Sequence[np.ndarray], blended: Sequence[np.ndarray]) -> None:
    """blended[l] += weights[l] * (Laplacian level l of image), one level and one strip of rows at a time."""
    for level, weight in enumerate(weights):
        if level + 1 == len(weights):
            blended[level] += weight * image
            return
        coarser = downsample(image)
        for rows, piece in _upsampled_strips(coarser, weight.shape):
            np.subtract(image[rows], piece, out=piece)
            piece *= weight[rows]
            blended[level][rows] += piece
        image = coarser


def blend(
    size: tuple[int, int],
    frames: int,
    channels: int,
    plane: Callable[[int, int], np.ndarray],
    weight: Callable[[int], np.ndarray],
    *,
    levels: int | None = None,
    workers: int = 1,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Sum over frames of (Gaussian pyramid of weight) x (Laplacian pyramid of frame), collapsed: (H, W, C).

    `plane(k, c)` gives channel c of frame k as an (H, W) float32 array, `weight(k)` frame k's normalised
    (H, W) weight map. Work is split by channel: each task sums one channel over all frames (in frame
    order, so results do not depend on thread timing) and collapses it; the weight pyramids are built
    once, first. Memory: the weight pyramids, plus per running task one channel's blended pyramid and
    the two levels of a frame's pyramid being worked on.
    """
    if frames < 1:
        raise ValueError("blend needs at least one frame")
    depth = len(level_sizes(*size, levels))
    out = np.empty((*size, channels), dtype=np.float32)
    lock = threading.Lock()
    done = [0]
    units = frames * (channels + 1)

    def step(message: str) -> None:
        with lock:
            done[0] += 1
            fraction = done[0] / units
        progress(fraction, message)

    def weight_pyramid(k: int) -> list[np.ndarray]:
        check(cancel)
        pyramid = gaussian_pyramid(weight(k), depth)
        step("blending")
        return pyramid

    def blend_channel(c: int) -> None:
        blended = [np.zeros_like(w) for w in weight_pyramids[0]]
        for k in range(frames):
            check(cancel)
            _add_weighted_bands(plane(k, c), weight_pyramids[k], blended)
            step("blending")
        out[..., c] = collapse(blended)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        weight_pyramids = list(pool.map(weight_pyramid, range(frames)))
        list(pool.map(blend_channel, range(channels)))
    return out
