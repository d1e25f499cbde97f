"""CPU application of a LUT3D to photos: the interpolation kernel (engine.lut.sampling), tiled and threaded.

Both interpolations reproduce any LUT that is affine in RGB exactly (up to float rounding), which is
what the tests assert. A LUT with a 1D shaper runs the shaper on each chunk first (`LUT1D.apply`).
Pixels go through in chunks of CHUNK_PIXELS and chunks run on a few threads (numpy releases the GIL inside
its kernels), so a 24-megapixel photo needs its input and output plus a few MB.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lut.lut3d import LUT3D
from engine.lut.sampling import CHUNK_PIXELS, check_interpolation, sampler

MAX_THREADS = 4
_thread_cap = MAX_THREADS


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
    sample = sampler(lut, interpolation)
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
        self._seen = np.zeros(1 << 24, bool)

    def retarget(self, lut: LUT3D, interpolation: str = "tetrahedral", strength: float = 1.0) -> None:
        """Grade with another LUT from now on, keeping the memory (a preset's LUT per photo in a batch)."""
        check_interpolation(interpolation)
        self.lut, self.interpolation, self.strength = lut, interpolation, strength
        self.known.fill(False)

    def apply_in_place(self, samples: np.ndarray, *, band_rows: int = 256, cancel: CancelToken | None = None) -> None:
        """Grade H x W x 3|4 uint8 samples in place (alpha, a 4th channel, is left alone)."""
        if samples.dtype != np.uint8 or samples.ndim != 3 or samples.shape[2] not in (3, 4):
            raise InputError(f"expected H x W x 3 or 4 uint8 samples, got {samples.dtype} {samples.shape}")
        codes = np.empty(samples.shape[:2], "<u4")
        seen = self._seen
        seen.fill(False)
        for top in range(0, samples.shape[0], band_rows):
            check(cancel)
            code = codes[top : top + band_rows]
            _pack_colours(samples[top : top + band_rows], code)
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


def _pack_colours(band: np.ndarray, code: np.ndarray) -> None:
    """code[...] = r | g << 8 | b << 16 of an H x W x 3|4 uint8 band. OpenCV writes r, g, b, 255 into the code's
    bytes and a mask clears the 255: a quarter of the CPU time of numpy's strided shifts (0.08 s per 12 MP)."""
    import cv2

    if band.shape[2] == 3 and band.flags.c_contiguous:
        cv2.cvtColor(band, cv2.COLOR_RGB2RGBA, dst=code.view(np.uint8).reshape(*code.shape, 4))
    else:
        code[...] = band[..., 2]
        code <<= 8
        code |= band[..., 1]
        code <<= 8
        code |= band[..., 0]
    code &= 0xFFFFFF


def _drop_fourth_byte(rgbx: np.ndarray, rgb: np.ndarray) -> None:
    """rgb[...] = rgbx[..., :3], with OpenCV's vector copy (numpy's 3-byte inner loop is 6x slower)."""
    import cv2

    cv2.cvtColor(rgbx, cv2.COLOR_RGBA2RGB, dst=rgb)
