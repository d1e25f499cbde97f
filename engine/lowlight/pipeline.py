"""Low-light rescue without a net: brighten in linear light, denoise with the photo's own noise model.

Torch-free (numpy + OpenCV), so the editor and the CLI start it at once. What it does, per photo:

1. **Noise model.** A dark shot's noise is signal-dependent: variance = a * I + b in linear light (shot
   noise grows with the signal, read noise does not). `estimate_noise` fits a and b from the photo:
   per 8 x 8 block, the mean and the variance of the diagonal pixel difference (little texture leaks
   into it), then per brightness bin a low quantile of those variances (flat blocks), then a weighted
   line through the bins, leaving out the bins so near black that clipping at 0 shrinks their variance.
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
from dataclasses import dataclass, replace

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lowlight import DENOISE_RANGE, EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA

STRIP_ROWS = 256
MIN_NOISE_A, MIN_NOISE_B = 1e-8, 1e-10  # a clean photo: almost nothing to remove
MAX_NOISE_A, MAX_NOISE_B = 1e-1, 1e-2


@dataclass(frozen=True)
class Settings:
    """The pipeline's constants, chosen on the corpus train and validation splits (see bench/lowlight.py)."""

    work_pixels: int = 1_000_000  # the small image's size: the photo box-averaged by a power of two
    levels: int = 5  # wavelet bands of the small image's luma
    luma_k: float = 1.4  # noise factor of those bands (more = smoother)
    luma_radius: int = 2  # window radius of the local band energy
    chroma_levels: int = 6
    chroma_k: float = 1.0
    chroma_radius: int = 3
    detail_k: float = 1.4  # the full-resolution grey's detail bands
    detail_radius: int = 2
    fit_radius: int = 1  # guided fit of colour on grey, small-image pixels
    fit_eps: float = 1e-4  # its regulariser, relative to the squared mean grey
    highlight_percentile: float = 99.9  # automatic exposure maps this percentile of the max channel ...
    highlight_target: float = 1.0  # ... to this linear value
    key: float = 0.25  # the log-average luminance a photo's exposure aims at (the key cue) ...
    key_weight: float = 0.2  # ... and its weight where it asks for less light than the highlight cue
    grain: float = 0.4  # kept luma residual, 8-bit levels of output
    fine_k: float = 1.0  # the finest full-resolution band's noise factor: lower keeps more fine texture
    luma_power: float = 0.75  # shrinkage exponent of the small image's luma bands (1 = Wiener, 1/2 = energy kept)
    tone_radius: float = 0.03  # gamma's illumination smoothing, fraction of the small image's long side
    max_lift: float = 16.0  # gamma < 1 lifts a shadow at most this much above the exposure


SETTINGS = Settings()
LUMINANCE = (0.2126, 0.7152, 0.0722)  # Rec. 709 / sRGB luminance of linear R, G, B
Denoiser = Callable[[np.ndarray], np.ndarray]  # small sRGB image -> denoised small sRGB image (a net)


# ---------------------------------------------------------------------------------------- sRGB transfer


def decode(srgb: np.ndarray) -> np.ndarray:
    """sRGB -> linear (IEC 61966-2-1), float32, with OpenCV's fast power."""
    import cv2

    v = np.clip(srgb, 0.0, 1.0, dtype=np.float32)
    out = v + np.float32(0.055)
    out *= np.float32(1 / 1.055)
    out = cv2.pow(out, 2.4, dst=out)
    np.copyto(out, v * np.float32(1 / 12.92), where=v <= np.float32(0.04045))
    return out


def encode(linear: np.ndarray) -> np.ndarray:
    """linear -> sRGB (IEC 61966-2-1), float32; values are clipped to [0, 1] first."""
    import cv2

    v = np.clip(linear, 0.0, 1.0, dtype=np.float32)
    out = cv2.pow(v, 1 / 2.4)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    np.copyto(out, v * np.float32(12.92), where=v <= np.float32(0.0031308))
    return out


# ---------------------------------------------------------------------------------------- noise model


@dataclass(frozen=True)
class NoiseModel:
    """Linear-light noise variance a * I + b of one pixel of one channel."""

    a: float
    b: float

    def sigma(self, level: float) -> float:
        return math.sqrt(self.a * level + self.b)


