"""Upscale photos with an SR-LUT, MuLUT or EC-LUT table: pure numpy, integer arithmetic, tiled, threaded.

(One module: the table type, its file and the upscaler are the torch-free API the CLI, editor and batch import.)

No torch here: the CLI and the editor upscale with nothing but the table. The rotation ensemble is
folded into the tables instead of rotating the image: for rotation k the window's pixels, the
expanded-convolution offsets and the r*r output sub-pixels are permuted once into the original
frame, so every rotation reads the same unrotated image.

The 4-input kinds differ only in their sampling patterns (`engine.sr.spec.PATTERNS`): SR-LUT reads a 2x2 block;
MuLUT (Li et al., ECCV 2022, complementary indexing) has three 4-input tables over a 3x3
neighbourhood -- "S" the 2x2 block, "D" its dilated corners, "Y" a Y shape -- whose 12 rotated terms
are averaged, so each output sees a 5x5 window while every table stays 17^4 rows.

Arithmetic is exact integer maths on 8-bit values, identical to the float nets up to the int8
rounding of the table:
* SR-LUT / MuLUT: per pattern and rotation a 4-simplex interpolation with integer weights summing
  to 16, over T = 4 (SR-LUT) or 12 (MuLUT) terms -> |S| <= T * 16 * 127 (24384 for MuLUT);
  residual = floor((S + 8T) / 16T), a right shift by 6 for SR-LUT.
* EC-LUT: 4 rotations x 9 offsets of int8 entries -> |S| <= 36 * 127; residual = (S + 8) >> 4.
All fit int16. Output = clip(pixel + residual, 0, 255) placed at the pixel's r*r block.

The image is cut into strips of rows, each read with a halo (the model's padding) from a
reflect-padded copy, so the result is bit-identical to one untiled pass and memory stays bounded.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from engine import modelfile
from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.image import Photo
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress
from engine.locations import shipped_models_dir
from engine.modelfile import ModelFileError  # the one error of every model file
from engine.sr.filters import FilterBank, FilterConfig, refine_planes, refine_table_output, ring_around
from engine.sr.spec import (
    EC_ALPHA_SHIFT,
    EC_OFFSETS,
    GROUPS,
    PADDING,
    PATTERNS,
    ROWS,
    SIMPLEX_KINDS,
    SIMPLEX_WEIGHT,
    SR_STRIDES,
)

MAX_OUTPUT_PIXELS = 100_000_000  # 100 MP: 300 MB of 8-bit output
STRIP_VALUES = 96_000  # low-resolution values (pixels x channels) per strip: a few MB of work arrays
# the table stage works on fewer rows at once, so that its (values, r*r) int16 rows stay in the core's L2 cache:
# SR-LUT twice, EC-LUT 1.4 times as fast as whole strips on this machine's CPU
TABLE_CHUNK_BYTES = 400_000


class OutputTooLargeError(InputError):
    """The upscaled image would exceed the pixel limit."""


@dataclass
class SRTable:
    """An int8 SR table: (ROWS[kind], GROUPS[kind] * scale^2) plus its JSON metadata."""

    kind: str
    scale: int
    table: np.ndarray
    meta: dict = field(default_factory=dict)
    refinement: FilterBank | None = None  # optional filter stage after the table (`engine.sr.filters`)
    pre: SRTable | None = None  # optional first stage (a scale-1 table run on the photo before this one)

    def __post_init__(self) -> None:
        if self.kind not in ROWS:
            raise ModelFileError(f"unknown SR table kind {self.kind!r}; expected one of {', '.join(ROWS)}")
        if self.scale not in (1, 2, 3, 4):  # 1: the first stage of a cascade
            raise ModelFileError(f"SR table scale must be 1, 2, 3 or 4, not {self.scale}")
        if self.pre is not None and (self.pre.scale != 1 or self.pre.pre is not None):
            raise ModelFileError("the first stage of a cascade must be one scale-1 table")
        expected = (ROWS[self.kind], GROUPS[self.kind] * self.scale**2)
        if self.table.dtype != np.int8 or self.table.shape != expected:
            raise ModelFileError(
                f"{self.kind} x{self.scale} table must be int8 of shape {expected}, "
                f"not {self.table.dtype} {self.table.shape}"
            )

    @property
    def padding(self) -> int:
        return PADDING[self.kind]

    @property
    def term_count(self) -> int:
        """Rotated table reads averaged per output (patterns x 4 rotations)."""
        return 4 * len(PATTERNS[self.kind])

    @cached_property
    def terms(self) -> list[Term]:
        """Per pattern and rotation: the window's offsets in the original frame and the table permuted to it."""
        r2 = self.scale**2
        result = []
        for pattern, window in enumerate(PATTERNS[self.kind]):
            for k in range(4):
                offsets = tuple(_rotate_back(offset, k) for offset in window)
                sub = _rotate_back_labels(self.scale, k)
                if self.kind == "eclut":
                    groups = _rotate_back_labels(3, k)
                    columns = (groups[:, None] * r2 + sub[None, :]).ravel()
                else:
                    columns = pattern * r2 + sub
                # simplex tables widened to int16 once: the weighted rows are then multiplied in place, no cast per read
                dtype = np.int16 if self.kind in SIMPLEX_KINDS else np.int8
                result.append(Term(offsets, columns, np.ascontiguousarray(self.table[:, columns], dtype=dtype)))
        return result


