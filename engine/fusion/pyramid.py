"""Gaussian/Laplacian pyramids with exact sizes at odd dimensions, and Laplacian-pyramid blending.

The 5-tap binomial kernel [1, 4, 6, 4, 1] / 16 is applied separably and only at the kept samples
(down) or polyphase (up), so no work is spent on samples that are thrown away or known to be zero.
A level of size n has a parent of size ceil(n / 2); up-sampling takes the target size explicitly, so
collapse reproduces every odd size exactly. Collapse uses the very same `upsample` as the build, which
makes build + collapse the identity up to float rounding (the pitfall seed 004 describes).
Everything stays float32; arrays are (H, W) or (H, W, C).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from engine.jobs import CancelToken, check

MIN_LEVEL_SIZE = 4


def _axis_slice(array: np.ndarray, axis: int, start: int, stop: int | None, step: int = 1) -> np.ndarray:
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop, step)
    return array[tuple(index)]


def _downsample_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Blur with [1 4 6 4 1]/16 along `axis` (mirror borders) and keep every other sample: n -> ceil(n/2)."""
    n = x.shape[axis]
    m = (n + 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (2, 2)
    p = np.pad(x, pad, mode="reflect") if n >= 3 else np.pad(x, pad, mode="symmetric")
    span = 2 * (m - 1) + 1
    taps = [_axis_slice(p, axis, t, t + span, 2) for t in range(5)]
    out = np.add(taps[0], taps[4])
    tmp = np.add(taps[1], taps[3])
    tmp *= 4.0
    out += tmp
    np.multiply(taps[2], 6.0, out=tmp)
    out += tmp
    out *= 1.0 / 16.0
    return out


def _upsample_axis(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Inverse companion of `_downsample_axis`: zero-insert to length n and blur with [1 4 6 4 1]/8.

    Polyphase form: even outputs are (a + 6b + c) / 8 of three neighbours, odd outputs (b + c) / 2.
    """
    m = x.shape[axis]
    if n not in (2 * m - 1, 2 * m):
        raise ValueError(f"cannot up-sample {m} samples to {n}")
    pad = [(0, 0)] * x.ndim
    pad[axis] = (1, 1)
    p = np.pad(x, pad, mode="reflect" if m >= 2 else "edge")
    left, centre, right = (_axis_slice(p, axis, t, t + m) for t in range(3))
    even = np.add(left, right)
    even += np.multiply(centre, 6.0)
    even *= 1.0 / 8.0
    n_odd = n // 2
    odd = np.add(_axis_slice(centre, axis, 0, n_odd), _axis_slice(right, axis, 0, n_odd))
    odd *= 0.5
    shape = list(x.shape)
    shape[axis] = n
    out = np.empty(shape, dtype=np.float32)
    _axis_slice(out, axis, 0, None, 2)[...] = even
    _axis_slice(out, axis, 1, None, 2)[...] = odd
    return out


def downsample(image: np.ndarray) -> np.ndarray:
    """One Gaussian-pyramid step: (H, W[, C]) -> (ceil(H/2), ceil(W/2)[, C]), float32."""
    x = np.asarray(image, dtype=np.float32)
    return _downsample_axis(_downsample_axis(x, 0), 1)


def upsample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Expand a pyramid level to `size` = (H, W) of the finer level (each 2h-1 or 2h)."""
    x = np.asarray(image, dtype=np.float32)
    return _upsample_axis(_upsample_axis(x, size[0], 0), size[1], 1)


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
    for _ in level_sizes(*pyramid[0].shape[:2], levels)[1:]:
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: np.ndarray, levels: int | None = None) -> list[np.ndarray]:
    """Band-pass levels G_l - up(G_l+1), with the coarsest Gaussian level last."""
    gaussian = gaussian_pyramid(image, levels)
    bands = [g - upsample(coarser, g.shape[:2]) for g, coarser in zip(gaussian, gaussian[1:], strict=False)]
    return bands + [gaussian[-1]]


def collapse(pyramid: Sequence[np.ndarray]) -> np.ndarray:
    """Rebuild the image from a Laplacian pyramid (inverse of `laplacian_pyramid`)."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = upsample(image, band.shape[:2])
        image += band
    return image


def blend(
    count: int,
    frame: Callable[[int], np.ndarray],
    weight: Callable[[int], np.ndarray],
    *,
    levels: int | None = None,
    workers: int = 1,
    on_frame_done: Callable[[], None] | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Sum over frames of (Gaussian pyramid of weight) x (Laplacian pyramid of frame), collapsed.

    `frame(k)` gives an (H, W, C) float32 image and `weight(k)` its (H, W) normalised weight map; they
    are fetched one at a time, so memory holds the blended pyramid plus the pyramids of `workers`
    frames, level by level (only two levels of a frame's pyramids are alive at once).
    """
    if count < 1:
        raise ValueError("blend needs at least one frame")
    lock = threading.Lock()
    blended: list[np.ndarray | None] = []
    sizes: list[tuple[int, int]] = []

    def accumulate(level: int, contribution: np.ndarray) -> None:
        with lock:
            if blended[level] is None:
                blended[level] = contribution
            else:
                blended[level] += contribution

    def add_frame(k: int) -> None:
        check(cancel)
        image, w = frame(k), weight(k)
        for level in range(len(sizes)):
            if level + 1 < len(sizes):
                coarser_image, coarser_w = downsample(image), downsample(w)
                band = upsample(coarser_image, sizes[level])
                np.subtract(image, band, out=band)
            else:
                coarser_image = coarser_w = None
                band = image.copy() if level == 0 else image
            band *= w[..., None]
            accumulate(level, band)
            image, w = coarser_image, coarser_w
            check(cancel)
        if on_frame_done is not None:
            on_frame_done()

    first = frame(0)
    sizes.extend(level_sizes(*first.shape[:2], levels))
    del first
    blended.extend([None] * len(sizes))
    if workers > 1 and count > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, count)) as pool:
            for future in [pool.submit(add_frame, k) for k in range(count)]:
                future.result()
    else:
        for k in range(count):
            add_frame(k)
    return collapse([b for b in blended if b is not None])