def _quantile_factor(q: float, dof: float) -> float:
    """chi2.ppf(q, dof) / dof by Wilson-Hilferty (what a q-quantile of sample variances reads, truth = 1)."""
    z = {0.1: -1.2815516, 0.25: -0.6744898, 0.5: 0.0}[q]
    c = 2.0 / (9.0 * dof)
    return (1.0 - c + z * math.sqrt(c)) ** 3


def estimate_noise(
    pixels: np.ndarray,
    *,
    block: int = 8,
    bins: int = 16,
    quantile: float = 0.1,
    min_snr: float = 2.0,
    max_pixels: int = 1_500_000,
) -> NoiseModel:
    """Fit variance = a * I + b (linear light, per channel) from an sRGB photo; see the module docstring.

    Large photos are sampled on a 4 x 4 grid of crops totalling about `max_pixels`.
    """
    height, width = pixels.shape[:2]
    if height * width > max_pixels:
        side = int(math.sqrt(max_pixels / 16)) // block * block
        side_h, side_w = min(side, height // block * block), min(side, width // block * block)
        tops = np.linspace(0, height - side_h, 4).astype(int)
        lefts = np.linspace(0, width - side_w, 4).astype(int)
        crops = [pixels[t : t + side_h, left : left + side_w] for t in tops for left in lefts]
    else:
        crops = [pixels]
    means, variances = [], []
    for crop in crops:
        h, w = crop.shape[0] // block * block, crop.shape[1] // block * block
        if h < block or w < block:
            continue
        linear = decode(crop[:h, :w])
        for c in range(3):
            x = linear[..., c]
            diagonal = np.empty_like(x)
            diagonal[:-1, :-1] = (x[:-1, :-1] - x[1:, :-1] - x[:-1, 1:] + x[1:, 1:]) * 0.5  # variance = sigma^2
            diagonal[-1, :], diagonal[:, -1] = 0.0, 0.0
            squares = (diagonal * diagonal).reshape(h // block, block, w // block, block)[:, :-1, :, :-1]
            variances.append(squares.mean(axis=(1, 3), dtype=np.float64).ravel())
            means.append(x.reshape(h // block, block, w // block, block).mean(axis=(1, 3), dtype=np.float64).ravel())
    if not means:
        return NoiseModel(MIN_NOISE_A, MIN_NOISE_B)
    mean, variance = np.concatenate(means), np.concatenate(variances)
    factor = _quantile_factor(quantile, (block - 1) ** 2 / 2)  # neighbouring differences share pixels: ~half
    edges = np.unique(np.quantile(mean, np.linspace(0, 1, bins + 1)))
    points = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (mean >= low) & (mean <= high)
        if inside.sum() >= 30:
            points.append((float(np.median(mean[inside])), float(np.quantile(variance[inside], quantile)) / factor))
    if len(points) < 2:
        b = float(np.median(variance)) if variance.size else MIN_NOISE_B
        return NoiseModel(MIN_NOISE_A, float(np.clip(b, MIN_NOISE_B, MAX_NOISE_B)))
    table = np.array(points)
    usable = table[:, 0] > min_snr * np.sqrt(table[:, 1])
    if usable.sum() >= 3:
        table = table[usable]
    weights = 1.0 / np.maximum(table[:, 1], 1e-14)  # relative errors: every bin counts alike
    design = np.column_stack([table[:, 0], np.ones(len(table))]) * weights[:, None]
    (a, b), *_ = np.linalg.lstsq(design, table[:, 1] * weights, rcond=None)
    if b < MIN_NOISE_B:  # a line through the origin when the intercept comes out negative
        a, b = float(np.sum(table[:, 0] * table[:, 1] * weights**2) / np.sum((table[:, 0] * weights) ** 2)), 0.0
    return NoiseModel(float(np.clip(a, MIN_NOISE_A, MAX_NOISE_A)), float(np.clip(b, MIN_NOISE_B, MAX_NOISE_B)))


# ---------------------------------------------------------------------------------------- stabilising


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in z]))


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


class Stabiliser:
    """Generalised Anscombe transform of the mean of `n` clipped pixels, and its exact inverse.

    forward(x) = 2/a' sqrt(a' x + 3/8 a'^2 + b') with a' = a / n, b' = b / n: unit-variance noise.
    inverse(y) maps the denoised (expected) transformed value back to the true linear signal, through a
    table of E[forward(mean of n values of max(0, signal + noise))] per signal (Gauss-Hermite), inverted.
    """

    TABLE = 65536

    def __init__(self, noise: NoiseModel, n: int = 1) -> None:
        self.a, self.b, self.n = noise.a / n, noise.b / n, n
        self.offset = 0.375 * self.a * self.a + self.b
        nodes, weights = np.polynomial.hermite_e.hermegauss(32)
        weights = weights / weights.sum()
        signal = np.concatenate([[0.0], np.geomspace(1e-7, 1.25, 3000)])
        sigma = np.sqrt(noise.a * signal + noise.b)
        z = signal / sigma
        cdf, pdf = _normal_cdf(z), _normal_pdf(z)
        clipped_mean = signal * cdf + sigma * pdf  # E[max(0, X)], X ~ N(signal, sigma^2)
        clipped_square = (signal**2 + sigma**2) * cdf + signal * sigma * pdf
        spread = np.sqrt(np.maximum(clipped_square - clipped_mean**2, 0.0) / n)
        samples = np.maximum(clipped_mean[:, None] + spread[:, None] * nodes[None, :], 0.0)
        expected = (self._forward64(samples) * weights).sum(axis=1)
        expected = np.maximum.accumulate(expected)
        self.low, top = float(expected[0]), float(self._forward64(np.array(1.25)))
        grid = np.linspace(self.low, top, self.TABLE)
        inverse = np.interp(grid, expected, signal)
        beyond = grid > expected[-1]  # past the table: the algebraic inverse
        inverse[beyond] = ((self.a * grid[beyond] / 2) ** 2 - self.offset) / self.a
        self.table = inverse.astype(np.float32)
        self.scale = (self.TABLE - 1) / (top - self.low)

    def _forward64(self, x: np.ndarray) -> np.ndarray:
        return (2.0 / self.a) * np.sqrt(np.maximum(self.a * x + self.offset, 0.0))

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = x * np.float32(self.a)
        y += np.float32(self.offset)
        np.maximum(y, 0.0, out=y)
        np.sqrt(y, out=y)
        y *= np.float32(2.0 / self.a)
        return y

    def inverse(self, y: np.ndarray) -> np.ndarray:
        index = (y - np.float32(self.low)) * np.float32(self.scale)
        np.clip(index, 0, self.TABLE - 1, out=index)
        index += 0.5
        return self.table[index.astype(np.uint16)]


# ---------------------------------------------------------------------------------------- wavelet shrinkage

_B3 = np.array([1, 4, 6, 4, 1], np.float32) / 16


def _b3(image: np.ndarray, step: int) -> np.ndarray:
    """The a-trous B3-spline smoothing at a hole step (separable, mirrored edges)."""
    import cv2

    kernel = np.zeros(4 * step + 1, np.float32)
    kernel[::step] = _B3
    return cv2.sepFilter2D(image, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _shrink(band: np.ndarray, noise_variance: float, radius: int, power: float = 1.0) -> np.ndarray:
    """Local shrinkage: band * (max(0, E - noise) / E) ** power with E the band's local mean energy.

    power 1 is the Wiener gain (least squares); 1/2 keeps the band's expected clean energy E - noise, so
    texture keeps its strength where it stands above the noise while flat areas still go to zero.
    """
    import cv2

    energy = _box(band * band, radius)
    gain = energy - np.float32(noise_variance)
    np.maximum(gain, 0.0, out=gain)
    gain /= np.maximum(energy, np.float32(1e-20))
    if power != 1.0:
        gain = cv2.pow(gain, power, dst=gain)
    gain *= band
    return gain


_BAND_VARIANCES: dict[tuple, list[float]] = {}


def _calibrate(key: tuple, bands: Callable[[np.ndarray], list[np.ndarray]]) -> list[float]:
    """Each band's variance for unit white noise (a fixed-seed 512 x 512 sample, cached)."""
    if key not in _BAND_VARIANCES:
        noise = np.random.default_rng(12).standard_normal((512, 512)).astype(np.float32)
        _BAND_VARIANCES[key] = [float(band[48:-48, 48:-48].var()) for band in bands(noise)]
    return _BAND_VARIANCES[key]


def _atrous_bands(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Detail bands 1..levels and the remaining smooth image (last)."""
    bands, current = [], image
    for level in range(levels):
        smooth = _b3(current, 2**level)
        bands.append(current - smooth)
        current = smooth
    return bands + [current]


def wavelet_denoise(
    image: np.ndarray,
    noise_variance: float,
    levels: int,
    k: float,
    radius: int,
    fine_k: float | None = None,
    power: float = 1.0,
) -> np.ndarray:
    """Shrink every a-trous band of a 2-D image with white noise of `noise_variance` (noise factor k, or
    `fine_k` for the finest band); keep the smooth rest."""
    unit = _calibrate(("atrous", levels), lambda noise: _atrous_bands(noise, levels)[:-1])
    bands = _atrous_bands(image, levels)
    out = bands[-1].copy()
    for level, (band, variance) in enumerate(zip(bands[:-1], unit, strict=True)):
        factor = fine_k if (level == 0 and fine_k is not None) else k
        out += _shrink(band, factor * noise_variance * variance, radius, power)
    return out


# Opponent axes (orthonormal): luma (R+G+B)/sqrt(3) and two chroma differences; unit noise stays unit.
OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32) / np.array(
    [[math.sqrt(3)], [math.sqrt(2)], [math.sqrt(6)]], np.float32
)


def denoise_colour(
    linear: np.ndarray, noise: NoiseModel, n: int, settings: Settings, strength: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Denoise a linear H x W x 3 image whose pixels average n clipped pixels; returns (image, luma residual).

    The residual is the removed part of the stabilised luma (unit-variance noise plus lost texture).
    """
    import cv2

    stabiliser = Stabiliser(noise, n)
    opponent = cv2.transform(stabiliser.forward(linear), OPPONENT)
    # At full resolution (n = 1) the finest band is the photo's finest texture: it gets `fine_k`.
    luma = wavelet_denoise(
        opponent[..., 0],
        1.0,
        settings.levels,
        strength * settings.luma_k,
        settings.luma_radius,
        strength * settings.fine_k if n == 1 else None,
        settings.luma_power,
    )
    chroma = [
        wavelet_denoise(
            opponent[..., c], 1.0, settings.chroma_levels, strength * settings.chroma_k, settings.chroma_radius
        )
        for c in (1, 2)
    ]
    back = cv2.transform(cv2.merge([luma, *chroma]), np.ascontiguousarray(OPPONENT.T))
    denoised, residual = stabiliser.inverse(back), opponent[..., 0] - luma
    return denoised, residual


# ---------------------------------------------------------------------------------------- brightness


def auto_exposure(denoised_linear: np.ndarray, settings: Settings = SETTINGS) -> float:
    """Linear gain (never < 1) from two cues: the highlight percentile of the max channel mapped to
    `highlight_target`, and the log-average luminance mapped to `key`.

    The highlight cue is exact when the photo holds white and too bright when it does not, so it is an
    upper bound; the key cue pulls the gain down (geometric blend, weight `key_weight`) only where it asks
    for less light than the highlight does.
    """
    top = max(float(np.percentile(denoised_linear.max(axis=2), settings.highlight_percentile)), 1e-6)
    log_gain = math.log(settings.highlight_target / top)
    if settings.key_weight > 0:
        luminance = denoised_linear @ np.array(LUMINANCE, np.float32)
        log_average = float(np.mean(np.log(luminance + np.float32(1e-3 * top)), dtype=np.float64))
        log_gain = min(log_gain, log_gain + settings.key_weight * (math.log(settings.key) - log_average - log_gain))
    return float(np.clip(math.exp(log_gain), 1.0, EXPOSURE_RANGE[1]))


def tone_lift(denoised_linear: np.ndarray, gamma: float, settings: Settings) -> np.ndarray | None:
    """Per-pixel lift (L / L_top) ** (gamma - 1) on a smoothed max-channel illumination L (None for gamma 1)."""
    if gamma >= 1.0:
        return None
    import cv2

    illumination = denoised_linear.max(axis=2)
    top = max(float(np.percentile(illumination, settings.highlight_percentile)), 1e-6)
    radius = max(2, round(settings.tone_radius * max(illumination.shape)))
    smooth = cv2.blur(illumination, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)
    ratio = np.clip(smooth / top, settings.max_lift ** (1 / (gamma - 1)), 1.0)
    return (ratio ** np.float32(gamma - 1.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------- guided fit


def _guided(guide: np.ndarray, target: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """He et al.'s guided filter: per window target_c ~ A_c * guide + B_c; returns window-averaged (A, B)."""
    mean_g = _box(guide, radius)
    var_g = _box(guide * guide, radius) - mean_g * mean_g
    mean_t = _box(target, radius)
    cov = _box(target * guide[..., None], radius) - mean_t * mean_g[..., None]
    a = cov / (var_g[..., None] + np.float32(eps))
    b = mean_t - a * mean_g[..., None]
    return _box(a, radius), _box(b, radius)


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


def enhance(
    pixels: np.ndarray,
    *,
    exposure: float | None = None,
    gamma: float = OUTPUT_GAMMA,
    strength: float = 1.0,
    denoise: float = 1.0,
    settings: Settings = SETTINGS,
    denoiser: Denoiser | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Brighten and denoise a dark sRGB photo (float32 H x W x 3 in [0, 1]); returns a new array.

    exposure: linear gain (None: chosen per photo); gamma < 1 lifts shadows more; strength blends with
    the input (0 = unchanged); denoise scales the noise reduction (0 = none, 1 = tuned).
    """
    return enhance_details(
        pixels,
        exposure=exposure,
        gamma=gamma,
        strength=strength,
        denoise=denoise,
        settings=settings,
        denoiser=denoiser,
        progress=progress,
        cancel=cancel,
    ).pixels


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
    """`enhance`, returning also the noise model, the exposure used and the work factor."""
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
        small_d, residual = decode(denoiser(encode(small))), None
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
        out = encode(enhanced)
        if residual is not None and grain > 0:
            out += grain * residual[..., None]
        out = _blend(pixels, np.clip(out, 0.0, 1.0, out=out), strength)
        progress(1.0, "low-light: done")
        return Result(out, noise, gain, factor)
    progress(0.45, "low-light: full resolution")
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
    factor = work_factor(*pixels.shape[:2], settings.work_pixels)
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
        return decode(pixels), None, None
    small_h, small_w = -(-height // factor), -(-width // factor)
    small = np.empty((small_h, small_w, 3), np.float32)
    low = np.empty((small_h, small_w), np.float32) if grey_stabiliser else None
    grey_v = np.empty((height, width), np.float32) if grey_stabiliser else None
    third = np.full((1, 3), 1 / 3, np.float32)
    rows = max(factor, STRIP_ROWS // factor * factor)
    for top in range(0, height, rows):
        check(cancel)
        bottom = min(top + rows, height)
        linear = decode(pixels[top:bottom])
        first = top // factor
        block_rows = -(-(bottom - top) // factor)
        small[first : first + block_rows] = block_mean(linear, factor)
        if grey_stabiliser is not None:
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
    return _atrous_bands(detail, int(math.log2(factor)))


def _detail_unit_variances(factor: int) -> list[float]:
    def bands(noise: np.ndarray) -> list[np.ndarray]:
        low = block_mean(noise, factor)
        return _detail_bands(noise - upsample(low, factor, 0, noise.shape[0], noise.shape[1]), factor)

    return _calibrate(("detail", factor), bands)


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
            total += _shrink(band, denoise * k * variance, settings.detail_radius)
        inner = slice(top - t0, bottom - t0)
        total = total[inner]
        grey_d = grey_stabiliser.inverse(total)
        result = upsample(maps["a"], factor, top, bottom, width)
        result *= grey_d[..., None]
        result += upsample(maps["b"], factor, top, bottom, width)
        result = encode(result)
        if grain > 0:
            kept = grey[inner] - total
            kept *= grain
            result += kept[..., None]
        np.clip(result, 0.0, 1.0, out=result)
        out[top:bottom] = _blend(pixels[top:bottom], result, strength)
        progress(0.45 + 0.55 * bottom / height, "low-light: full resolution")
    return out


def with_settings(**changes) -> Settings:
    """SETTINGS with some fields changed (benchmarks and tuning)."""
    return replace(SETTINGS, **changes)