@dataclass(frozen=True)
class Term:
    """One rotated table read: where its inputs lie around the pixel, which table columns it uses, in
    the original frame's order, and that column selection as a contiguous table."""

    offsets: tuple[tuple[int, int], ...]
    columns: np.ndarray
    table: np.ndarray


def _rotate_back_labels(side: int, k: int) -> np.ndarray:
    """Permutation p of a side x side block: original position s holds rotated-frame position p[s]."""
    return np.rot90(np.arange(side * side).reshape(side, side), -k).ravel()


def _rotate_back(offset: tuple[int, int], k: int) -> tuple[int, int]:
    """Where a (dy, dx) neighbour offset of the image rotated by k * 90 degrees lies in the original."""
    grid = np.zeros((5, 5), np.int8)
    grid[2 + offset[0], 2 + offset[1]] = 1
    y, x = np.argwhere(np.rot90(grid, -k))[0]
    return int(y) - 2, int(x) - 2


def _first_input_rows(kind: str) -> int:
    """Table rows per level of the first input (the table is smooth along that axis)."""
    return ROWS[kind] // (17 if kind in SIMPLEX_KINDS else 256)


def save_table(table: SRTable, path: Path) -> None:
    """Write `path` (.npz) and its JSON sidecar, both atomically.

    The npz holds one int8 array ``delta``: the table's differences along its first input (modulo 256),
    which the neural table makes small and smooth, so it deflates to about a third (EC-LUT x4: 2 MB
    instead of 6.7 MB); `load_table` undoes it exactly with a wrapping cumulative sum.
    """
    path = Path(path)
    delta = _deltas(table)
    arrays: dict[str, Any] = {"delta": delta}
    meta = dict(table.meta)
    if table.pre is not None:
        arrays["pre_delta"] = _deltas(table.pre)
        meta["pre"] = {"kind": table.pre.kind, "scale": 1}
    else:
        meta.pop("pre", None)
    if table.refinement is not None:
        bank = table.refinement
        arrays.update(
            filters=bank.filters.astype(np.int32),
            strength_edges=bank.strength_edges,
            coherence_edges=bank.coherence_edges,
        )
        meta["refinement"] = bank.meta()
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")


def _deltas(table: SRTable) -> np.ndarray:
    """The table's differences along its first input (modulo 256), as stored."""
    levels = table.table.reshape(-1, _first_input_rows(table.kind), table.table.shape[1])
    return np.diff(levels.view(np.uint8), axis=0, prepend=np.uint8(0)).view(np.int8).reshape(table.table.shape)


def _undelta(kind: str, delta: np.ndarray) -> np.ndarray:
    """Undo `_deltas` exactly (a wrapping cumulative sum); ModelFileError when the array cannot be a table."""
    if kind not in ROWS or delta.dtype != np.int8 or delta.ndim != 2 or delta.shape[0] != ROWS[kind]:
        raise ModelFileError(f"{kind} table must be int8 with {ROWS.get(kind)} rows, not {delta.dtype} {delta.shape}")
    levels = delta.view(np.uint8).reshape(-1, _first_input_rows(kind), delta.shape[1])
    return np.cumsum(levels, axis=0, dtype=np.uint8).view(np.int8).reshape(delta.shape)


