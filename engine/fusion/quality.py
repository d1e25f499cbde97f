"""MEF-SSIM (Ma, Zeng, Wang, TIP 2015): quality of a fused image against its source exposures, no ground truth.

At every 11 x 11 patch the sources are split into mean, contrast (norm of the mean-free patch) and
structure. The desired patch has the largest source contrast and a structure averaged over sources with
weights (norm / 11)^p, where p grows with how consistent the sources' structures are (p = tan(pi/2 R),
R = ||sum of mean-free patches|| / sum of their norms, capped at 10), as in the authors' released code.
SSIM without its luminance term compares that desired patch with the fused one under an 11 x 11 Gaussian
window (sigma 1.5); scores are averaged per scale and combined over 3 scales (2 x 2 averaging) with
weights 0.0448, 0.2856, 0.3001 (normalised). Images are grey in [0, 255].

Every per-patch quantity is a weighted sum of local (co)variances, so the whole map comes from box and
Gaussian filters of products, computed in strips of rows to bound memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WINDOW = 11
SIGMA = 1.5
K = 0.03
SCALE_WEIGHTS = np.array([0.0448, 0.2856, 0.3001]) / np.sum([0.0448, 0.2856, 0.3001])
MAX_P = 10.0
STRIP_ROWS = 256
_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class MefSsim:
    score: float  # overall, product of per-scale scores raised to the scale weights
    scales: tuple[float, ...]  # mean quality map value per scale, finest first


def grey255(pixels: np.ndarray) -> np.ndarray:
    """Grey in [0, 255] (Rec. 601 weights, as rgb2gray) of an (H, W, 3) image in [0, 1]; 2-D passes through."""
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim == 2:
        return pixels * 255.0
    return pixels @ (np.array([0.298936, 0.587043, 0.114021]) * 255.0)


def _halve(image: np.ndarray) -> np.ndarray:
    """2 x 2 block average, repeating the last row/column for odd sizes (MATLAB 'symmetric' imfilter)."""
    h, w = image.shape
    padded = np.pad(image, ((0, h % 2), (0, w % 2)), mode="symmetric")
    return 0.25 * (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2])


def _strip_scores(sources: list[np.ndarray], fused: np.ndarray) -> np.ndarray:
    """Quality map of one strip of rows (inputs include the 5-pixel halo; output is the valid part)."""
    from scipy.ndimage import gaussian_filter, uniform_filter

    half = WINDOW // 2
    n = WINDOW * WINDOW

    def box(x: np.ndarray) -> np.ndarray:
        return uniform_filter(x, WINDOW, mode="reflect")[half:-half, half:-half]

    def gauss(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, SIGMA, truncate=half / SIGMA, mode="reflect")[half:-half, half:-half]

    count = len(sources)
    box_mean = [box(x) for x in sources]
    box_cov = {}
    for j in range(count):
        for k in range(j, count):
            box_cov[j, k] = box_cov[k, j] = box(sources[j] * sources[k]) - box_mean[j] * box_mean[k]
    norms = [np.sqrt(np.maximum(n * box_cov[k, k], 0.0)) for k in range(count)]  # ||x_k - mu_k||
    contrast = [norm + 0.001 for norm in norms]
    # structural consistency R and the exponent p it implies
    sum_var = sum(box_cov[j, k] for j in range(count) for k in range(count))
    numerator = np.sqrt(np.maximum(n * sum_var, 0.0))
    consistency = (numerator + _EPS) / (sum(norms) + _EPS)
    consistency = np.clip(consistency, _EPS, 1.0 - _EPS)
    p = np.minimum(np.tan(np.pi / 2.0 * consistency), MAX_P)
    weights = [(c / WINDOW) ** p + _EPS for c in contrast]
    total = sum(weights)
    b = [w / total / c for w, c in zip(weights, contrast, strict=True)]  # desired patch = sum b_k (x_k - mu_k)
    desired_norm = np.sqrt(
        np.maximum(n * sum(b[j] * b[k] * box_cov[j, k] for j in range(count) for k in range(count)), 0.0)
    )
    max_contrast = np.maximum.reduce(contrast)
    scale = np.where(desired_norm > 0, max_contrast / np.where(desired_norm > 0, desired_norm, 1.0), 1.0)
    a = [bk * scale for bk in b]

    g_mean = [gauss(x) for x in sources]
    fused_mean = gauss(fused)
    fused_var = gauss(fused * fused) - fused_mean * fused_mean
    desired_var = np.zeros_like(fused_mean)
    cross = np.zeros_like(fused_mean)
    for j in range(count):
        cross += a[j] * (gauss(sources[j] * fused) - g_mean[j] * fused_mean)
        for k in range(j, count):
            cov = gauss(sources[j] * sources[k]) - g_mean[j] * g_mean[k]
            desired_var += (1.0 if j == k else 2.0) * a[j] * a[k] * cov
    c2 = (K * 255.0) ** 2
    return (2.0 * cross + c2) / (desired_var + fused_var + c2)


def _scale_score(sources: list[np.ndarray], fused: np.ndarray) -> float:
    half = WINDOW // 2
    h = fused.shape[0]
    total, count = 0.0, 0
    for start in range(0, h - 2 * half, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, h - 2 * half)
        rows = slice(start, stop + 2 * half)
        scores = _strip_scores([s[rows] for s in sources], fused[rows])
        total += float(scores.sum())
        count += scores.size
    return total / count


def mef_ssim(sources: Sequence[np.ndarray], fused: np.ndarray) -> MefSsim:
    """MEF-SSIM of `fused` against aligned `sources` ((H, W, 3) in [0, 1], or grey (H, W) in [0, 1])."""
    greys = [grey255(s) for s in sources]
    target = grey255(fused)
    if any(g.shape != target.shape for g in greys):
        raise ValueError("sources and fused image must have the same size")
    if min(target.shape) // 2 ** (len(SCALE_WEIGHTS) - 1) < WINDOW:
        raise ValueError(f"image too small for {len(SCALE_WEIGHTS)} scales of {WINDOW}-pixel windows")
    scores = []
    for level in range(len(SCALE_WEIGHTS)):
        if level:
            greys, target = [_halve(g) for g in greys], _halve(target)
        scores.append(_scale_score(greys, target))
    overall = float(np.prod(np.power(np.maximum(scores, 0.0), SCALE_WEIGHTS)))
    return MefSsim(overall, tuple(scores))
