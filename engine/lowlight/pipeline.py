"""Low-light rescue without a net: brighten in linear light, denoise with the photo's own noise model.

One module because the two passes share the strip and halo geometry and the small-image maps (the
noise model, the wavelet shrinkage and the exposure live in their own modules).

Torch-free (numpy + OpenCV), so the editor and the CLI start it at once. What it does, per photo:

1. **Noise model.** A dark shot's noise is signal-dependent: variance = a * I + b in linear light (shot
   noise grows with the signal, read noise does not). `estimate_noise` fits a and b from the photo:
   per 8 x 8 block, the mean and the variance of the diagonal pixel difference (little texture leaks
   into it), then per brightness bin a low quantile of those variances (flat blocks), then a weighted
   line through the bins, leaving out the bins so near black that clipping at 0 shrinks their variance (judged
   by the fitted line's sigma, not by the bin's own shrunken one, and refitted: on dark photos the read noise b
   came out at 0.35-0.6x the truth otherwise, which lifts the blacks). Where bins were left out, that line then
   starts a fit that brings them back with the clip modelled (a clipped normal's mean and variance), so photos
   that are mostly near black keep their read noise too.
2. **Stabilise.** The generalised Anscombe transform turns that noise into unit-variance noise, so one
   denoiser fits every brightness. Its inverse is exact for clipped data: a table of the expected
   transformed value of max(0, signal + noise) per true signal, inverted. This removes the positive
   bias that clipping at 0 leaves in the shadows (the "milky blacks" of a plain brighten + denoise).
3. **Denoise in two scales.** The photo is box-averaged by a power of two `s` to about `work_pixels`.
   There, colour is denoised in an opponent space (luma and two chroma axes) with an a-trous wavelet
   and a local shrinkage per band, (max(0, E - noise) / E) ** p with E the local band energy: texture
   whose energy stands above the noise stays, flat areas go smooth. p = 1 (Wiener) smears texture
   near the noise level; the luma bands use p = 3/4, which keeps more of it; chroma is shrunk further.
   At full resolution only the grey is processed: its detail above the small image's scale is split
   into wavelet bands and Wiener-shrunk the same way.
4. **Brightness.** Brightening is a gain in linear light (the camera's exposure), so hue and chroma
   follow the denoised input. Automatic exposure maps the 99.9th percentile of the denoised max
   channel to white: the brightest part of a photo is usually white or clipped, and where it is not
   (fog, blue hour, a grey wallpaper) this cue is too bright, never too dark. So it is an upper bound,
   and a second cue, the log-average luminance mapped to a key, pulls the gain down (a geometric blend)
   where it asks for less light. Both were fit on the corpus train split; photos with no white and a
   dark key still come out too bright. An exposure given by the user overrides it. `gamma` < 1 lifts
   shadows more than highlights (a local tone map on a smoothed illumination); the default 1 keeps the
   photo's own contrast.
5. **Colour to full resolution.** Per small window, each output channel is fitted as a linear function
   of the grey (a guided-filter fit); the coefficients, upsampled, are applied to the full-resolution
   denoised grey. The full-resolution pass runs in strips of rows, so memory stays bounded.
6. **Grain.** A small, fixed amount of the removed luma residual (`grain` 8-bit levels of output, so
   the same at every exposure) is kept: the denoiser stops at an invisible grain instead of a plastic
   look, and faint texture buried in the noise keeps a trace.

Every setting (`Settings`) was chosen on the corpus train and validation splits (bench/lowlight.py
reports the test split).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.color import linear_to_srgb, srgb_to_linear
from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lowlight import DENOISE_RANGE, EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA
from engine.lowlight.exposure import auto_exposure, tone_lift
from engine.lowlight.noise import NoiseModel, Stabiliser, estimate_noise
from engine.lowlight.settings import SETTINGS, Settings
from engine.lowlight.wavelet import atrous_bands, box_mean, calibrate, denoise_colour, shrink, wavelet_denoise

STRIP_ROWS = 256
Denoiser = Callable[[np.ndarray], np.ndarray]  # small sRGB image -> denoised small sRGB image (a net)

# ---------------------------------------------------------------------------------------- guided fit


def _guided(guide: np.ndarray, target: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """He et al.'s guided filter: per window target_c ~ A_c * guide + B_c; returns window-averaged (A, B)."""
    mean_g = box_mean(guide, radius)
    var_g = box_mean(guide * guide, radius) - mean_g * mean_g
    mean_t = box_mean(target, radius)
    cov = box_mean(target * guide[..., None], radius) - mean_t * mean_g[..., None]
    a = cov / (var_g[..., None] + np.float32(eps))
    b = mean_t - a * mean_g[..., None]
    return box_mean(a, radius), box_mean(b, radius)