def load_table(path: Path) -> SRTable:
    """Read a table written by `save_table` (never unpickles); ModelFileError when unusable."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    try:
        meta = modelfile.read_sidecar(
            sidecar, ModelFileError, required={"kind": modelfile.text(40), "scale": modelfile.integer(1, 16)}
        )
        kind, scale = str(meta["kind"]), int(meta["scale"])
        if scale == 1:
            raise ModelFileError("a scale-1 table is only the first stage of a cascade, not a model")
        with modelfile.NpzArrays(path, ModelFileError) as data:  # members checked before decompressing
            table = _undelta(kind, data["delta"])
            refinement = _load_refinement(data, meta, scale) if "refinement" in meta else None
            pre = None
            if "pre" in meta:
                pre_kind = str(meta["pre"]["kind"])
                pre = SRTable(kind=pre_kind, scale=1, table=_undelta(pre_kind, data["pre_delta"]))
        return SRTable(kind=kind, scale=scale, table=table, meta=meta, refinement=refinement, pre=pre)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a readable SR table ({type(exc).__name__}: {exc})") from None


def _load_refinement(data, meta: dict, scale: int) -> FilterBank:
    """The filter stage stored beside a table (arrays `filters`, `strength_edges`, `coherence_edges`).
    Filters are stored as int32, which keeps every filter sum exact in float64."""
    config = FilterConfig(**meta["refinement"])
    if data["filters"].dtype != np.int32:
        raise ModelFileError(f"filter refinement must be stored as int32, not {data['filters'].dtype}")
    bank = FilterBank(
        config,
        data["strength_edges"].astype(np.float64),
        data["coherence_edges"].astype(np.float64),
        data["filters"].astype(np.float64),
    )
    expected = (config.buckets, bank.feature_count(scale), scale * scale)
    if bank.filters.shape != expected:
        raise ModelFileError(f"filter refinement must have filters of shape {expected}, not {bank.filters.shape}")
    edges = (bank.strength_edges.shape, bank.coherence_edges.shape)
    if edges != ((config.strength_bins - 1,), (config.coherence_bins - 1,)):
        raise ModelFileError(f"filter refinement has {edges} bin edges, expected strength and coherence bins - 1")
    return bank


def interpolate_4simplex(table: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
    """16 x the 4-simplex interpolation of a (17^4, K) int8-valued table at four uint8 inputs -> (n, K) int16.

    Each input splits into a lattice index (v >> 4) and a fraction (v & 15). Sorting the fractions
    f1 >= f2 >= f3 >= f4 picks the simplex: from the base corner, step +1 along the input with the
    largest fraction, then the next, ...; the five vertices get weights 16 - f1, f1 - f2, f2 - f3,
    f3 - f4, f4 (sum 16). Sorting (a 5-comparator network on keys fraction * 4 + input) instead of
    branching covers all 24 orderings with one code path.
    """
    base = np.zeros(values[0].shape, np.int32)
    keys = []
    for i, v in enumerate(values):
        base += (v >> 4).astype(np.int32) * SR_STRIDES[i]
        keys.append(((v & 15) << 2) | i)  # unique keys: ties broken by input number
    ordered = [k.ravel() for k in _sort4_descending(keys)]
    fractions = [(k >> 2).astype(np.int16) for k in ordered]
    weights = [16 - fractions[0], *(fractions[j] - fractions[j + 1] for j in range(3)), fractions[3]]
    table = table.astype(np.int16, copy=False)  # `SRTable.terms` already holds int16: no copy
    vertex = base.ravel()
    acc = np.take(table, vertex, axis=0)
    acc *= weights[0][:, None]
    for j in range(4):
        vertex += np.take(_STRIDE_OF_KEY, ordered[j])
        rows = np.take(table, vertex, axis=0)
        rows *= weights[j + 1][:, None]
        acc += rows
    return acc


def _table_residual(padded: np.ndarray, table: SRTable, rows: slice) -> np.ndarray:
    """Residual for LR rows `rows` -> (h, W, C, r*r) int16, a few rows at a time (`TABLE_CHUNK_BYTES`)."""
    w, channels = padded.shape[1] - 2 * table.padding, padded.shape[2]
    r2 = table.scale**2
    out = np.empty((rows.stop - rows.start, w, channels, r2), np.int16)
    step = max(1, TABLE_CHUNK_BYTES // (2 * r2 * w * channels))
    compute = _simplex_rows if table.kind in SIMPLEX_KINDS else _eclut_rows
    for top in range(rows.start, rows.stop, step):
        bottom = min(top + step, rows.stop)
        out[top - rows.start : bottom - rows.start] = compute(padded, table, slice(top, bottom))
    return out


def _simplex_rows(padded: np.ndarray, table: SRTable, rows: slice) -> np.ndarray:
    """Residual for LR rows `rows`: the mean of the patterns' and rotations' interpolated table rows
    -> (h, W, C, r*r) int16."""
    p = table.padding
    h, w = rows.stop - rows.start, padded.shape[1] - 2 * p

    def interpolated(term: Term) -> np.ndarray:
        values = [padded[rows.start + p + dy : rows.stop + p + dy, p + dx : p + dx + w] for dy, dx in term.offsets]
        return interpolate_4simplex(term.table, values)

    first, *rest = table.terms
    acc = interpolated(first)
    for term in rest:
        acc += interpolated(term)
    divisor = SIMPLEX_WEIGHT * table.term_count
    return ((acc + divisor // 2) // divisor).reshape(h, w, padded.shape[2], -1)


_STRIDE_OF_KEY = np.array([SR_STRIDES[key & 3] for key in range(64)], np.int32)


def _sort4_descending(keys: list[np.ndarray]) -> list[np.ndarray]:
    """Five compare-exchanges (a sorting network) over four arrays: element-wise descending order."""
    a, b, c, d = keys
    a, b = np.maximum(a, b), np.minimum(a, b)
    c, d = np.maximum(c, d), np.minimum(c, d)
    a, c = np.maximum(a, c), np.minimum(a, c)
    b, d = np.maximum(b, d), np.minimum(b, d)
    b, c = np.maximum(b, c), np.minimum(b, c)
    return [a, b, c, d]


def _eclut_rows(padded: np.ndarray, table: SRTable, rows: slice) -> np.ndarray:
    """Residual for LR rows `rows`: rotations x 9 expanded-conv offsets of table rows -> (h, W, C, r*r) int16."""
    p = table.padding
    h, w = rows.stop - rows.start, padded.shape[1] - 2 * p
    r2 = table.scale**2
    acc = np.zeros((h, w, padded.shape[2], r2), np.int16)
    for term in table.terms:
        (y0, x0), (y1, x1) = term.offsets
        # the table rows of every pixel of the strip plus a 1-px ring (offsets reach one pixel out)
        first = padded[rows.start + p - 1 + y0 : rows.stop + p + 1 + y0, p - 1 + x0 : p + 1 + x0 + w]
        second = padded[rows.start + p - 1 + y1 : rows.stop + p + 1 + y1, p - 1 + x1 : p + 1 + x1 + w]
        index = (first.astype(np.int32) << 8) | second
        groups = np.take(term.table, index, axis=0).reshape(*index.shape, 9, r2)  # (h + 2, w + 2, C, 9, r*r)
        for g, (dy, dx) in enumerate(EC_OFFSETS):
            acc += groups[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w, :, g]
    return (acc + (1 << (EC_ALPHA_SHIFT - 1))) >> EC_ALPHA_SHIFT


def pad_sides(image: np.ndarray, pad: int) -> np.ndarray:
    """An (H, W, C) image reflect-padded by `pad` on every side (symmetric where it has too few pixels to reflect)."""
    if min(image.shape[:2]) > pad:
        return np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")


def check_output_size(height: int, width: int, scale: int, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
    """Raise OutputTooLargeError when a height x width photo upscaled by `scale` exceeds `max_pixels`."""
    out_pixels = height * width * scale * scale
    if out_pixels > max_pixels:
        raise OutputTooLargeError(
            f"upscaling {width}x{height} by {scale} would make {width * scale}x{height * scale} "
            f"= {out_pixels:,} pixels, above the limit of {max_pixels:,}"
        )


def upscale_uint8(
    image: np.ndarray,
    table: SRTable,
    *,
    strip_values: int = STRIP_VALUES,
    workers: int | None = None,
    max_pixels: int = MAX_OUTPUT_PIXELS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Upscale an (H, W) or (H, W, C) uint8 image -> (rH, rW[, C]) uint8, in strips over `workers` threads."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise InputError(f"expected an 8-bit (H, W) or (H, W, C) image, got {image.dtype} {image.shape}")
    planar = image.ndim == 2
    image = image[:, :, None] if planar else image
    height, width, channels = image.shape
    r, p = table.scale, table.padding
    check_output_size(height, width, r, max_pixels)
    workers = workers or os.cpu_count() or 1
    table_input = image
    if table.pre is not None:  # the cascade's first stage: the photo refined at its own size, in its own pass
        table_input = upscale_uint8(
            image, table.pre, strip_values=strip_values, workers=workers, max_pixels=max_pixels,
            progress=sub_progress(progress, 0.0, 0.2), cancel=cancel,
        )  # fmt: skip
        progress = sub_progress(progress, 0.2, 1.0)
    padded = pad_sides(table_input, p)
    out = np.empty((height * r, width * r, channels), np.uint8)
    strip = max(1, strip_values // (width * channels))
    strips = [slice(y, min(y + strip, height)) for y in range(0, height, strip)]
    anchor = table_input.astype(np.int16)
    bank = table.refinement
    if bank is not None:
        halo = bank.config.halo
        refine_padded = pad_sides(refine_planes(image, bank.config), halo)

    def table_values(rows: slice) -> np.ndarray:
        residual = _table_residual(padded, table, rows)
        return np.clip(residual + anchor[rows, :, :, None], 0, 255).astype(np.uint8)

    def run(rows: slice) -> None:
        check(cancel)
        h = rows.stop - rows.start
        if bank is None:
            values = table_values(rows)
        else:  # the filters also read the table's output one pixel around each block: one more row each side
            above, below = rows.start > 0, rows.stop < height
            values = table_values(slice(rows.start - above, rows.stop + below))
            ringed = ring_around(values, r, above, below)
            values = values[int(above) : int(above) + h]
            planes = refine_padded[rows.start : rows.stop + 2 * halo]
            values = refine_table_output(planes, halo, values, ringed, bank, r)
        block = values.reshape(h, width, channels, r, r).transpose(0, 3, 1, 4, 2)
        out[rows.start * r : rows.stop * r] = block.reshape(h * r, width * r, channels)

    _ = table.terms  # build the permuted tables once, before the threads share them
    # one BLAS thread: the filter stage's products are small (2 r*r x ~90 by ~90 x a bucket's pixels), so BLAS
    # threads of their own only spin (one worker took 3x the CPU time with them) or contend with the workers
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, rows) for rows in strips]
        try:
            for done, future in enumerate(futures, 1):
                future.result()
                progress(done / len(futures), "upscaling")
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return out[:, :, 0] if planar else out


def upscale_pixels(
    pixels: np.ndarray,
    table: SRTable,
    *,
    max_pixels: int = MAX_OUTPUT_PIXELS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Float (H, W, 3) pixels in [0, 1] -> upscaled float32 pixels (through 8-bit values)."""
    height, width = pixels.shape[:2]
    check_output_size(height, width, table.scale, max_pixels)
    image = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    out = upscale_uint8(image, table, max_pixels=max_pixels, progress=progress, cancel=cancel)
    return np.multiply(out, np.float32(1 / 255), dtype=np.float32)


