"""Synthetic training pairs for the shipped presets: random capture faults and documented looks.

Input  = a clean bundled photo with random capture faults (exposure +-1.5 EV and white balance in
         linear light, contrast and saturation in sRGB).
Target = the preset's look applied to the clean photo (Auto: the clean photo itself).

Everything works on torch tensors (B, 3, H, W) of sRGB values in [0, 1] so batches are made on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.adaptive.data import shrink
from engine.color import REC709_LUMA

EXPOSURE_EV = 1.5


def to_linear(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def per_channel(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """(r, g, b) numbers shaped to broadcast over the channel axis of `like` (B, 3, ...)."""
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(1, 3, *([1] * (like.ndim - 2)))


def luma(x: torch.Tensor) -> torch.Tensor:
    return (x * per_channel(REC709_LUMA, x)).sum(1, keepdim=True)


def saturate(x: torch.Tensor, amount: torch.Tensor | float) -> torch.Tensor:
    y = luma(x)
    return y + amount * (x - y)


def contrast(x: torch.Tensor, amount: torch.Tensor | float, pivot: float = 0.5) -> torch.Tensor:
    return pivot + amount * (x - pivot)


def s_curve(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Smooth contrast that keeps 0 and 1: blend towards smoothstep."""
    x = x.clamp(0.0, 1.0)
    return x + strength * (x * x * (3.0 - 2.0 * x) - x)


def _per_image(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(-1, *([1] * (like.ndim - 1)))


def random_faults(clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Capture faults with per-image random amounts; the result is clipped to [0, 1] like a real capture."""
    batch = clean.shape[0]
    ev = rng.uniform(-EXPOSURE_EV, EXPOSURE_EV, batch)
    temperature = np.exp(rng.uniform(-0.35, 0.35, batch))
    tint = np.exp(rng.uniform(-0.12, 0.12, batch))
    gains = np.stack([temperature, tint, 1.0 / temperature], axis=1) * (2.0**ev)[:, None]
    linear = to_linear(clean) * torch.as_tensor(gains, dtype=clean.dtype).reshape(batch, 3, 1, 1)
    x = to_srgb(linear)
    x = contrast(x, _per_image(rng.uniform(0.7, 1.3, batch), x))
    x = saturate(x, _per_image(rng.uniform(0.55, 1.45, batch), x))
    return x.clamp(0.0, 1.0)


def auto(x: torch.Tensor) -> torch.Tensor:
    """Auto: the clean photo (the preset undoes the faults)."""
    return x.clamp(0.0, 1.0)


def warm_film(x: torch.Tensor) -> torch.Tensor:
    """Warm Film: lifted blacks, soft highlight roll-off, warm cast, slightly muted colour."""
    x = s_curve(x, 0.35)
    x = saturate(x, 0.85)
    x = (x * per_channel((1.06, 1.0, 0.88), x)).clamp(0.0, 1.0)
    return (0.05 + 0.9 * x).clamp(0.0, 1.0)


def teal_orange(x: torch.Tensor) -> torch.Tensor:
    """Teal & Orange: shadows pushed to teal, mid-tones and highlights (skin) to orange, more contrast."""
    x = s_curve(x, 0.4)
    y = luma(x)
    teal = per_channel((-0.07, 0.02, 0.08), x)
    orange = per_channel((0.08, 0.01, -0.08), x)
    x = x + teal * (1.0 - y) ** 2 + orange * y * (1.0 - 0.5 * y)
    return saturate(x.clamp(0.0, 1.0), 1.15).clamp(0.0, 1.0)


def vivid(x: torch.Tensor) -> torch.Tensor:
    """Vivid: saturation x1.4 and a gentle S-curve."""
    return saturate(s_curve(x, 0.3), 1.4).clamp(0.0, 1.0)


def soft_mono(x: torch.Tensor) -> torch.Tensor:
    """Soft Mono: Rec.709 luma, lifted blacks and lowered whites, a faint warm paper tone."""
    y = s_curve(luma(x).clamp(0.0, 1.0), 0.2)
    y = 0.06 + 0.88 * y
    return (y * per_channel((1.02, 1.0, 0.96), x)).clamp(0.0, 1.0)


@dataclass(frozen=True)
class Look:
    name: str
    stem: str
    transform: Callable[[torch.Tensor], torch.Tensor]

    @property
    def description(self) -> str:
        return (self.transform.__doc__ or "").strip()


LOOKS = (
    Look("Auto", "auto", auto),
    Look("Warm Film", "warm-film", warm_film),
    Look("Teal & Orange", "teal-orange", teal_orange),
    Look("Vivid", "vivid", vivid),
    Look("Soft Mono", "soft-mono", soft_mono),
)

TRAINING_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")
HELD_OUT_PHOTOS = ("chelsea", "stereo_motorcycle")


def bundled_photo(name: str, max_side: int = 512) -> np.ndarray:
    """A scikit-image sample photo as float32 H x W x 3 in [0, 1], area-downscaled to `max_side`."""
    import skimage.data

    pixels = getattr(skimage.data, name)()
    if isinstance(pixels, tuple):  # stereo pairs: take the left view
        pixels = pixels[0]
    return shrink(pixels[..., :3].astype(np.float32) / 255.0, max_side)
