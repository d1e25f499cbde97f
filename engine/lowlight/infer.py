"""Low-light enhancement at full resolution: the PairLIE nets at a reduced size, carried up edge-aware.

Running the nets on every pixel of a 12 MP photo costs minutes and GBs on a CPU. The fast path
instead (1) box-averages the photo to about `WORK_PIXELS`, which also averages most noise away,
(2) runs N, L and R there and forms I = min(1, exposure * L**gamma) * R, (3) fits, per window of the small image, each
output channel as a linear function of the input's grey (a guided-filter fit), and (4) applies the
bilinearly upsampled coefficients to the full-resolution grey after an edge-preserving denoise of it
(a self-guided filter whose epsilon follows the measured noise), in strips of rows so memory stays
bounded. Colour comes from the small, clean estimate; fine detail from the full-resolution photo.

Brightness: with the paper's fixed I = L**gamma * R the exponent alone sets the brightness, and the best
value differs per photo. Here gamma only shapes the tone (how much more shadows are lifted than
highlights) and an exposure factor, I = min(1, exposure * L**gamma) * R, sets the brightness; by default
the exposure is chosen per photo so the result's mean reaches `AUTO_TARGET_MEAN`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lowlight import EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA
from engine.lowlight.model import RECEPTIVE_RADIUS, PairLIE, enhance_from_maps, load_model

SHIPPED_WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "models" / "lowlight.safetensors"
WORK_PIXELS = 700_000  # the nets' working size on the fast path (~965 x 725)
AUTO_TARGET_MEAN = 0.42  # mean sRGB value auto exposure aims at (typical well-exposed photos: 0.38-0.45)
FIT_RADIUS = 2  # window radius of the guided fit, in small-image pixels
FIT_EPS_RELATIVE = 0.02  # guided-fit epsilon, as a fraction of the photo's mean grey (then squared)
DENOISE_RADIUS = 2  # window radius of the full-resolution Wiener-like denoise
DENOISE_NOISE_FACTOR = 2.0  # its noise variance: this factor times the measured sigma squared
STRIP_ROWS = 256
NET_TILE = 384


@functools.lru_cache(maxsize=2)
def shipped_model(path: Path = SHIPPED_WEIGHTS) -> PairLIE:
    """The shipped weights, loaded once per process."""
    return load_model(path)[0]


def _check_pixels(pixels: np.ndarray) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.float32:
        raise InputError(f"low-light input must be float32 H x W x 3, got {pixels.dtype} {pixels.shape}")
    if min(pixels.shape[:2]) < 8:
        raise InputError(f"low-light input is too small ({pixels.shape[1]}x{pixels.shape[0]}); need 8 px or more")


def _check_controls(gamma: float, exposure: float | None, strength: float) -> None:
    if not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
        raise InputError(f"gamma {gamma} is outside {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]}")
    if exposure is not None and not EXPOSURE_RANGE[0] <= exposure <= EXPOSURE_RANGE[1]:
        raise InputError(f"exposure {exposure} is outside {EXPOSURE_RANGE[0]}..{EXPOSURE_RANGE[1]}")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength {strength} is outside 0..1")


def choose_exposure(
    illumination: torch.Tensor, reflectance: torch.Tensor, gamma: float, target: float = AUTO_TARGET_MEAN
) -> float:
    """The exposure whose result min(1, e * L**gamma) * R has mean `target` (bisection in log space).

    The mean grows with the exposure; the answer is clamped to EXPOSURE_RANGE. Means are taken on every
    fourth row and column: plenty for a mean, a sixteenth of the work.
    """
    lifted = enhance_from_maps(illumination[..., ::4, ::4], torch.ones_like(reflectance[..., :1, ::4, ::4]), gamma)
    reflectance = reflectance[..., ::4, ::4]
    low, high = np.log(EXPOSURE_RANGE[0]), np.log(EXPOSURE_RANGE[1])
    for _ in range(24):
        middle = 0.5 * (low + high)
        if float(((lifted * float(np.exp(middle))).clamp_(max=1.0) * reflectance).mean()) < target:
            low = middle
        else:
            high = middle
    return float(np.exp(0.5 * (low + high)))


def _to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


def run_nets_tiled(
    model: PairLIE,
    image: torch.Tensor,
    *,
    tile: int = NET_TILE,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, R) of a 1 x 3 x H x W image, computed in overlapping tiles so activations stay bounded."""
    _, _, height, width = image.shape
    halo = RECEPTIVE_RADIUS + 6
    illumination = torch.empty(1, 1, height, width)
    reflectance = torch.empty(1, 3, height, width)
    boxes = [(top, left) for top in range(0, height, tile) for left in range(0, width, tile)]
    with torch.inference_mode():
        for index, (top, left) in enumerate(boxes):
            check(cancel)
            bottom, right = min(top + tile, height), min(left + tile, width)
            t0, l0 = max(top - halo, 0), max(left - halo, 0)
            t1, l1 = min(bottom + halo, height), min(right + halo, width)
            lit, refl, _ = model(image[:, :, t0:t1, l0:l1])
            inner = (slice(None), slice(None), slice(top - t0, bottom - t0), slice(left - l0, right - l0))
            illumination[:, :, top:bottom, left:right] = lit[inner]
            reflectance[:, :, top:bottom, left:right] = refl[inner]
            progress((index + 1) / len(boxes), "low-light nets")
    return illumination, reflectance


