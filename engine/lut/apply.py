"""CPU application of a LUT3D: trilinear and tetrahedral interpolation, vectorised and tiled.

Both interpolations reproduce any LUT that is affine in RGB exactly (up to float rounding), which is
what the tests assert. Work is split into chunks of pixels so the temporaries of a 24 MP photo stay
small, and the chunks run on a thread pool (numpy releases the GIL inside its kernels).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lut.lut3d import LUT3D

INTERPOLATIONS = ("trilinear", "tetrahedral")
CHUNK_PIXELS = 1 << 16


def apply_lut(
    pixels: np.ndarray,
    lut: LUT3D,
    interpolation: str = "trilinear",
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Return `pixels` (H x W x 3 float32) seen through `lut`, mixed with the original by `strength`."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 image, got shape {pixels.shape}")
    flat = np.ascontiguousarray(pixels, dtype=np.float32).reshape(-1, 3)
    out = np.empty_like(flat)
    starts = range(0, flat.shape[0], CHUNK_PIXELS)
    total = len(starts)

    def run(start: int) -> None:
        check(cancel)
        stop = start + CHUNK_PIXELS
        looked_up = apply_lut_to_values(lut, flat[start:stop], interpolation)
        if strength != 1.0:
            looked_up -= flat[start:stop]
            looked_up *= np.float32(strength)
            looked_up += flat[start:stop]
        out[start:stop] = looked_up

    workers = min(os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(run, starts), start=1):
            progress(done / total, "applying LUT")
    return out.reshape(pixels.shape)


def apply_lut_to_values(lut: LUT3D, values: np.ndarray, interpolation: str = "tetrahedral") -> np.ndarray:
    """Look up an array of RGB triples (..., 3) in `lut`; returns a new float32 array of the same shape."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"unknown interpolation {interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")
    shape = values.shape
    rgb = np.asarray(values, dtype=np.float32).reshape(-1, 3)
    n = lut.size
    scale = (n - 1) / (lut.domain_max - lut.domain_min)
    pos = (rgb - lut.domain_min) * scale.astype(np.float32)
    np.clip(pos, 0.0, n - 1, out=pos)
    base = np.minimum(pos.astype(np.int32), n - 2)
    frac = pos - base
    index = base[:, 0] + n * (base[:, 1] + n * base[:, 2])
    table = lut.table.reshape(-1, 3)
    lookup = _tetrahedral if interpolation == "tetrahedral" else _trilinear
    return lookup(table, index, frac, n).reshape(shape)


def _trilinear(table: np.ndarray, index: np.ndarray, frac: np.ndarray, n: int) -> np.ndarray:
    fr, fg, fb = (frac[:, i : i + 1] for i in range(3))
    sg, sb = n, n * n

    def lerp_r(i: np.ndarray) -> np.ndarray:
        low = table[i]
        return low + fr * (table[i + 1] - low)

    plane0 = lerp_r(index)
    plane0 += fg * (lerp_r(index + sg) - plane0)
    plane1 = lerp_r(index + sb)
    plane1 += fg * (lerp_r(index + sb + sg) - plane1)
    plane0 += fb * (plane1 - plane0)
    return plane0


def _tetrahedral(table: np.ndarray, index: np.ndarray, frac: np.ndarray, n: int) -> np.ndarray:
    """Split the cell into 6 tetrahedra by the order of the fractions; 4 vertices weigh in."""
    fr, fg, fb = frac[:, 0], frac[:, 1], frac[:, 2]
    strides = np.array([1, n, n * n], dtype=np.int32)
    r_max = (fr >= fg) & (fr >= fb)
    g_max = ~r_max & (fg >= fb)
    b_min = (fb <= fg) & (fb <= fr)
    g_min = ~b_min & (fg <= fr) & (fg <= fb)
    max_axis = np.where(r_max, 0, np.where(g_max, 1, 2))
    min_axis = np.where(b_min, 2, np.where(g_min, 1, 0))
    f_max = np.take_along_axis(frac, max_axis[:, None], 1)
    f_min = np.take_along_axis(frac, min_axis[:, None], 1)
    f_mid = (fr + fg + fb)[:, None] - f_max - f_min
    first = index + strides[max_axis]
    second = index + (strides.sum() - strides[min_axis])
    corner = index + strides.sum()
    out = table[index] * (1.0 - f_max)
    out += table[first] * (f_max - f_mid)
    out += table[second] * (f_mid - f_min)
    out += table[corner] * f_min
    return out
