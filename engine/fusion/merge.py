"""Merge an exposure bracket into one photo: order, align, weigh, deghost, blend (Mertens exposure fusion).

The result keeps the reference (middle exposure) frame's EXIF, ICC profile and bit depth, so it exports
like the photo the user would have kept. Pure numpy: merging never imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from engine.errors import InputError
from engine.fusion.align import Shift, common_window, covered, find_shifts, grey_levels, move
from engine.fusion.deghost import deghost_weights, ghost_mask
from engine.fusion.exposure import exposure_order, frame_exposures, relative_evs
from engine.fusion.pyramid import blend
from engine.fusion.weights import Exponents, normalised_weights, quality_weights
from engine.image import Photo, load_photo
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress

MIN_FRAMES, MAX_FRAMES = 2, 9
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class MergeOptions:
    """What the user can choose: alignment, deghosting, crop-instead-of-fill, Mertens exponents."""

    align: bool = True
    deghost: bool = False
    crop: bool = False
    exponents: Exponents = field(default_factory=Exponents)


@dataclass(frozen=True)
class Bracket:
    """How the frames of a bracket relate; lists are indexed like the input frames."""

    order: list[int]  # input indices from the darkest to the brightest frame
    reference: int  # input index of the reference (middle exposure) frame
    evs: list[float]  # exposure of each frame relative to the reference, in stops
    exif_exposures: bool  # whether the ordering came from EXIF (else from measured brightness)


def analyse_bracket(photos: Sequence[Photo]) -> Bracket:
    """Order the frames by exposure (EXIF when every frame has it, else brightness) and pick the middle one."""
    exposures, from_exif = frame_exposures([p.exif for p in photos], [p.pixels for p in photos])
    order = exposure_order(exposures)
    reference = order[len(order) // 2]
    evs = relative_evs(exposures, from_exif, [p.pixels for p in photos], reference)
    return Bracket(order, reference, evs, from_exif)


@dataclass(frozen=True)
class MergeResult(Bracket):
    """The merged photo and what was found on the way: the bracket's analysis plus the alignment shifts."""

    photo: Photo
    shifts: list[Shift]  # how each frame was moved onto the reference, indexed like the input frames


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """numpy releases the GIL in its loops, so two threads nearly halve per-frame work on big frames."""
    if _workers() == 1 or len(items) == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        return list(pool.map(fn, items))


def _check_count(count: int) -> None:
    if count < MIN_FRAMES:
        raise InputError(f"merging needs at least {MIN_FRAMES} photos of a bracket, got {count}")
    if count > MAX_FRAMES:
        raise InputError(f"merging takes at most {MAX_FRAMES} photos, got {count}")


def check_bracket(photos: Sequence[Photo], names: Sequence[str] | None = None) -> None:
    """Refuse what cannot be merged: too few or too many frames, or frames of different sizes."""
    _check_count(len(photos))
    names = names or [str(p.path) if p.path else f"photo {i + 1}" for i, p in enumerate(photos)]
    first = photos[0]
    for photo, name in zip(photos[1:], names[1:], strict=False):
        if photo.pixels.shape != first.pixels.shape:
            raise InputError(
                f"{name}: size {photo.width} x {photo.height} differs from {names[0]} "
                f"({first.width} x {first.height}); a bracket must have one size"
            )


def load_bracket(
    paths: Sequence[str | os.PathLike[str]],
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[Photo]:
    """Read every frame (errors name the file) and check they form a bracket."""
    _check_count(len(paths))
    photos = []
    for index, path in enumerate(paths):
        check(cancel)
        photos.append(load_photo(Path(path)))
        progress((index + 1) / len(paths), f"reading {Path(path).name}")
    check_bracket(photos, [str(p) for p in paths])
    return photos


def merge_photos(
    photos: Sequence[Photo],
    options: MergeOptions = MergeOptions(),
    *,
    bracket: Bracket | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> MergeResult:
    """Fuse a bracket into one photo in [0, 1] (clipped, never stretched), in reference coordinates.

    `bracket` is `analyse_bracket(photos)` when the caller already has it (the merge dialog shows it).
    """
    check_bracket(photos)
    bracket = bracket or analyse_bracket(photos)
    reference = bracket.reference
    check(cancel)

    greys = _parallel_map(grey_levels, [p.pixels for p in photos]) if options.align or options.deghost else []
    shifts = [Shift()] * len(photos)
    if options.align:
        shifts = find_shifts(greys, reference, progress=sub_progress(progress, 0.0, 0.15), cancel=cancel)
    check(cancel)

    progress(0.15, "weighing")
    height, width = photos[0].height, photos[0].width
    weights = _parallel_map(lambda photo: quality_weights(photo.pixels, options.exponents), photos)
    for index, shift in enumerate(shifts):
        if shift != Shift():  # weights are local, so shifting them equals weighing the shifted frame
            weights[index] = move(weights[index], shift)
            weights[index] *= covered(shift, height, width)
    normalised_weights(weights)
    check(cancel)
    if options.deghost:
        progress(0.25, "finding moving objects")
        aligned_greys = [move(g, s) if s != Shift() else g for g, s in zip(greys, shifts, strict=True)]
        masks = _parallel_map(
            lambda index: None if index == reference else ghost_mask(aligned_greys[index], aligned_greys[reference]),
            list(range(len(photos))),
        )
        deghost_weights(weights, masks, reference)
        del masks, aligned_greys
    del greys
    check(cancel)

    fused = blend(
        (height, width),
        len(photos),
        3,
        lambda index, channel: move(photos[index].pixels, shifts[index], channel),
        weights.__getitem__,
        workers=_workers(),
        progress=sub_progress(progress, 0.3, 1.0),
        cancel=cancel,
    )
    np.clip(fused, 0.0, 1.0, out=fused)
    ref_photo = photos[reference]
    alpha = ref_photo.alpha
    if options.crop and any(s != Shift() for s in shifts):
        rows, cols = common_window(shifts, *fused.shape[:2])
        fused = np.ascontiguousarray(fused[rows, cols])
        alpha = None if alpha is None else alpha[rows, cols]
    merged = Photo(fused, alpha, max(p.bit_depth for p in photos), ref_photo.exif, ref_photo.icc, None)
    progress(1.0, "merged")
    return MergeResult(bracket.order, reference, bracket.evs, bracket.exif_exposures, merged, shifts)


def merge_files(
    paths: Sequence[str | os.PathLike[str]],
    options: MergeOptions = MergeOptions(),
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> MergeResult:
    """`load_bracket` then `merge_photos`."""
    photos = load_bracket(paths, progress=sub_progress(progress, 0.0, 0.2), cancel=cancel)
    return merge_photos(photos, options, progress=sub_progress(progress, 0.2, 1.0), cancel=cancel)