MODELS_DIR = shipped_models_dir()
MODEL_NAMES = ("srlut-filter", "srlut", "mulut", "eclut")  # the first is the default (CLI, Upscale dialog)


def shipped_table_path(model: str, scale: int) -> Path:
    """resources/models/sr_<model>_x<scale>.npz for a shipped model name."""
    if model not in MODEL_NAMES:
        raise InputError(f"unknown SR model {model!r}; expected one of {', '.join(MODEL_NAMES)} or a .npz table")
    if scale not in (2, 4):
        raise InputError(f"the shipped SR models upscale by 2 or 4, not {scale}")
    return MODELS_DIR / f"sr_{model}_x{scale}.npz"


def user_models_dir() -> Path:
    """Where tables trained by the user live: the family's folder of user models (the editor lists them)."""
    return modelfile.user_models_dir("sr")


def available_models(scale: int) -> list[tuple[str, Path]]:
    """(name, path) of the shipped and the user's tables for `scale`, shipped first."""
    shipped = [(name, shipped_table_path(name, scale)) for name in MODEL_NAMES]
    models = [(name, path) for name, path in shipped if path.is_file()]
    mine = modelfile.user_models("sr")  # a broken user table is left out of the list
    return models + [(model.name, model.path) for model in mine if model.sidecar.get("scale") == scale]


def resolve_table(model: str, scale: int) -> SRTable:
    """A shipped model or a user's table by name, or a table file by path; its scale must equal `scale`."""
    if model.endswith(".npz"):
        path = Path(model)
    elif model in MODEL_NAMES:
        path = shipped_table_path(model, scale)
    else:
        path = user_models_dir() / f"{model}.npz"
        if not path.is_file():
            known = ", ".join(name for name, _ in available_models(scale)) or "none"
            raise InputError(f"no SR model named {model!r} for x{scale} (available: {known})")
    if not path.is_file():
        raise ModelFileError(f"{path}: SR table not found")
    table = load_table(path)
    if table.scale != scale:
        raise InputError(f"{path}: this table upscales by {table.scale}, not {scale}")
    return table


def upscale_photo(
    photo: Photo,
    table: SRTable,
    *,
    max_pixels: int = MAX_OUTPUT_PIXELS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Photo:
    """The photo upscaled by the table's factor, metadata kept (alpha resized along)."""
    pixels = upscale_pixels(photo.pixels, table, max_pixels=max_pixels, progress=progress, cancel=cancel)
    return photo.with_pixels(pixels)