# ---------------------------------------------------------------------------------------- the pipeline


def check_controls(exposure: float | None, gamma: float, strength: float, denoise: float) -> None:
    if not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
        raise InputError(f"gamma {gamma} is outside {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]}")
    if exposure is not None and not EXPOSURE_RANGE[0] <= exposure <= EXPOSURE_RANGE[1]:
        raise InputError(f"exposure {exposure} is outside {EXPOSURE_RANGE[0]}..{EXPOSURE_RANGE[1]}")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength {strength} is outside 0..1")
    if not DENOISE_RANGE[0] <= denoise <= DENOISE_RANGE[1]:
        raise InputError(f"denoise {denoise} is outside {DENOISE_RANGE[0]}..{DENOISE_RANGE[1]}")


def check_pixels(pixels: np.ndarray) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.float32:
        raise InputError(f"low-light input must be float32 H x W x 3, got {pixels.dtype} {pixels.shape}")
    if min(pixels.shape[:2]) < 8:
        raise InputError(f"low-light input is too small ({pixels.shape[1]}x{pixels.shape[0]}); need 8 px or more")


def work_factor(height: int, width: int, work_pixels: int) -> int:
    """The power of two s that box-averages the photo to at most `work_pixels` (1 for small photos)."""
    factor = 1
    while height * width > work_pixels * factor * factor and min(height, width) >= 32 * factor:
        factor *= 2
    return factor


@dataclass
class Result:
    """What `enhance_details` measured and chose, beside the pixels."""

    pixels: np.ndarray
    noise: NoiseModel
    exposure: float
    factor: int


def enhance(pixels: np.ndarray, **options: Any) -> np.ndarray:
    """Brighten and denoise a dark sRGB photo (float32 H x W x 3 in [0, 1]); returns a new array.

    The options are `enhance_details`'s (exposure, gamma, strength, denoise, ...).
    """
    return enhance_details(pixels, **options).pixels


