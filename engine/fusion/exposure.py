"""How much light each frame got: from EXIF (time, aperture, ISO) when every frame has it, else measured.

Ordering decides the reference (the middle exposure) and the EV labels shown to the user.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from engine.color import srgb_to_linear

EXIF_IFD = 0x8769
EXPOSURE_TIME, F_NUMBER, ISO_SPEED = 0x829A, 0x829D, 0x8827
_SAMPLE_STEP = 8  # brightness statistics on every 8th row and column: plenty, and 64x cheaper


def exif_exposure(exif: bytes | None) -> float | None:
    """Relative light of a shot, time * ISO / N^2 (f-number and ISO default to 'same as the others').

    None when the block is absent, unreadable or has no exposure time.
    """
    if not exif:
        return None
    from PIL import Image

    try:
        parsed = Image.Exif()
        parsed.load(exif)
        tags = {**dict(parsed), **dict(parsed.get_ifd(EXIF_IFD))}
        time = float(tags[EXPOSURE_TIME])
        f_number = float(tags.get(F_NUMBER) or 1.0)
        iso = tags.get(ISO_SPEED) or 100
        iso = float(iso[0] if isinstance(iso, tuple | list) else iso)
    except Exception:  # a broken or partial EXIF block only means "measure the pixels instead"
        return None
    if not all(math.isfinite(v) and v > 0 for v in (time, f_number, iso)):
        return None
    return time * iso / (f_number * f_number)


def _sample_linear(pixels: np.ndarray) -> np.ndarray:
    """Linear channel values of a regular pixel sample, pooled (clipping acts on each channel alone)."""
    return srgb_to_linear(np.asarray(pixels)[::_SAMPLE_STEP, ::_SAMPLE_STEP]).ravel()


def mean_brightness(pixels: np.ndarray) -> float:
    """Mean linear intensity of a frame (on a regular sample of pixels)."""
    return float(_sample_linear(pixels).mean())


def measured_ev(pixels: np.ndarray, reference: np.ndarray) -> float:
    """EV of a frame relative to the reference, from matching brightness quantiles well exposed in both.

    Quantiles do not care where things are, so this works before alignment and with moving objects.
    """
    levels = np.linspace(1, 99, 99)
    a = np.percentile(_sample_linear(pixels), levels)
    b = np.percentile(_sample_linear(reference), levels)
    usable = (a > 0.005) & (a < 0.8) & (b > 0.005) & (b < 0.8)
    if not np.any(usable):
        return math.log2(max(float(a.mean()), 1e-6) / max(float(b.mean()), 1e-6))
    return float(np.median(np.log2(a[usable] / b[usable])))


def exposure_order(exposures: Sequence[float]) -> list[int]:
    """Indices from the darkest to the brightest frame (stable for equal exposures)."""
    return sorted(range(len(exposures)), key=lambda i: exposures[i])


def frame_exposures(exifs: Sequence[bytes | None], frames: Sequence[np.ndarray]) -> tuple[list[float], bool]:
    """(exposure of every frame, whether it came from EXIF): EXIF only when every frame has it."""
    from_exif = [exif_exposure(e) for e in exifs]
    if all(v is not None for v in from_exif):
        return [float(v) for v in from_exif if v is not None], True
    return [mean_brightness(f) for f in frames], False


def relative_evs(
    exposures: Sequence[float], from_exif: bool, frames: Sequence[np.ndarray], reference: int
) -> list[float]:
    """EV of every frame relative to frames[reference]: log2 of the EXIF ratio, else measured from pixels."""
    if from_exif:
        return [math.log2(e / exposures[reference]) for e in exposures]
    return [0.0 if i == reference else measured_ev(f, frames[reference]) for i, f in enumerate(frames)]
