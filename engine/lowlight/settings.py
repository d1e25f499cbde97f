"""The low-light pipeline's constants, chosen on the corpus train and validation splits (bench/lowlight.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


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


def with_settings(**changes: Any) -> Settings:
    """SETTINGS with some fields changed (benchmarks and tuning)."""
    return replace(SETTINGS, **changes)
