"""How bright a rescued photo comes out: the automatic exposure and the optional shadow lift (gamma < 1).

See engine.lowlight.pipeline's docstring (step 4).
"""

from __future__ import annotations

import math

import numpy as np

from engine.color import luminance
from engine.lowlight import EXPOSURE_RANGE
from engine.lowlight.settings import SETTINGS, Settings


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
        grey = luminance(denoised_linear)
        log_average = float(np.mean(np.log(grey + np.float32(1e-3 * top)), dtype=np.float64))
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
