"""A dark photo's own noise model (variance a * I + b in linear light) and the transform that makes it unit-variance.

See engine.lowlight.pipeline's docstring (steps 1 and 2) for why and how.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.color import srgb_to_linear

MIN_NOISE_A, MIN_NOISE_B = 1e-8, 1e-10  # a clean photo: almost nothing to remove
MAX_NOISE_A, MAX_NOISE_B = 1e-1, 1e-2
FLAT_VARIANCE = 1e-12  # a bin's variance at or below this is a flat field's (8-bit steps near black give ~1e-8)


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
        linear = srgb_to_linear(np.clip(crop[:h, :w], 0.0, 1.0))
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
        return NoiseModel(*_bounded(MIN_NOISE_A, b))
    table = np.array(points)
    # Bins within a few sigma of black read too little variance (clipping at 0): leave them out, judged by the
    # fitted line's sigma (a bin's own variance is the one clipping shrank), refitted until the bins settle.
    usable = table[:, 0] > min_snr * np.sqrt(table[:, 1])
    for _ in range(4):
        kept = table[usable] if usable.sum() >= 3 else table[np.argsort(table[:, 0])[-3:]]
        a, b = _fit_line(kept)
        usable = table[:, 0] > min_snr * np.sqrt(np.maximum(a * table[:, 0] + b, 0.0))
    # Bins of exactly flat blocks (a crushed black, a clipped white, a synthetic fill) say nothing about noise.
    informative = table[:, 1] > FLAT_VARIANCE
    if informative.sum() >= 3 and not usable[informative].all():
        a, b = _fit_clipped(table[informative], *_bounded(a, b))  # the bins left out near black, clip modelled
    return NoiseModel(*_bounded(a, b))


def _bounded(a: float, b: float) -> tuple[float, float]:
    """(a, b) inside the range a photo's noise can take (a clean photo gets the minimum, not zero)."""
    return float(np.clip(a, MIN_NOISE_A, MAX_NOISE_A)), float(np.clip(b, MIN_NOISE_B, MAX_NOISE_B))


def _fit_line(table: np.ndarray) -> tuple[float, float]:
    """Variance = a * level + b through (level, variance) rows, relative errors (every bin counts alike); a line
    through the origin when the intercept comes out negative."""
    weights = 1.0 / np.maximum(table[:, 1], 1e-14)
    design = np.column_stack([table[:, 0], np.ones(len(table))]) * weights[:, None]
    (a, b), *_ = np.linalg.lstsq(design, table[:, 1] * weights, rcond=None)
    if b < MIN_NOISE_B:
        a, b = float(np.sum(table[:, 0] * table[:, 1] * weights**2) / np.sum((table[:, 0] * weights) ** 2)), 0.0
    return float(a), float(b)


def clipped_moments(level: np.ndarray, a: float, b: float, white: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of clip(level + noise, 0, 1) with noise ~ N(0, a * level + b): what a file that clips at
    black and white shows of a true linear level (the moments of a censored normal); white=False: at black only.
    """
    from scipy.special import ndtr

    sigma = np.sqrt(np.maximum(a * level + b, 1e-20))
    low = -level / sigma
    below_top: np.ndarray | float = 1.0  # no clip at white: the upper cut at infinity
    pdf_high: np.ndarray | float = 0.0
    high_pdf_high: np.ndarray | float = 0.0
    if white:
        high = (1.0 - level) / sigma
        below_top, pdf_high = ndtr(high), _normal_pdf(high)
        high_pdf_high = high * pdf_high
    inside, above, pdf_low = below_top - ndtr(low), 1.0 - below_top, _normal_pdf(low)
    mean = level * inside + sigma * (pdf_low - pdf_high) + above
    square = (
        level * level * inside
        + 2.0 * level * sigma * (pdf_low - pdf_high)
        + sigma * sigma * (inside + low * pdf_low - high_pdf_high)
        + above
    )
    return mean, np.maximum(square - mean * mean, 1e-20)


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _true_levels(means: np.ndarray, a: float, b: float) -> np.ndarray:
    """The true levels whose clipped means are `means` (bisection: the clipped mean rises with the level)."""
    low, high = np.full_like(means, -0.1), np.full_like(means, 1.1)
    for _ in range(50):
        middle = 0.5 * (low + high)
        below = clipped_moments(middle, a, b)[0] < means
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return 0.5 * (low + high)


def _fit_clipped(table: np.ndarray, a: float, b: float) -> tuple[float, float]:
    """Refit (a, b) on every (level, variance) bin, the ones near black included, with clipping modelled (Foi et
    al., "Practical Poissonian-Gaussian noise modeling and fitting", TIP 2008): a bin's measured mean is mapped
    back to its true level and its variance compared with the clipped variance there (log residuals). The line
    fit, which has to leave those bins out, is the start; where this fails the line fit stands.

    On the corpus train photos shot dark this cut the read-noise estimate's misses (b within 20 % of the truth
    in 78 % of the shots, from 70 %), and with it lifted blacks (one photo's black at 14 levels instead of 1)."""
    from scipy.optimize import least_squares

    levels, variances = table[:, 0], table[:, 1]  # every variance above FLAT_VARIANCE (the caller's choice)

    def residuals(log_ab: np.ndarray) -> np.ndarray:
        fa, fb = np.exp(log_ab)
        return np.log(clipped_moments(_true_levels(levels, fa, fb), fa, fb)[1]) - np.log(variances)

    try:
        fit = least_squares(residuals, np.log([a, b]), method="trf")
    except (ValueError, FloatingPointError):
        return a, b
    if not (fit.success and np.all(np.isfinite(fit.x))):
        return a, b
    fitted_a, fitted_b = np.exp(fit.x)
    return float(fitted_a), float(fitted_b)


# ---------------------------------------------------------------------------------------- stabilising


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
        clipped_mean, clipped_variance = clipped_moments(signal, noise.a, noise.b, white=False)  # max(0, X)
        spread = np.sqrt(clipped_variance / n)
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
