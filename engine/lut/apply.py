"""CPU application of a LUT3D: trilinear and tetrahedral interpolation, vectorised, tiled and threaded.

Both interpolations reproduce any LUT that is affine in RGB exactly (up to float rounding), which is
what the tests assert. A LUT with a 1D shaper runs the shaper on each chunk first (`LUT1D.apply`).

Speed comes from the memory layout, not from cleverness in the arithmetic:
- the table is split into one contiguous float32 plane per output channel, so every corner fetch is a
  scalar `np.take` (about 1 ns) rather than a fancy-indexed row gather (tens of ns);
- the lattice index of a pixel is computed once in float32 (exact: N^3 <= 2^24) and cast once;
- pixels go through in chunks of CHUNK_PIXELS, small enough that every temporary stays in cache,
  and chunks run on a few threads (numpy releases the GIL inside its kernels).
Temporaries are per chunk, so a 24-megapixel photo needs its input and output plus a few MB.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lut.lut3d import LUT3D

INTERPOLATIONS = ("trilinear", "tetrahedral")
DEFAULT_INTERPOLATION = "tetrahedral"  # everywhere (CPU, GPU preview, adaptive presets): ffmpeg's lut3d default
CHUNK_PIXELS = 1 << 14
MAX_THREADS = 4
_thread_cap = MAX_THREADS

# Tetrahedral: the cell is cut into 6 tetrahedra by the order of the fractions (fr, fg, fb). A pixel's
# tetrahedron is numbered 4*(fr >= fg) + 2*(fg >= fb) + (fr >= fb); this lists its axes from the largest
# fraction to the smallest. Numbers 1 and 6 cannot occur (their comparisons contradict each other).
_TETRAHEDRON_AXES = ("bgr", "rgb", "gbr", "grb", "brg", "rbg", "rgb", "rgb")


def apply_lut(
    pixels: np.ndarray,
    lut: LUT3D,
    interpolation: str = "tetrahedral",
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Return `pixels` (H x W x 3 float32) seen through `lut`, mixed with the original by `strength`."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 image, got shape {pixels.shape}")
    sample = _sampler(lut, interpolation)
    flat = np.ascontiguousarray(pixels, dtype=np.float32).reshape(-1, 3)
    out = np.empty_like(flat)
    weight = np.float32(strength)
    starts = range(0, flat.shape[0], CHUNK_PIXELS)

    def run(start: int) -> None:
        check(cancel)
        source, target = flat[start : start + CHUNK_PIXELS], out[start : start + CHUNK_PIXELS]
        sample(source if lut.shaper is None else lut.shaper.apply(source), target)
        if strength != 1.0:
            target -= source
            target *= weight
            target += source

    workers = min(os.cpu_count() or 1, _thread_cap, len(starts))
    if workers <= 1:
        for done, start in enumerate(starts, start=1):
            run(start)
            progress(done / len(starts), "applying LUT")
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done, _ in enumerate(pool.map(run, starts), start=1):
                progress(done / len(starts), "applying LUT")
    return out.reshape(pixels.shape)


def limit_threads(count: int) -> None:
    """Cap the threads `apply_lut` starts (a batch worker says 1: the other cores run its sibling workers)."""
    global _thread_cap
    _thread_cap = max(1, min(int(count), MAX_THREADS))


def apply_lut_in_place(
    samples: np.ndarray,
    peak: float,
    lut: LUT3D,
    interpolation: str = "trilinear",
    strength: float = 1.0,
    *,
    band_pixels: int = 1 << 20,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> None:
    """Grade decoded samples (H x W x 3|4, uint8/uint16, or float with `peak` 1) in place, a band of rows
    at a time: memory is the photo at its own bit depth plus one band in float32. The result equals
    quantizing `apply_lut(samples / peak)` (alpha, a 4th channel, is left alone)."""
    from engine.image import quantize

    if samples.ndim != 3 or samples.shape[2] not in (3, 4):
        raise InputError(f"expected H x W x 3 or 4 samples, got shape {samples.shape}")
    rows = max(1, band_pixels // max(samples.shape[1], 1))
    tops = range(0, samples.shape[0], rows)
    for done, top in enumerate(tops, start=1):
        band = samples[top : top + rows, :, :3]
        pixels = band.astype(np.float32) / np.float32(peak)
        graded = apply_lut(pixels, lut, interpolation, strength, cancel=cancel)
        band[...] = graded if samples.dtype.kind == "f" else quantize(graded, 8 if samples.dtype == np.uint8 else 16)
        progress(done / len(tops), "applying LUT")


class ColourTable:
    """The graded 8-bit value of every 24-bit colour met so far under one LUT.

    Why: a 12 MP photo holds a few hundred thousand distinct colours, and a shoot graded with one LUT shares
    most of them, so grading an 8-bit photo becomes one table look-up per pixel plus the interpolation of
    the colours not met before. Each new colour goes through `apply_lut_in_place`, so the bytes are exactly
    its bytes. Memory: 96 MB of tables (touched pages only) plus 4 bytes per pixel of the photo graded.
    """

    def __init__(self, lut: LUT3D, interpolation: str = "tetrahedral", strength: float = 1.0) -> None:
        check_interpolation(interpolation)
        self.lut, self.interpolation, self.strength = lut, interpolation, strength
        self.graded = np.zeros(1 << 24, "<u4")  # r | g << 8 | b << 16, little-endian: its bytes are r, g, b, 0
        self.known = np.zeros(1 << 24, bool)

    def apply_in_place(self, samples: np.ndarray, *, band_rows: int = 256, cancel: CancelToken | None = None) -> None:
        """Grade H x W x 3|4 uint8 samples in place (alpha, a 4th channel, is left alone)."""
        if samples.dtype != np.uint8 or samples.ndim != 3 or samples.shape[2] not in (3, 4):
            raise InputError(f"expected H x W x 3 or 4 uint8 samples, got {samples.dtype} {samples.shape}")
        codes = np.empty(samples.shape[:2], "<u4")
        seen = np.zeros(1 << 24, bool)
        for top in range(0, samples.shape[0], band_rows):
            check(cancel)
            band, code = samples[top : top + band_rows], codes[top : top + band_rows]
            code[...] = band[..., 2]
            code <<= 8
            code |= band[..., 1]
            code <<= 8
            code |= band[..., 0]
            seen[code] = True
        seen &= ~self.known
        self._learn(np.flatnonzero(seen))
        for top in range(0, samples.shape[0], band_rows):
            code = codes[top : top + band_rows]
            graded = np.take(self.graded, code).view(np.uint8).reshape(*code.shape, 4)
            band = samples[top : top + band_rows]
            if samples.shape[2] == 3 and band.flags.c_contiguous:
                _drop_fourth_byte(graded, band)
            else:
                band[..., :3] = graded[..., :3]

    def _learn(self, colours: np.ndarray) -> None:
        if not colours.size:
            return
        block = np.empty((colours.size, 1, 3), np.uint8)
        for channel in range(3):
            block[:, 0, channel] = (colours >> (8 * channel)) & 255
        apply_lut_in_place(block, 255.0, self.lut, self.interpolation, self.strength)
        packed = block[:, 0, 2].astype("<u4") << 16
        packed |= block[:, 0, 1].astype("<u4") << 8
        packed |= block[:, 0, 0]
        self.graded[colours] = packed
        self.known[colours] = True


def _drop_fourth_byte(rgbx: np.ndarray, rgb: np.ndarray) -> None:
    """rgb[...] = rgbx[..., :3], with OpenCV's vector copy (numpy's 3-byte inner loop is 6x slower)."""
    import cv2

    cv2.cvtColor(rgbx, cv2.COLOR_RGBA2RGB, dst=rgb)


def apply_lut_to_values(lut: LUT3D, values: np.ndarray, interpolation: str = "tetrahedral") -> np.ndarray:
    """Look up an array of RGB triples (..., 3) in `lut`; returns a new float32 array of the same shape."""
    sample = _sampler(lut, interpolation)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, 3)
    out = np.empty_like(flat)
    for start in range(0, flat.shape[0], CHUNK_PIXELS):
        chunk = flat[start : start + CHUNK_PIXELS]
        sample(chunk if lut.shaper is None else lut.shaper.apply(chunk), out[start : start + CHUNK_PIXELS])
    return out.reshape(np.shape(values))


Sampler = Callable[[np.ndarray, np.ndarray], None]


def check_interpolation(interpolation: str) -> None:
    """Raise InputError unless `interpolation` is one of INTERPOLATIONS (shared by the CPU and GPU paths)."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"unknown interpolation {interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")


def _sampler(lut: LUT3D, interpolation: str) -> Sampler:
    """A function that writes the interpolated LUT values of an (M, 3) chunk into an (M, 3) output."""
    check_interpolation(interpolation)
    lattice = _Lattice(lut)
    return lattice.trilinear if interpolation == "trilinear" else lattice.tetrahedral


class _Lattice:
    """The LUT as per-channel planes, plus the arithmetic that locates a colour in its cell."""

    def __init__(self, lut: LUT3D) -> None:
        n = lut.size
        self.n = n
        self.planes = np.ascontiguousarray(lut.table.reshape(-1, 3).T)  # (3, N^3), red fastest
        self.scale = ((n - 1) / (lut.domain_max - lut.domain_min)).astype(np.float32)
        self.offset = (-lut.domain_min * self.scale).astype(np.float32)
        self.stride = {"r": 1, "g": n, "b": n * n}
        axes = _TETRAHEDRON_AXES
        self.first_step = np.array([self.stride[a[0]] for a in axes], np.intp)
        self.second_step = np.array([self.stride[a[0]] + self.stride[a[1]] for a in axes], np.intp)

    def locate(self, rgb: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Flat index of each colour's cell corner and its (fr, fg, fb) position inside the cell."""
        top = np.float32(self.n - 1)
        fractions, index = [], None
        for channel, step in ((2, self.n * self.n), (1, self.n), (0, 1)):  # blue first: index = b*N^2 + g*N + r
            pos = rgb[:, channel] * self.scale[channel]
            pos += self.offset[channel]
            np.fmax(pos, 0, out=pos)  # fmax/fmin also send NaN to the domain edge instead of a wild index
            np.fmin(pos, top, out=pos)
            corner = np.floor(pos)
            np.minimum(corner, top - 1, out=corner)
            pos -= corner
            fractions.append(pos)
            if index is None:
                index = corner * np.float32(step)
            else:
                index += corner if step == 1 else corner * np.float32(step)
        fb, fg, fr = fractions
        return index.astype(np.intp), [fr, fg, fb]

    def trilinear(self, rgb: np.ndarray, out: np.ndarray) -> None:
        index, (fr, fg, fb) = self.locate(rgb)
        n = self.n
        corner_offsets = (0, 1, n, n + 1, n * n, n * n + 1, n * n + n, n * n + n + 1)
        for channel, plane in enumerate(self.planes):
            # plane[offset:] is a view, so each corner costs one gather and no index arithmetic.
            v = [np.take(plane[offset:], index) for offset in corner_offsets]
            for low, high, frac in ((0, 1, fr), (2, 3, fr), (4, 5, fr), (6, 7, fr), (0, 2, fg), (4, 6, fg), (0, 4, fb)):
                v[high] -= v[low]  # v[low] += frac * (v[high] - v[low]), without temporaries
                v[high] *= frac
                v[low] += v[high]
            out[:, channel] = v[0]

    def tetrahedral(self, rgb: np.ndarray, out: np.ndarray) -> None:
        index, (fr, fg, fb) = self.locate(rgb)
        tetrahedron = (fr >= fg).view(np.int8) * np.int8(4)
        tetrahedron += (fg >= fb).view(np.int8) * np.int8(2)
        tetrahedron += (fr >= fb).view(np.int8)
        f_max = np.maximum(np.maximum(fr, fg), fb)
        f_min = np.minimum(np.minimum(fr, fg), fb)
        f_mid = fr + fg
        f_mid += fb
        f_mid -= f_max
        f_mid -= f_min
        # Barycentric weights of the 4 vertices: 1 - f_max, f_max - f_mid, f_mid - f_min, f_min.
        weights = (np.float32(1) - f_max, f_max - f_mid, f_mid - f_min, f_min)
        n = self.n
        first = index + self.first_step[tetrahedron]
        second = index + self.second_step[tetrahedron]
        for channel, plane in enumerate(self.planes):
            total = np.take(plane, index)
            total *= weights[0]
            # The far corner is index + 1 + N + N^2: gathered from a shifted view of the plane.
            for source, vertex, weight in ((plane, first, weights[1]), (plane, second, weights[2]),
                                           (plane[1 + n + n * n :], index, weights[3])):
                term = np.take(source, vertex)
                term *= weight
                total += term
            out[:, channel] = total
