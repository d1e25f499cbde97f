"""Synthetic training pairs for Auto and the looks: capture faults on clean photos, and documented looks.

Input  = a clean photo with capture faults (`FAULT_KINDS`): exposure and white balance are gains in
         linear light; contrast and saturation act on the sRGB values; each step clips, as a capture does.
         The faults are `engine.lut.adjust.Adjustments` with random amounts, so every fault has an exact
         ideal correction (the opposite adjustment, up to what clipping destroyed).
Target = the preset's look applied to the clean photo (Auto: the clean photo itself).

Everything works on torch tensors (B, 3, H, W) of sRGB values in [0, 1] so batches are made on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.color import REC709_LUMA
from engine.lut.adjust import DIRECTIONS, MID_GREY

EXPOSURE_EV = 1.5

# Each fault kind: the adjustment amounts it draws, as (direction, low, high, random sign?). "clean" draws
# none. The bench reports every kind separately; training mixes them (see `FaultMix`).
FAULT_RANGES: dict[str, tuple[tuple[str, float, float, bool], ...]] = {
    "exposure-under": (("exposure", -1.5, -0.5, False),),
    "exposure-over": (("exposure", 0.5, 1.5, False),),
    "white-balance": (("temperature", 0.1, 0.35, True), ("tint", 0.04, 0.15, True)),
    "contrast-low": (("contrast", float(np.log(0.6)), float(np.log(0.85)), False),),
    "contrast-high": (("contrast", float(np.log(1.15)), float(np.log(1.4)), False),),
    "saturation-low": (("saturation", float(np.log(0.4)), float(np.log(0.8)), False),),
    "saturation-high": (("saturation", float(np.log(1.25)), float(np.log(1.6)), False),),
    "combined": (
        ("exposure", -EXPOSURE_EV, EXPOSURE_EV, False),
        ("temperature", -0.35, 0.35, False),
        ("tint", -0.12, 0.12, False),
        ("contrast", float(np.log(0.7)), float(np.log(1.3)), False),
        ("saturation", float(np.log(0.55)), float(np.log(1.45)), False),
    ),
}
FAULT_KINDS = tuple(FAULT_RANGES)
SINGLE_FAULTS = tuple(kind for kind in FAULT_KINDS if kind != "combined")


def to_linear(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def per_channel(values: Sequence[float] | np.ndarray, like: torch.Tensor) -> torch.Tensor:
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


def per_image_values(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """One number per image of a batch, shaped to broadcast over `like` (B, ...)."""
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(-1, *([1] * (like.ndim - 1)))


def adjust(x: torch.Tensor, amounts: dict[str, np.ndarray]) -> torch.Tensor:
    """`engine.lut.adjust.Adjustments.apply` on a batch, with per-image amounts (direction -> (B,) array)."""
    batch = x.shape[0]
    get = {name: np.asarray(amounts.get(name, np.zeros(batch)), np.float64).reshape(batch) for name in DIRECTIONS}
    x = x.clamp(0.0, 1.0)
    gains = np.exp(np.stack([get["temperature"], get["tint"], -get["temperature"]], 1))
    gains *= (2.0 ** get["exposure"])[:, None]
    if np.any(gains != 1.0):
        x = to_srgb(to_linear(x) * torch.as_tensor(gains, dtype=x.dtype, device=x.device).reshape(batch, 3, 1, 1))
    if np.any(get["black"]) or np.any(get["white"]):
        low, high = per_image_values(get["black"], x), per_image_values(1.0 - get["white"], x)
        x = ((x - low) / (high - low)).clamp(0.0, 1.0)
    if np.any(get["contrast"]):
        x = contrast(x, per_image_values(np.exp(get["contrast"]), x), MID_GREY).clamp(0.0, 1.0)
    if np.any(get["saturation"]):
        x = saturate(x, per_image_values(np.exp(get["saturation"]), x)).clamp(0.0, 1.0)
    return x


def fault_amounts(kinds: Sequence[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random adjustment amounts for one image per entry of `kinds` ("clean" draws nothing)."""
    amounts = {name: np.zeros(len(kinds)) for name in DIRECTIONS}
    for index, kind in enumerate(kinds):
        for name, low, high, signed in FAULT_RANGES.get(kind, ()):
            value = rng.uniform(low, high)
            amounts[name][index] = value * (rng.choice((-1.0, 1.0)) if signed else 1.0)
    return amounts


def apply_faults(clean: torch.Tensor, kinds: Sequence[str], rng: np.random.Generator) -> torch.Tensor:
    """Each image of the batch with a random fault of its kind (one kind per image)."""
    if len(kinds) != clean.shape[0]:
        raise ValueError(f"{len(kinds)} fault kinds for {clean.shape[0]} images")
    return adjust(clean, fault_amounts(kinds, rng))


@dataclass(frozen=True)
class FaultMix:
    """How training draws fault kinds: a share of clean inputs (so clean in gives clean out), a share of
    single faults (each single kind equally likely), the rest combined faults."""

    clean: float = 0.0
    single: float = 0.0

    def draw(self, rng: np.random.Generator, count: int) -> list[str]:
        kinds = []
        for roll in rng.random(count):
            if roll < self.clean:
                kinds.append("clean")
            elif roll < self.clean + self.single:
                kinds.append(SINGLE_FAULTS[rng.integers(len(SINGLE_FAULTS))])
            else:
                kinds.append("combined")
        return kinds


COMBINED_ONLY = FaultMix()
AUTO_MIX = FaultMix(clean=0.25, single=0.4)


def random_faults(clean: torch.Tensor, rng: np.random.Generator, mix: FaultMix = COMBINED_ONLY) -> torch.Tensor:
    """Capture faults drawn from `mix` (default: combined faults on every image), clipped like a capture."""
    return apply_faults(clean, mix.draw(rng, clean.shape[0]), rng)


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
