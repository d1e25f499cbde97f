"""Fit the filter refinement (`engine.sr.filters`) of a table in closed form, on photos.

Ridge least squares per bucket, shrunk towards one global filter, over every pixel of the training
photos' planes in all 8 orientations and ``phases``^2 sub-pixel offsets: each channel as a grey photo
of its own, or with ``luma`` the luma of the RGB photo (`engine.sr.filters.refine_planes`). The table's
own output (its ring included) is a feature, so the table runs here through the same numpy inference a
user's photo takes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.sr.filters import (
    BLEND_WEIGHT,
    FILTER_BITS,
    LUMA_WEIGHTS,
    STRENGTH_QUANTILES,
    FilterBank,
    FilterConfig,
    assignments,
    bucket_runs,
    features,
    refine_planes,
    structure,
)
from engine.sr.infer import SRTable, pad_sides, upscale_uint8
from engine.sr.resize import downscale


def _blocks(plane: np.ndarray, scale: int) -> np.ndarray:
    """(rH, rW) -> (H, W, r*r): each low-resolution pixel's sub-pixels, row-major."""
    h, w = plane.shape[0] // scale, plane.shape[1] // scale
    return plane.reshape(h, scale, w, scale).transpose(0, 2, 1, 3).reshape(h, w, scale * scale)


