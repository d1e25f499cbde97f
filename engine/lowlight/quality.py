"""How good a low-light rescue is, measured against the clean photo: numpy only (no torch).

- PSNR and SSIM on sRGB values in [0, 1];
- mean CIEDE2000 (CIELAB, D65), the colour difference a viewer sees;
- hue error: mean absolute CIELAB hue-angle difference in degrees, over the pixels whose clean chroma
  C*ab is at least `HUE_MIN_CHROMA` (hue is undefined on greys);
- texture sigma: the noise estimator's sigma (median absolute 3x3-mean residual of the grey, five crops)
  in 8-bit units. Noise raises it, smearing lowers it; for a good result it is near the clean photo's;
- brightness ratio: mean sRGB value of the result over that of the clean photo;
- black level: the 1st percentile of the grey in 8-bit levels, to set beside the clean photo's: a lifted
  noise floor (the "milky blacks" of a plain brighten + denoise) raises it.
"""

from __future__ import annotations

import numpy as np

from engine.color import psnr

HUE_MIN_CHROMA = 10.0


def ssim(result: np.ndarray, clean: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(result, clean, channel_axis=2, data_range=1.0))


def lab(srgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.clip(srgb, 0.0, 1.0).astype(np.float32))


def ciede2000(result_lab: np.ndarray, clean_lab: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(np.mean(deltaE_ciede2000(clean_lab, result_lab)))


def hue_error(result_lab: np.ndarray, clean_lab: np.ndarray, min_chroma: float = HUE_MIN_CHROMA) -> float:
    """Mean |hue angle difference| (degrees, 0..180) where the clean photo has chroma >= min_chroma."""
    chroma = np.hypot(clean_lab[..., 1], clean_lab[..., 2])
    mask = chroma >= min_chroma
    if not mask.any():
        return 0.0
    clean_hue = np.arctan2(clean_lab[..., 2][mask], clean_lab[..., 1][mask])
    result_hue = np.arctan2(result_lab[..., 2][mask], result_lab[..., 1][mask])
    difference = np.abs(np.angle(np.exp(1j * (result_hue - clean_hue))))
    return float(np.degrees(difference).mean())


def mad_sigma(grey: np.ndarray) -> float:
    """Robust sigma of a 2-D image's white noise: 1.4826 MAD of grey - mean3x3(grey), over sqrt(8/9)."""
    from scipy.ndimage import uniform_filter

    residual = grey - uniform_filter(grey, size=3, mode="nearest")
    return float(1.4826 * np.median(np.abs(residual)) / np.sqrt(1 - 1 / 9))


def texture_sigma(srgb: np.ndarray, crop: int = 256) -> float:
    """The noise estimator's sigma in 8-bit units: the median over five crops (centre, quadrants) of the grey."""
    height, width = srgb.shape[:2]
    centres = [(height // 2, width // 2)] + [(height * i // 4, width * j // 4) for i in (1, 3) for j in (1, 3)]
    estimates = []
    for y, x in centres:
        top, left = max(0, min(y - crop // 2, height - crop)), max(0, min(x - crop // 2, width - crop))
        patch = srgb[top : top + crop, left : left + crop].astype(np.float64).mean(axis=2)
        estimates.append(mad_sigma(patch))
    return 255.0 * float(np.median(estimates))


def brightness_ratio(result: np.ndarray, clean: np.ndarray) -> float:
    return float(np.mean(result, dtype=np.float64) / max(np.mean(clean, dtype=np.float64), 1e-9))


def black_level(srgb: np.ndarray, percentile: float = 1.0) -> float:
    """The `percentile` of the grey, in 8-bit levels."""
    return 255.0 * float(np.percentile(srgb.mean(axis=2), percentile))


METRICS = ("psnr", "ssim", "de2000", "hue", "texture", "brightness", "black")


def score(result: np.ndarray, clean: np.ndarray, clean_lab: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of one result against its clean photo (pass clean_lab to reuse it across methods)."""
    clean_lab = lab(clean) if clean_lab is None else clean_lab
    result = np.clip(result, 0.0, 1.0).astype(np.float32)
    result_lab = lab(result)
    return {
        "psnr": psnr(result, clean),
        "ssim": ssim(result, clean),
        "de2000": ciede2000(result_lab, clean_lab),
        "hue": hue_error(result_lab, clean_lab),
        "texture": texture_sigma(result),
        "brightness": brightness_ratio(result, clean),
        "black": black_level(result),
    }
