"""Upscale photos with an SR-LUT or EC-LUT table: pure numpy, integer arithmetic, tiled, threaded.

No torch here: the CLI and the editor upscale with nothing but the table. The rotation ensemble is
folded into the tables instead of rotating the image: for rotation k the window's pixels, the
expanded-convolution offsets and the r*r output sub-pixels are permuted once into the original
frame, so every rotation reads the same unrotated image.

Arithmetic is exact integer maths on 8-bit values, identical to the float nets up to the int8
rounding of the table:
* SR-LUT: per rotation a 4-simplex interpolation with integer weights summing to 16, over 4
  rotations -> sum S with |S| <= 4 * 16 * 127; residual = (S + 32) >> 6.
* EC-LUT: 4 rotations x 9 offsets of int8 entries -> |S| <= 36 * 127; residual = (S + 8) >> 4.
Both fit int16. Output = clip(pixel + residual, 0, 255) placed at the pixel's r*r block.

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

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.image import Photo
from engine.jobs import CancelToken, ProgressFn, check, no_progress

SR_LEVELS = np.array([*range(0, 256, 16), 255])  # 17 lattice levels per input, interval 16
SR_STRIDES = (17**3, 17**2, 17, 1)
SR_WINDOW = ((0, 0), (0, 1), (1, 0), (1, 1))  # a, b, c, d of the 2x2 window (rotated frame)
EC_WINDOW = ((0, 0), (1, 0))  # the pixel and the one below (rotated frame)
PADDING = {"srlut": 1, "eclut": 2}
GROUPS = {"srlut": 1, "eclut": 9}
ROWS = {"srlut": 17**4, "eclut": 256**2}
MAX_OUTPUT_PIXELS = 100_000_000  # 100 MP: 300 MB of 8-bit output
STRIP_VALUES = 96_000  # low-resolution values (pixels x channels) per strip: a few MB of work arrays


class ModelFileError(InputError):
    """A table file is missing, malformed or does not match its JSON sidecar."""


class OutputTooLargeError(InputError):
    """The upscaled image would exceed the pixel limit."""


@dataclass
class SRTable:
    """An int8 SR table: (ROWS[kind], GROUPS[kind] * scale^2) plus its JSON metadata."""

    kind: str
    scale: int
    table: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ROWS:
            raise ModelFileError(f"unknown SR table kind {self.kind!r}; expected srlut or eclut")
        if self.scale not in (2, 3, 4):
            raise ModelFileError(f"SR table scale must be 2, 3 or 4, not {self.scale}")
        expected = (ROWS[self.kind], GROUPS[self.kind] * self.scale**2)
        if self.table.dtype != np.int8 or self.table.shape != expected:
            raise ModelFileError(
                f"{self.kind} x{self.scale} table must be int8 of shape {expected}, "
                f"not {self.table.dtype} {self.table.shape}"
            )

    @property
    def padding(self) -> int:
        return PADDING[self.kind]

    @cached_property
    def rotations(self) -> list[tuple[tuple[tuple[int, int], ...], np.ndarray]]:
        """Per rotation: the window's offsets in the original frame and the table permuted to that frame."""
        r = self.scale
        window = SR_WINDOW if self.kind == "srlut" else EC_WINDOW
        result = []
        for k in range(4):
            offsets = tuple(_rotate_back(offset, k) for offset in window)
            sub = _rotate_back_labels(r, k)
            if self.kind == "srlut":
                permuted = self.table[:, sub]
            else:
                groups = _rotate_back_labels(3, k)
                permuted = self.table.reshape(-1, 9, r * r)[:, groups][:, :, sub]
            result.append((offsets, np.ascontiguousarray(permuted)))
        return result


def _rotate_back_labels(side: int, k: int) -> np.ndarray:
    """Permutation p of a side x side block: original position s holds rotated-frame position p[s]."""
    return np.rot90(np.arange(side * side).reshape(side, side), -k).ravel()


def _rotate_back(offset: tuple[int, int], k: int) -> tuple[int, int]:
    """Where a (dy, dx) neighbour offset of the image rotated by k * 90 degrees lies in the original."""
    grid = np.zeros((5, 5), np.int8)
    grid[2 + offset[0], 2 + offset[1]] = 1
    y, x = np.argwhere(np.rot90(grid, -k))[0]
    return int(y) - 2, int(x) - 2


def save_table(table: SRTable, path: Path) -> None:
    """Write `path` (.npz, one int8 array) and its JSON sidecar, both atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, table=table.table)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(table.meta, indent=1) + "\n")


def load_table(path: Path) -> SRTable:
    """Read a table written by `save_table` (never unpickles); ModelFileError when unusable."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
        with np.load(path, allow_pickle=False) as data:
            table = data["table"]
        return SRTable(kind=str(meta["kind"]), scale=int(meta["scale"]), table=table, meta=meta)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a readable SR table ({type(exc).__name__}: {exc})") from None