def enhance_details(
    pixels: np.ndarray,
    *,
    exposure: float | None = None,
    gamma: float = OUTPUT_GAMMA,
    strength: float = 1.0,
    denoise: float = 1.0,
    settings: Settings = SETTINGS,
    denoiser: Denoiser | None = None,
    noise: NoiseModel | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Result:
    """`enhance`, returning also the noise model, the exposure used and the work factor.

    exposure: linear gain (None: chosen per photo); gamma < 1 lifts shadows more; strength blends with
    the input (0 = unchanged); denoise scales the noise reduction (0 = none, 1 = tuned); `noise` skips the
    noise measurement (a model measured before).
    """
    check_pixels(pixels)
    check_controls(exposure, gamma, strength, denoise)
    height, width = pixels.shape[:2]
    progress(0.0, "low-light: measuring the noise")
    noise = noise or estimate_noise(pixels)
    check(cancel)
    factor = work_factor(height, width, settings.work_pixels)
    grey_stabiliser = Stabiliser(NoiseModel(noise.a / 3, noise.b / 3)) if factor > 1 else None
    small, low, grey_v = _first_pass(pixels, factor, grey_stabiliser, progress, cancel)
    progress(0.3, "low-light: denoising a reduced copy")
    if denoiser is not None:
        small_d, residual = srgb_to_linear(np.clip(denoiser(linear_to_srgb(small)), 0.0, 1.0)), None
    else:
        small_d, residual = denoise_colour(small, noise, factor * factor, settings, denoise)
    check(cancel)
    gain = auto_exposure(small_d, settings) if exposure is None else float(exposure)
    enhanced = small_d * np.float32(gain)
    lift = tone_lift(small_d, gamma, settings)
    if lift is not None:
        enhanced *= lift[..., None]
    np.clip(enhanced, 0.0, 1.0, out=enhanced)
    grain = np.float32(settings.grain / 255.0) if denoise > 0 and denoiser is None else np.float32(0.0)
    if factor == 1:
        out = linear_to_srgb(enhanced)
        if residual is not None and grain > 0:
            out += grain * residual[..., None]
        out = _blend(pixels, np.clip(out, 0.0, 1.0, out=out), strength)
        progress(1.0, "low-light: done")
        return Result(out, noise, gain, factor)
    progress(0.45, "low-light: full resolution")
    assert grey_stabiliser is not None and low is not None and grey_v is not None  # factor > 1 made them
    low_d = wavelet_denoise(
        low,
        1.0 / (factor * factor),
        settings.levels,
        denoise * settings.luma_k,
        settings.luma_radius,
        power=settings.luma_power,
    )
    guide = grey_stabiliser.inverse(low_d)
    eps = settings.fit_eps * float(guide.mean()) ** 2 + 1e-12
    a, b = _guided(guide, enhanced, settings.fit_radius, eps)
    maps = {"low": low, "low_d": low_d, "a": a, "b": b}
    out = _second_pass(
        pixels, grey_v, maps, factor, grey_stabiliser, settings, denoise, grain, strength, progress, cancel
    )
    progress(1.0, "low-light: done")
    return Result(out, noise, gain, factor)


@dataclass(frozen=True)
class Measurement:
    """What `measure` finds in a photo: its noise model and the automatic exposure."""

    noise: NoiseModel
    exposure: float


def measure(pixels: np.ndarray, *, settings: Settings = SETTINGS, cancel: CancelToken | None = None) -> Measurement:
    """The noise model and automatic exposure `enhance` would use on this photo, without the full-resolution
    pass (the editor measures the whole photo once and previews a small copy with the same exposure)."""
    check_pixels(pixels)
    noise = estimate_noise(pixels)
    factor = work_factor(pixels.shape[0], pixels.shape[1], settings.work_pixels)
    small, _, _ = _first_pass(pixels, factor, None, no_progress, cancel)
    small_d, _ = denoise_colour(small, noise, factor * factor, settings)
    return Measurement(noise, auto_exposure(small_d, settings))


def _blend(source: np.ndarray, result: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return result
    result -= source
    result *= np.float32(strength)
    result += source
    return result


def _first_pass(
    pixels: np.ndarray,
    factor: int,
    grey_stabiliser: Stabiliser | None,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Linear light box-averaged by `factor` (edges replicated to whole blocks), and for factor > 1 with a
    grey stabiliser also the full-resolution stabilised grey and its box average."""
    import cv2

    height, width = pixels.shape[:2]
    if factor == 1:
        return srgb_to_linear(np.clip(pixels, 0.0, 1.0)), None, None
    small_h, small_w = -(-height // factor), -(-width // factor)
    small = np.empty((small_h, small_w, 3), np.float32)
    low = np.empty((small_h, small_w), np.float32) if grey_stabiliser else None
    grey_v = np.empty((height, width), np.float32) if grey_stabiliser else None
    third = np.full((1, 3), 1 / 3, np.float32)
    rows = max(factor, STRIP_ROWS // factor * factor)
    for top in range(0, height, rows):
        check(cancel)
        bottom = min(top + rows, height)
        linear = srgb_to_linear(np.clip(pixels[top:bottom], 0.0, 1.0))
        first = top // factor
        block_rows = -(-(bottom - top) // factor)
        small[first : first + block_rows] = block_mean(linear, factor)
        if grey_stabiliser is not None and low is not None and grey_v is not None:
            grey_v[top:bottom] = grey_stabiliser.forward(cv2.transform(linear, third))
            low[first : first + block_rows] = block_mean(grey_v[top:bottom], factor)
        progress(0.3 * bottom / height, "low-light: reading")
    return small, low, grey_v


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks; a last partial block (rows or columns) repeats its edge pixels."""
    import cv2

    h, w = image.shape[:2]
    pad_h, pad_w = -h % factor, -w % factor
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
    return cv2.resize(image, ((w + pad_w) // factor, (h + pad_h) // factor), interpolation=cv2.INTER_AREA)


def upsample(small: np.ndarray, factor: int, top: int, bottom: int, width: int) -> np.ndarray:
    """Rows top..bottom (full resolution, multiples of `factor` or the photo's end) of the small image
    upsampled bilinearly by `factor` (half-pixel centres, edges replicated), cropped to `width`.

    One small row of margin on each side makes the rows inside exactly those of upsampling it whole.
    """
    import cv2

    first, last = max(top // factor - 1, 0), min(-(-bottom // factor) + 1, small.shape[0])
    full = cv2.resize(
        small[first:last], (small.shape[1] * factor, (last - first) * factor), interpolation=cv2.INTER_LINEAR
    )
    return full[top - first * factor : bottom - first * factor, :width]


def _detail_bands(detail: np.ndarray, factor: int) -> list[np.ndarray]:
    """The full-resolution grey's detail above the small image: log2(factor) a-trous bands and the rest."""
    return atrous_bands(detail, int(math.log2(factor)))


def _detail_unit_variances(factor: int) -> list[float]:
    def bands(noise: np.ndarray) -> list[np.ndarray]:
        low = block_mean(noise, factor)
        return _detail_bands(noise - upsample(low, factor, 0, noise.shape[0], noise.shape[1]), factor)

    return calibrate(("detail", factor), bands)


def _second_pass(
    pixels: np.ndarray,
    grey_v: np.ndarray,
    maps: dict[str, np.ndarray],
    factor: int,
    grey_stabiliser: Stabiliser,
    settings: Settings,
    denoise: float,
    grain: np.float32,
    strength: float,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> np.ndarray:
    """Denoise the full-resolution grey (small-image coarse part + shrunk detail bands), apply the colour fit."""
    height, width = pixels.shape[:2]
    unit = _detail_unit_variances(factor)
    halo = -(-(4 * factor + 2 * settings.detail_radius + 4) // factor) * factor
    rows = max(factor, STRIP_ROWS // factor * factor)
    out = np.empty_like(pixels)
    for top in range(0, height, rows):
        check(cancel)
        bottom = min(top + rows, height)
        t0, t1 = max(top - halo, 0), min(bottom + halo, height)
        grey = grey_v[t0:t1]
        bands = _detail_bands(grey - upsample(maps["low"], factor, t0, t1, width), factor)
        total = upsample(maps["low_d"], factor, t0, t1, width)
        for level, (band, variance) in enumerate(zip(bands, unit, strict=True)):
            k = settings.fine_k if level == 0 else settings.detail_k
            total += shrink(band, denoise * k * variance, settings.detail_radius)
        inner = slice(top - t0, bottom - t0)
        total = total[inner]
        grey_d = grey_stabiliser.inverse(total)
        result = upsample(maps["a"], factor, top, bottom, width)
        result *= grey_d[..., None]
        result += upsample(maps["b"], factor, top, bottom, width)
        np.clip(result, 0.0, 1.0, out=result)
        result = linear_to_srgb(result)
        if grain > 0:
            kept = grey[inner] - total
            kept *= grain
            result += kept[..., None]
        np.clip(result, 0.0, 1.0, out=result)
        out[top:bottom] = _blend(pixels[top:bottom], result, strength)
        progress(0.45 + 0.55 * bottom / height, "low-light: full resolution")
    return out
