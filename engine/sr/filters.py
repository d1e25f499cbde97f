"""Filter refinement: learned linear filters, picked per pixel by its local edge structure, on top of a table.

Each of R, G and B is refined as a grey photo of its own; or, with ``luma`` (as RAISR does), only the
8-bit BT.601 luma of the table's output is filtered and its change added to all three channels, which
moves luma by exactly that much and leaves the colour differences as the table made them: one filtered
plane instead of three, a third of the cost, for about 0.1 dB less Y-PSNR (the channels' own edges,
which luma blurs together, pick better filters).

An SR table sees a few pixels at a time (SR-LUT: 2x2), so it cannot tell which way a longer edge runs.
This stage, after RAISR (Romano, Isidoro & Milanfar, IEEE TCI 2017), hashes each low-resolution pixel by
the structure tensor of its neighbourhood -- edge angle (blended between the two nearest of ``angles``
bins), strength and coherence (quantile bins) -- into a bucket, and each bucket holds one linear filter
per output sub-pixel over: the ``window`` x ``window`` low-resolution pixels, a constant, the table's
own r*r outputs for that pixel and the ring of table outputs just around them (which the neighbouring
pixels' table reads made). So the result is the table's output corrected by a filter that knows the
edge direction; copying the table's output is one of the filters it can learn.

The filters are fitted in closed form (`engine.sr.filter_fit`: ridge least squares per bucket, shrunk
towards one global filter) on every pixel of the training photos in all 8 orientations and several
sub-pixel phases: minutes on a CPU, no gradient descent.

Arithmetic is exact, so tiled and untiled runs agree bit for bit: features are 8-bit integers, filters
are stored as integers scaled by 2^FILTER_BITS, the angle blend weights are integers summing to
BLEND_WEIGHT, and every sum stays far below 2^53, so float64 matrix products (in any BLAS order) are
exact; the output is rounded once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

FILTER_BITS = 14  # filters are stored as round(filter * 2^14)
BLEND_WEIGHT = 16  # the two nearest angle bins get integer weights summing to 16
STRENGTH_QUANTILES = (0.35, 0.65, 0.85)  # 4 strength bins: flat, weak, medium, strong edges


@dataclass(frozen=True)
class FilterConfig:
    """How the refinement is hashed and fitted (recorded in the table's JSON as ``refinement``)."""

    window: int = 7  # low-resolution window side the filters read
    angles: int = 16
    coherence_bins: int = 3
    sigma: float = 1.5  # Gaussian weighting of the structure tensor, low-resolution pixels
    ridge: float = 1.0  # shrinkage towards the global filter (features in [0, 1] units)
    phases: int = 2  # high-resolution crop offsets per axis used for training pairs
    sample_budget: int = 200_000_000  # low-resolution plane pixels read over all training views (~5-10 min)
    luma: bool = False  # refine only the luma of RGB (see the module's docstring), not each channel

    @property
    def strength_bins(self) -> int:
        return len(STRENGTH_QUANTILES) + 1

    @property
    def buckets(self) -> int:
        return self.angles * self.strength_bins * self.coherence_bins

    @property
    def radius(self) -> int:
        """Half-width of the Gaussian that smooths the structure tensor."""
        return int(3 * self.sigma + 0.5)

    @property
    def halo(self) -> int:
        """Low-resolution pixels a strip needs on each side: the window, or the gradients + Gaussian."""
        return max(self.window // 2, self.radius + 1)


@dataclass
class FilterBank:
    """Fitted filters: (buckets, features, r*r) integers in float64, and the learnt bin edges."""

    config: FilterConfig
    strength_edges: np.ndarray
    coherence_edges: np.ndarray
    filters: np.ndarray

    def feature_count(self, scale: int) -> int:
        """Inputs of each filter: the window, the constant, the table's r x r outputs and their ring."""
        return self.config.window**2 + 1 + (scale + 2) ** 2

    def meta(self) -> dict:
        return asdict(self.config)

    @cached_property
    def next_angle(self) -> np.ndarray:
        """For every bucket, the bucket of the next angle bin with the same strength and coherence."""
        per_angle = self.config.strength_bins * self.config.coherence_bins
        return (np.arange(self.config.buckets) + per_angle) % self.config.buckets

    @cached_property
    def blend_pairs(self) -> np.ndarray:
        """(buckets, 2 r*r, features): per bucket, its filters F (transposed) above the step to the next angle
        bin's G - F, both divided by BLEND_WEIGHT * 2^FILTER_BITS, so that the blend ((16 - w) F + w G) / 2^18
        of a pixel's features x is F'x + w (G - F)'x. Integers times a power of two: the products are exact."""
        lower, upper = self.filters, self.filters[self.next_angle]
        unit = 1.0 / (BLEND_WEIGHT << FILTER_BITS)
        pairs = np.concatenate([lower * (BLEND_WEIGHT * unit), (upper - lower) * unit], axis=2)
        return np.ascontiguousarray(pairs.transpose(0, 2, 1))


def _gaussian_taps(config: FilterConfig) -> np.ndarray:
    offsets = np.arange(-config.radius, config.radius + 1)
    taps = np.exp(-0.5 * (offsets / config.sigma) ** 2)
    return taps / taps.sum()


def _smooth(values: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of a 2-D array by `taps` along both axes (fixed summation order)."""
    n = len(taps)
    rows = _weighted_sum([values[i : values.shape[0] - n + 1 + i] for i in range(n)], taps)
    return _weighted_sum([rows[:, i : rows.shape[1] - n + 1 + i] for i in range(n)], taps)


def _weighted_sum(views: list[np.ndarray], taps: np.ndarray) -> np.ndarray:
    """taps[0] views[0] + taps[1] views[1] + ..., added left to right (the same roundings every run), in place."""
    total = views[0] * taps[0]
    term = np.empty_like(total)
    for view, tap in zip(views[1:], taps[1:], strict=True):
        np.multiply(view, tap, out=term)
        total += term
    return total


def structure(padded: np.ndarray, halo: int, config: FilterConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle position in bins, strength, coherence) of every interior pixel of a `halo`-padded plane.

    Angle position: the dominant gradient direction in [0, pi) measured in bins, shifted by half a bin
    so that floor() and floor() + 1 are the two nearest bin centres."""
    r = config.radius
    inner = padded[halo - r - 1 : padded.shape[0] - halo + r + 1, halo - r - 1 : padded.shape[1] - halo + r + 1]
    inner = inner.astype(np.float64)
    gy = (inner[2:, 1:-1] - inner[:-2, 1:-1]) * 0.5
    gx = (inner[1:-1, 2:] - inner[1:-1, :-2]) * 0.5
    taps = _gaussian_taps(config)
    a, b, c = _smooth(gx * gx, taps), _smooth(gx * gy, taps), _smooth(gy * gy, taps)
    half_trace = (a + c) * 0.5
    spread = np.sqrt(np.maximum(half_trace * half_trace - (a * c - b * b), 0.0))
    root1 = np.sqrt(half_trace + spread)
    root2 = np.sqrt(np.maximum(half_trace - spread, 0.0))
    theta = 0.5 * np.arctan2(2.0 * b, a - c)  # in (-pi/2, pi/2]
    position = (theta + np.pi / 2) / np.pi * config.angles - 0.5
    coherence = (root1 - root2) / (root1 + root2 + 1e-9)
    return position, root1, coherence


def assignments(padded: np.ndarray, halo: int, bank: FilterBank) -> tuple[np.ndarray, np.ndarray]:
    """(bucket of the lower of the two nearest angle bins, integer weight 0..16 of the upper one) of every
    interior pixel, flattened. The upper bin's bucket is `bank.next_angle[bucket]`."""
    config = bank.config
    position, strength, coherence = structure(padded, halo, config)
    rest = np.searchsorted(bank.strength_edges, strength) * config.coherence_bins
    rest += np.searchsorted(bank.coherence_edges, coherence)
    low = np.floor(position)
    upper_weight = np.floor((position - low) * BLEND_WEIGHT + 0.5).astype(np.int64)
    bucket = (low.astype(np.int64) % config.angles) * (config.strength_bins * config.coherence_bins) + rest
    return bucket.ravel(), upper_weight.ravel()


def bucket_runs(buckets: np.ndarray, count: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Order that groups equal buckets, and (bucket, start, stop) of each non-empty group in that order."""
    order = np.argsort(buckets, kind="stable")
    bounds = np.searchsorted(buckets[order], np.arange(count + 1))
    return order, [(int(b), int(bounds[b]), int(bounds[b + 1])) for b in np.flatnonzero(np.diff(bounds))]


def features(padded: np.ndarray, halo: int, window: int, ringed: np.ndarray, scale: int) -> np.ndarray:
    """(window^2 + 1 + (r + 2)^2, pixels) uint8, one row per feature: the window's values, 255 (the constant),
    the table's r*r outputs for the pixel (row-major), then the ring of output pixels around that r x r block.
    Feature-major, so every feature is written as one contiguous run.

    `padded` is one `halo`-padded low-resolution plane; `ringed` is the table's high-resolution output for
    its interior with one more output pixel on every side (`ring_around`)."""
    h, w = (ringed.shape[0] - 2) // scale, (ringed.shape[1] - 2) // scale
    start = halo - window // 2
    x = np.empty((window * window + 1 + (scale + 2) ** 2, h, w), np.uint8)
    for i in range(window * window):
        dy, dx = divmod(i, window)
        x[i] = padded[start + dy : start + dy + h, start + dx : start + dx + w]
    x[window * window] = 255
    block = [(dy, dx) for dy in range(scale) for dx in range(scale)]
    ring = [(dy, dx) for dy in range(-1, scale + 1) for dx in range(-1, scale + 1) if (dy, dx) not in block]
    for i, (dy, dx) in enumerate(block + ring, window * window + 1):
        x[i] = ringed[1 + dy : 1 + dy + h * scale : scale, 1 + dx : 1 + dx + w * scale : scale]
    return x.reshape(len(x), h * w)


def ring_around(blocks: np.ndarray, scale: int, above: bool, below: bool) -> np.ndarray:
    """The high-resolution image of (rows, w, C, r*r) table outputs with a 1-pixel ring: from the first
    and last rows' blocks where those are neighbours of the strip (`above`, `below`), else mirrored,
    like the sides."""
    rows, w, channels = blocks.shape[:3]
    image = blocks.reshape(rows, w, channels, scale, scale).transpose(0, 3, 1, 4, 2)
    image = image.reshape(rows * scale, w * scale, channels)
    image = image[scale - 1 :] if above else np.concatenate([image[1:2], image])
    image = image[: image.shape[0] - scale + 1] if below else np.concatenate([image, image[-2:-1]])
    return np.pad(image, ((0, 0), (1, 1), (0, 0)), mode="reflect")


LUMA_WEIGHTS = (299, 587, 114)  # BT.601, out of 1000


def luma(pixels: np.ndarray) -> np.ndarray:
    """8-bit BT.601 luma (integer, exactly rounded) of (..., 3) 8-bit RGB -> (...) uint8."""
    r, g, b = (pixels[..., i].astype(np.int32) * weight for i, weight in enumerate(LUMA_WEIGHTS))
    return ((r + g + b + 500) // 1000).astype(np.uint8)


def refine_planes(pixels: np.ndarray, config: FilterConfig) -> np.ndarray:
    """The (H, W, P) planes of (H, W, C) pixels the filters refine: with `config.luma` the luma of RGB (P = 1),
    else every channel on its own."""
    return luma(pixels)[:, :, None] if config.luma and pixels.shape[2] == 3 else pixels


def refine_table_output(
    padded: np.ndarray, halo: int, blocks: np.ndarray, ringed: np.ndarray, bank: FilterBank, scale: int
) -> np.ndarray:
    """Refined (h, w, C, r*r) uint8 table output of a strip: `blocks` is the table's, `ringed` the same with
    its ring (`ring_around`), `padded` the strip's `refine_planes` with a `halo`.

    Refining luma, its change is added to all three channels; else every channel is refined on its own."""
    if padded.shape[2] == blocks.shape[2]:
        return refine(padded, halo, ringed, bank, scale)
    table_luma = luma(blocks.transpose(0, 1, 3, 2))  # (h, w, r*r)
    refined = refine(padded, halo, luma(ringed)[:, :, None], bank, scale)[:, :, 0]
    change = refined.astype(np.int16) - table_luma
    return np.clip(blocks + change[:, :, None, :], 0, 255).astype(np.uint8)


def refine(padded: np.ndarray, halo: int, ringed: np.ndarray, bank: FilterBank, scale: int) -> np.ndarray:
    """Refined (h, w, C, r*r) uint8 sub-pixels of a strip: `padded` is its (h + 2 halo, w + 2 halo, C)
    8-bit neighbourhood, `ringed` the table's output for it from `ring_around`.

    Pixels of all channels are grouped by bucket (one sort); each group meets its bucket's filters and
    the next angle bin's stacked in one product; the integer weights blend the two."""
    channels = range(padded.shape[2])
    per_channel = [assignments(padded[:, :, c], halo, bank) for c in channels]
    lower, upper = (np.concatenate([assigned[i] for assigned in per_channel]) for i in (0, 1))
    window = bank.config.window
    x = np.concatenate([features(padded[:, :, c], halo, window, ringed[:, :, c], scale) for c in channels], axis=1)
    order, runs = bucket_runs(lower, bank.config.buckets)
    x, weight = np.take(x, order, axis=1), upper[order].astype(np.float64)
    r2 = scale * scale
    values = np.empty((r2, x.shape[1]), np.uint8)
    pairs = bank.blend_pairs
    for bucket, start, stop in runs:  # 8-bit columns widened per group: the strip's float copy would be 8x larger
        both = pairs[bucket] @ x[:, start:stop].astype(np.float64)
        lower, step = both[:r2], both[r2:]
        step *= weight[start:stop]
        lower += step
        lower += 0.5  # rounded half up: every sum is exact, and truncating a value clipped to [0, 255] is its floor
        values[:, start:stop] = np.clip(lower, 0, 255, out=lower)
    unsorted = np.empty_like(order)
    unsorted[order] = np.arange(len(order))
    h, w = (ringed.shape[0] - 2) // scale, (ringed.shape[1] - 2) // scale
    return np.take(values, unsorted, axis=1).reshape(r2, len(channels), h, w).transpose(2, 3, 1, 0)