def interpolate_4simplex(table: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
    """16 x the 4-simplex interpolation of a (17^4, K) table at four uint8 inputs -> (n, K) int16.

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
    vertex = base.ravel()
    acc = np.take(table, vertex, axis=0) * weights[0][:, None]
    for j in range(4):
        vertex = vertex + _STRIDE_OF_KEY[ordered[j]]
        acc += np.take(table, vertex, axis=0) * weights[j + 1][:, None]
    return acc


def _srlut_strip(padded: np.ndarray, table: SRTable, rows: slice) -> np.ndarray:
    """Residual for LR rows `rows`: rotations' interpolated table rows -> (h, W, C, r*r) int16."""
    p = table.padding
    h, w = rows.stop - rows.start, padded.shape[1] - 2 * p
    acc = None
    for offsets, permuted in table.rotations:
        values = [padded[rows.start + p + dy : rows.stop + p + dy, p + dx : p + dx + w] for dy, dx in offsets]
        term = interpolate_4simplex(permuted, values)
        acc = term if acc is None else np.add(acc, term, out=acc)
    return ((acc + 32) >> 6).reshape(h, w, padded.shape[2], -1)


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


def _eclut_strip(padded: np.ndarray, table: SRTable, rows: slice) -> np.ndarray:
    """Residual for LR rows `rows`: rotations x 9 expanded-conv offsets of table rows -> (h, W, C, r*r) int16."""
    p = table.padding
    h, w = rows.stop - rows.start, padded.shape[1] - 2 * p
    r2 = table.scale**2
    acc = np.zeros((h, w, padded.shape[2], r2), np.int16)
    for offsets, permuted in table.rotations:
        (y0, x0), (y1, x1) = offsets
        # the table rows of every pixel of the strip plus a 1-px ring (offsets reach one pixel out)
        first = padded[rows.start + p - 1 + y0 : rows.stop + p + 1 + y0, p - 1 + x0 : p + 1 + x0 + w]
        second = padded[rows.start + p - 1 + y1 : rows.stop + p + 1 + y1, p - 1 + x1 : p + 1 + x1 + w]
        index = (first.astype(np.int32) << 8) | second
        groups = np.take(permuted, index, axis=0)  # (h + 2, w + 2, C, 9, r*r)
        for g, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
            acc += groups[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w, :, g]
    return (acc + 8) >> 4


def check_output_size(height: int, width: int, scale: int, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
    """Raise OutputTooLargeError when a height x width photo upscaled by `scale` exceeds `max_pixels`."""
    out_pixels = height * width * scale * scale
    if out_pixels > max_pixels:
        raise OutputTooLargeError(
            f"upscaling {width}x{height} by {scale} would make {width * scale}x{height * scale} "
            f"= {out_pixels / 1e6:.0f} MP, above the limit of {max_pixels / 1e6:.0f} MP"
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
    mode = "reflect" if min(height, width) > p else "symmetric"  # reflect needs more pixels than the pad
    padded = np.pad(image, ((p, p), (p, p), (0, 0)), mode=mode)
    out = np.empty((height * r, width * r, channels), np.uint8)
    strip = max(1, strip_values // (width * channels))
    strips = [slice(y, min(y + strip, height)) for y in range(0, height, strip)]
    compute = _srlut_strip if table.kind == "srlut" else _eclut_strip
    anchor = image.astype(np.int16)

    def run(rows: slice) -> None:
        check(cancel)
        residual = compute(padded, table, rows)
        h = rows.stop - rows.start
        values = np.clip(residual + anchor[rows, :, :, None], 0, 255).astype(np.uint8)
        block = values.reshape(h, width, channels, r, r).transpose(0, 3, 1, 4, 2)
        out[rows.start * r : rows.stop * r] = block.reshape(h * r, width * r, channels)

    _ = table.rotations  # build the permuted tables once, before the threads share them
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
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


MODELS_DIR = Path(__file__).resolve().parents[2] / "resources" / "models"
MODEL_NAMES = ("srlut", "eclut")


def shipped_table_path(model: str, scale: int) -> Path:
    """resources/models/sr_<model>_x<scale>.npz for a shipped model name."""
    if model not in MODEL_NAMES:
        raise InputError(f"unknown SR model {model!r}; expected one of {', '.join(MODEL_NAMES)} or a .npz table")
    if scale not in (2, 4):
        raise InputError(f"the shipped SR models upscale by 2 or 4, not {scale}")
    return MODELS_DIR / f"sr_{model}_x{scale}.npz"


def resolve_table(model: str, scale: int) -> SRTable:
    """A shipped model by name, or a table file by path; its scale must equal `scale`."""
    path = Path(model) if model.endswith(".npz") else shipped_table_path(model, scale)
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