def enhance_full(
    pixels: np.ndarray,
    model: PairLIE | None = None,
    *,
    gamma: float = OUTPUT_GAMMA,
    exposure: float | None = None,
    strength: float = 1.0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Reference path: the nets on every pixel (slow; the benchmark's yardstick for the fast path)."""
    _check_pixels(pixels)
    _check_controls(gamma, exposure, strength)
    model = model or shipped_model()
    image = _to_tensor(pixels)
    illumination, reflectance = run_nets_tiled(model, image, progress=progress, cancel=cancel)
    exposure = choose_exposure(illumination, reflectance, gamma) if exposure is None else exposure
    out = image + strength * (enhance_from_maps(illumination, reflectance, gamma, exposure) - image)
    return out[0].clamp(0, 1).permute(1, 2, 0).numpy().copy()


# ---- fast path ----


def box_filter(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window (r >= 1) of a C x H x W tensor, edges replicated; shifted sums (fast on CPU)."""
    height, width = image.shape[-2:]
    padded = F.pad(image[None], (radius, radius, radius, radius), mode="replicate")[0]
    rows = padded[:, 0:height] + padded[:, 1 : 1 + height]
    for shift in range(2, 2 * radius + 1):
        rows += padded[:, shift : shift + height]
    out = rows[:, :, 0:width] + rows[:, :, 1 : 1 + width]
    for shift in range(2, 2 * radius + 1):
        out += rows[:, :, shift : shift + width]
    return out.mul_(1.0 / (2 * radius + 1) ** 2)


def guided_coefficients(
    guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """He et al.'s guided filter: per window, target ~ a * guide + b; returns the window-averaged (a, b).

    guide is 1 x H x W, target C x H x W; with target = guide and eps = noise variance this is a local
    Wiener filter (flat areas smoothed, edges with variance above the noise kept).
    """
    mean_g = box_filter(guide, radius)
    mean_t = box_filter(target, radius)
    var_g = box_filter(guide * guide, radius) - mean_g * mean_g
    cov = box_filter(guide * target, radius) - mean_g * mean_t
    a = cov / (var_g + eps)
    b = mean_t - a * mean_g
    return box_filter(a, radius), box_filter(b, radius)


def estimate_noise(grey: torch.Tensor) -> float:
    """Robust noise sigma of a 1 x H x W image: median absolute residual from the 3x3 mean (MAD).

    For white noise, grey - mean3x3(grey) has standard deviation sigma * sqrt(1 - 1/9); the median
    ignores the minority of pixels on edges and texture.
    """
    residual = grey - box_filter(grey, 1)
    return float(1.4826 * residual.abs().median() / np.sqrt(1 - 1 / 9))


def estimate_photo_noise(pixels: np.ndarray, crop: int = 256) -> float:
    """Noise sigma of a photo's grey: the median of the estimates on five crops (centre and quadrants)."""
    height, width = pixels.shape[:2]
    centres = [(height // 2, width // 2)] + [(height * i // 4, width * j // 4) for i in (1, 3) for j in (1, 3)]
    estimates = []
    for y, x in centres:
        top, left = max(0, min(y - crop // 2, height - crop)), max(0, min(x - crop // 2, width - crop))
        patch = pixels[top : top + crop, left : left + crop]
        estimates.append(estimate_noise(torch.from_numpy(patch.mean(axis=2))[None]))
    return float(np.median(estimates))


def _bilinear_axis(out_size: int, in_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weights of align_corners=False bilinear resampling along one axis."""
    source = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * (in_size / out_size) - 0.5).clamp(0, in_size - 1)
    lower = source.floor().long()
    upper = (lower + 1).clamp(max=in_size - 1)
    return lower, upper, (source - lower).float()


def work_size(height: int, width: int, work_pixels: int = WORK_PIXELS) -> tuple[int, int]:
    """The nets' working size: the photo scaled down (never up) to about `work_pixels`."""
    scale = min(1.0, float(np.sqrt(work_pixels / (height * width))))
    return max(8, round(height * scale)), max(8, round(width * scale))


def enhance(
    pixels: np.ndarray,
    model: PairLIE | None = None,
    *,
    gamma: float = OUTPUT_GAMMA,
    exposure: float | None = None,
    strength: float = 1.0,
    work_pixels: int = WORK_PIXELS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Brighten a dark sRGB photo (float32 H x W x 3 in [0, 1]) at full resolution, fast.

    gamma shapes the tone (smaller lifts shadows more), exposure None picks the brightness per photo
    (mean -> AUTO_TARGET_MEAN), strength blends with the input. Returns a new array; the input is kept.
    """
    _check_pixels(pixels)
    _check_controls(gamma, exposure, strength)
    model = model or shipped_model()
    height, width = pixels.shape[:2]
    small_h, small_w = work_size(height, width, work_pixels)
    progress(0.0, "low-light: downscaling")
    with torch.inference_mode():
        small = _downscale(pixels, small_h, small_w, cancel)
        check(cancel)
        progress(0.15, "low-light: estimating illumination and reflectance")
        illumination, reflectance, _ = model(small)
        exposure = choose_exposure(illumination, reflectance, gamma) if exposure is None else exposure
        enhanced = enhance_from_maps(illumination, reflectance, gamma, exposure)[0]
        small_grey = small[0].mean(dim=0, keepdim=True)
        # eps relative to the photo's own level: a dark photo has tiny absolute variances.
        fit_eps = float((FIT_EPS_RELATIVE * small_grey.mean()) ** 2) + 1e-8
        a, b = guided_coefficients(small_grey, enhanced, FIT_RADIUS, fit_eps)
        coefficients = torch.cat([a, b])  # 6 x h x w
        check(cancel)
        progress(0.35, "low-light: full resolution")
        return _apply_full_resolution(pixels, coefficients, strength, progress, cancel)


def _downscale(pixels: np.ndarray, height: int, width: int, cancel: CancelToken | None) -> torch.Tensor:
    """Area-average to height x width in strips of rows (never a full-size copy of the photo)."""
    full_h = pixels.shape[0]
    rows = []
    step = max(1, STRIP_ROWS * height // full_h)
    for top in range(0, height, step):
        check(cancel)
        bottom = min(top + step, height)
        src_top, src_bottom = top * full_h // height, -(-bottom * full_h // height)
        strip = _to_tensor(pixels[src_top:src_bottom])
        # Adaptive pooling over just this strip's source rows: the global area average up to bin rounding.
        rows.append(F.adaptive_avg_pool2d(strip, (bottom - top, width)))
    return torch.cat(rows, dim=2)


def wiener_smooth(grey: torch.Tensor, radius: int, noise_variance: float) -> torch.Tensor:
    """Edge-preserving denoise: m + var / (var + noise) * (g - m) over (2r+1)^2 windows.

    The self-guided filter without its second averaging pass (half the box filters): flat areas, where
    the local variance is mostly noise, go to their mean; edges and texture above the noise stay.
    """
    channels = grey.shape[0]
    means = box_filter(torch.cat([grey, grey * grey]), radius)  # one pass over both moments
    mean = means[:channels]
    variance = (means[channels:] - mean * mean).clamp_(min=0.0)
    gain = variance / (variance + noise_variance)
    return mean.add_(gain.mul_(grey - mean))


def _apply_full_resolution(
    pixels: np.ndarray, coefficients: torch.Tensor, strength: float, progress: ProgressFn, cancel: CancelToken | None
) -> np.ndarray:
    """out = a * denoise(grey) + b per strip of rows, a and b bilinearly upsampled from the small image."""
    height, width = pixels.shape[:2]
    small_h = coefficients.shape[1]
    row_lo, row_hi, row_w = _bilinear_axis(height, small_h)
    noise_variance = DENOISE_NOISE_FACTOR * estimate_photo_noise(pixels) ** 2 + 1e-8
    halo = DENOISE_RADIUS
    out = np.empty_like(pixels)
    for top in range(0, height, STRIP_ROWS):
        check(cancel)
        bottom = min(top + STRIP_ROWS, height)
        t0, t1 = max(top - halo, 0), min(bottom + halo, height)
        strip = torch.from_numpy(pixels[t0:t1]).permute(2, 0, 1)
        clean_grey = wiener_smooth(strip.mean(dim=0, keepdim=True), DENOISE_RADIUS, noise_variance)
        clean_grey = clean_grey[:, top - t0 : bottom - t0]
        rows = slice(top, bottom)
        weight = row_w[rows][None, :, None]
        by_rows = coefficients[:, row_lo[rows]] * (1 - weight) + coefficients[:, row_hi[rows]] * weight
        # Rows are already at full resolution, so this resamples the columns only (same align_corners=False grid).
        full = F.interpolate(by_rows[None], size=(bottom - top, width), mode="bilinear", align_corners=False)[0]
        result = full[:3].mul_(clean_grey).add_(full[3:])
        source = strip[:, top - t0 : bottom - t0]
        if strength < 1.0:
            result = source + strength * (result - source)
        out[top:bottom] = result.clamp_(0, 1).permute(1, 2, 0).numpy()
        progress(0.35 + 0.65 * bottom / height, "low-light: full resolution")
    return out


def score_held_out(weights: str | Path) -> dict[str, float]:
    """Mean PSNR (dB) on the held-out synthetic pairs: input, fast path, full-resolution nets (auto exposure)."""
    from engine.color import psnr
    from engine.lowlight.data import held_out_pairs

    model = load_model(weights)[0]
    scores: dict[str, list[float]] = {"psnr_input": [], "psnr_fast": [], "psnr_full": []}
    for _, clean, dark in held_out_pairs():
        scores["psnr_input"].append(psnr(dark, clean))
        scores["psnr_fast"].append(psnr(enhance(dark, model), clean))
        scores["psnr_full"].append(psnr(enhance_full(dark, model), clean))
    return {name: round(float(np.mean(values)), 3) for name, values in scores.items()}