def training_pairs(photos: Sequence[np.ndarray], scale: int, phases: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(LR uint8, HR float in [0, 1]) (H, W, C) pairs of every photo in its 8 orientations and phases^2 crop
    offsets."""
    offsets = [round(i * scale / phases) for i in range(phases)]
    for photo in photos:
        for k in range(4):
            for flip in (False, True):
                oriented = np.rot90(photo, k)
                oriented = oriented[:, ::-1] if flip else oriented
                for oy in offsets:
                    for ox in offsets:
                        hr = oriented[oy:, ox:]
                        hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
                        # one channel as a plane: the same float products as a grey photo's downscale
                        lr = downscale(hr[:, :, 0], scale)[:, :, None] if hr.shape[2] == 1 else downscale(hr, scale)
                        yield np.round(lr * 255.0).astype(np.uint8), hr


def target_planes(hr: np.ndarray, config: FilterConfig) -> np.ndarray:
    """What the refined planes (`refine_planes`) should be: the luma, unrounded, of RGB in [0, 1] when
    refining luma, else every channel."""
    if not (config.luma and hr.shape[2] == 3):
        return hr
    return (hr @ (np.array(LUMA_WEIGHTS) / 1000.0))[:, :, None]


def photo_channels(photo: np.ndarray) -> np.ndarray:
    """A float photo as (H, W, C): grey as one channel, RGB(A) as its RGB."""
    photo = np.asarray(photo, np.float32)
    return photo[:, :, None] if photo.ndim == 2 else photo[:, :, :3]


def within_budget(photos: Sequence[np.ndarray], scale: int, config: FilterConfig, smallest: int) -> list[np.ndarray]:
    """`photos`, or random crops of them (the same share of each, sides at least `smallest`) when reading
    every view of them would exceed `config.sample_budget` low-resolution plane pixels (each refined plane's
    pixel counts: an RGB pixel thrice, once with `config.luma`): a big folder of photos then fits in minutes,
    not hours."""
    views = 8 * config.phases**2
    planes = [1 if config.luma and photo.shape[2] == 3 else photo.shape[2] for photo in photos]
    total = sum(photo.shape[0] * photo.shape[1] * n for photo, n in zip(photos, planes, strict=True)) * views / scale**2
    if total <= config.sample_budget:
        return list(photos)
    share = np.sqrt(config.sample_budget / total)
    rng = np.random.default_rng(0)
    crops = []
    for photo in photos:
        h, w = (max(smallest, int(side * share)) for side in photo.shape[:2])
        y, x = rng.integers(0, photo.shape[0] - h + 1), rng.integers(0, photo.shape[1] - w + 1)
        crops.append(photo[y : y + h, x : x + w])
    return crops


def _padded(lr: np.ndarray, config: FilterConfig) -> np.ndarray:
    """The planes the filters refine of an (H, W, C) 8-bit image, padded by the halo -> (H + 2 halo, ..., P)."""
    return pad_sides(refine_planes(lr, config), config.halo)


def fit_filters(
    photos: Sequence[np.ndarray],
    table: SRTable,
    config: FilterConfig | None = None,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> FilterBank:
    """Fit a refinement of `table`'s own output (any refinement it has is ignored) on float `photos` in
    [0, 1] (RGB or grey), in closed form (`config`: FilterConfig() when None)."""
    config = config or FilterConfig()
    scale, halo = table.scale, config.halo
    table = replace(table, refinement=None)
    smallest = scale * (halo + 1)
    photos = [photo_channels(p) for p in photos if min(p.shape[:2]) >= smallest]
    if not config.luma:  # every channel is a grey photo of its own, with crops of its own
        photos = [photo[:, :, c : c + 1] for photo in photos for c in range(photo.shape[2])]
    if not photos:
        raise InputError(f"no photo of at least {smallest} pixels a side to fit filters on")
    photos = within_budget(photos, scale, config, smallest)
    stats = [
        structure(padded[:, :, c], halo, config)
        for padded in (_padded(lr, config) for lr, _ in training_pairs(photos, scale, 1))
        for c in range(padded.shape[2])
    ]
    strength = np.concatenate([s.ravel() for _, s, _ in stats])
    coherence = np.concatenate([c.ravel() for _, _, c in stats])
    bank = FilterBank(  # the hashing first; the filters come last
        config,
        np.quantile(strength, STRENGTH_QUANTILES),
        np.quantile(coherence, np.linspace(0, 1, config.coherence_bins + 1)[1:-1]),
        np.zeros(0),
    )
    sums = _NormalEquations(config.buckets, bank.feature_count(scale), scale * scale)
    total = len(photos) * 8 * config.phases**2
    for done, (lr, hr) in enumerate(training_pairs(photos, scale, config.phases), 1):
        check(cancel)
        padded = _padded(lr, config)
        upscaled = refine_planes(upscale_uint8(lr, table, workers=1), config)
        targets = target_planes(hr, config)
        for c in range(padded.shape[2]):
            ringed = np.pad(upscaled[:, :, c], 1, mode="reflect")
            x = features(padded[:, :, c], halo, config.window, ringed, scale).T
            y = _blocks(targets[:, :, c], scale).reshape(len(x), -1)
            lower, upper = assignments(padded[:, :, c], halo, bank)
            # every pixel counts in its two angle bins' buckets, with its blend weights
            buckets = np.concatenate([lower, bank.next_angle[lower]])
            sums.add(x, y, buckets, np.concatenate([BLEND_WEIGHT - upper, upper]))
        progress(0.95 * done / total, f"fitting filters: {done}/{total} training views")
    gram, moment = sums.totals()
    ridge = config.ridge * 255.0**2 * np.eye(len(gram[0]))  # features are 8-bit values, the ridge in [0, 1] units
    shared = np.linalg.solve(gram.sum(axis=0) + 1e-6 * ridge, moment.sum(axis=0))
    filters = np.stack([np.linalg.solve(gram[b] + ridge, moment[b] + ridge @ shared) for b in range(config.buckets)])
    progress(1.0, "filters fitted")
    return replace(bank, filters=np.round(filters * (1 << FILTER_BITS)))


class _NormalEquations:
    """Per bucket, the weighted sums X^T W X (gram) and X^T W Y (moment) of the least-squares fit.

    Rows wait per bucket (8-bit features, float32 targets) until FLUSH_ROWS of them make one large float64
    matrix product: per-view products over the few hundred rows a bucket gets in one view are several
    times slower for the same sums."""

    FLUSH_ROWS = 4096

    def __init__(self, buckets: int, dims: int, outputs: int) -> None:
        self.gram = np.zeros((buckets, dims, dims))
        self.moment = np.zeros((buckets, dims, outputs))
        self.pending: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(buckets)]
        self.count = np.zeros(buckets, np.int64)

    def add(self, x: np.ndarray, y: np.ndarray, buckets: np.ndarray, weights: np.ndarray) -> None:
        """Rows i % len(x) of `x` (uint8 features) and `y` (targets in [0, 1]) into `buckets[i]` with integer
        `weights[i]` out of BLEND_WEIGHT (zero weights are skipped)."""
        keep = np.flatnonzero(weights)
        order, runs = bucket_runs(buckets[keep], len(self.count))
        picked = keep[order]
        xs, ys, ws = x[picked % len(x)], y[picked % len(x)], weights[picked]  # grouped by bucket
        for bucket, start, stop in runs:
            self.pending[bucket].append((xs[start:stop], ys[start:stop], ws[start:stop]))
            self.count[bucket] += stop - start
            if self.count[bucket] >= self.FLUSH_ROWS:
                self._flush(bucket)

    def _flush(self, bucket: int) -> None:
        parts = self.pending[bucket]
        if not parts:
            return
        root = np.sqrt(np.concatenate([p[2] for p in parts]) / BLEND_WEIGHT)[:, None]
        x = np.concatenate([p[0] for p in parts]) * root  # rows scaled by sqrt(weight): X^T W X = x^T x,
        y = np.concatenate([p[1] for p in parts]) * (root * 255.0)  # which numpy computes as one SYRK
        self.gram[bucket] += x.T @ x
        self.moment[bucket] += x.T @ y
        self.pending[bucket], self.count[bucket] = [], 0

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        for bucket in range(len(self.count)):
            self._flush(bucket)
        return self.gram, self.moment
