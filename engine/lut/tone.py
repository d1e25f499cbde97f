"""The editor's adjustment sliders as one analytic LUT: Auto's physical controls plus tone and vibrance.

`engine.lut.adjust.Adjustments` holds the controls Auto is built on (exposure, white balance, black and white
points, contrast, saturation). A photographer also expects highlights / shadows (a tone curve on luminance)
and vibrance (saturation that spares already saturated colours); they are here, applied after those, and
`adjustments_lut` turns every slider into one `LUT3D` that composes with the preset or imported LUT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from engine.color import REC709_LUMA
from engine.errors import InputError
from engine.lut.adjust import LIMITS, Adjustments
from engine.lut.lut3d import LUT3D, identity_table

ADJUSTMENT_LUT_SIZE = 33
TONE_LIMIT = 1.0  # highlights, shadows and vibrance run from -1 to +1


@dataclass(frozen=True)
class ToneControls:
    """Slider values; 0 is "no change"."""

    highlights: float = 0.0  # + brightens the bright tones, - recovers them
    shadows: float = 0.0  # + lifts the dark tones, - deepens them
    vibrance: float = 0.0  # + saturates muted colours (up to 2x), barely touching saturated ones

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Adjusted sRGB values (..., 3) in [0, 1], float32, clipped."""
        x = np.clip(np.asarray(rgb, np.float32), 0.0, 1.0)
        if self.highlights or self.shadows:
            luma = x @ REC709_LUMA
            # smooth bumps that vanish at black and white: the shadows one peaks at 1/3, highlights at 2/3
            shadow_bump = 27.0 / 4.0 * luma * (1.0 - luma) ** 2
            highlight_bump = 27.0 / 4.0 * luma**2 * (1.0 - luma)
            target = np.clip(luma + 0.25 * (self.shadows * shadow_bump + self.highlights * highlight_bump), 0.0, 1.0)
            ratio = np.where(luma > 1e-6, target / np.maximum(luma, 1e-6), 1.0)
            x = np.clip(x * ratio[..., None], 0.0, 1.0)
        if self.vibrance:
            luma = (x @ REC709_LUMA)[..., None]
            chroma = x.max(axis=-1, keepdims=True) - x.min(axis=-1, keepdims=True)
            gain = 1.0 + self.vibrance * (1.0 - chroma)
            x = np.clip(luma + gain * (x - luma), 0.0, 1.0)
        return x.astype(np.float32)


SLIDERS = {f.name: LIMITS[f.name] for f in fields(Adjustments)} | {f.name: TONE_LIMIT for f in fields(ToneControls)}


def adjustments_lut(values: Mapping[str, float], size: int = ADJUSTMENT_LUT_SIZE) -> LUT3D:
    """Every slider in `values` (name -> value; missing ones are 0) as one LUT, exact at its lattice points."""
    unknown = sorted(set(values) - set(SLIDERS))
    if unknown:
        raise InputError(f"unknown adjustment(s): {', '.join(unknown)}")
    for name, value in values.items():
        if not isinstance(value, int | float) or not np.isfinite(value) or abs(value) > SLIDERS[name]:
            raise InputError(f"adjustment {name} must be a number within +-{SLIDERS[name]}, got {value!r}")
    core = Adjustments(**{k: float(v) for k, v in values.items() if k in LIMITS})
    tone = ToneControls(**{k: float(v) for k, v in values.items() if k not in LIMITS})
    return LUT3D(tone.apply(core.apply(identity_table(size))), title="Adjustments")
