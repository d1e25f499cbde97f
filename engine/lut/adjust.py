"""Analytic photo adjustments as functions of RGB and as 3D LUTs (numpy only; no Qt, no torch).

One set of physically meaningful controls, shared by everything that needs them: the adaptive Auto
preset builds its basis LUTs from them (one per direction and sign), the bench measures how much of
each ideal correction a basis can express, and the editor's adjustment sliders can reuse `Adjustments`.

Every control is neutral at 0 and works where it belongs physically:

* ``exposure`` (EV) and white balance -- ``temperature`` (log blue/red gain ratio: + warmer) and
  ``tint`` (log green gain: + greener, - magenta) -- are gains on *linear* light, like a camera's;
* ``black`` / ``white`` move the black and white points (levels) of the sRGB-encoded values;
* ``contrast`` scales sRGB values about mid-grey 0.5 by ``exp(contrast)`` (+ more contrast);
* ``saturation`` scales each colour's distance from its Rec.709 luma by ``exp(saturation)``.

`apply` works in that order (a camera's raw gains first, then the tone and colour of the rendered photo,
which is also how the synthetic capture faults are made); `apply_reversed` works in the opposite order, the
one that undoes a capture: ``fault.inverse().apply_reversed(fault.apply(x)) == x`` wherever nothing clipped.
Every step clips to [0, 1], as a photo does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from engine.color import REC709_LUMA, linear_to_srgb, srgb_to_linear
from engine.lut.lut3d import LUT3D, identity_table

MID_GREY = 0.5  # contrast pivot in sRGB values


@dataclass(frozen=True)
class Adjustments:
    """Slider values; every field is 0 for "no change"."""

    exposure: float = 0.0  # EV: x 2**exposure in linear light
    temperature: float = 0.0  # red gain exp(+t), blue gain exp(-t) in linear light
    tint: float = 0.0  # green gain exp(tint) in linear light
    black: float = 0.0  # levels: the sRGB value mapped to 0 (negative lifts the blacks)
    white: float = 0.0  # levels: 1 - white is mapped to 1 (negative lowers the whites)
    contrast: float = 0.0  # log slope about mid-grey
    saturation: float = 0.0  # log chroma gain

    @property
    def is_neutral(self) -> bool:
        return all(getattr(self, f.name) == 0.0 for f in fields(self))

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The adjusted colours of sRGB values (..., 3) in [0, 1]; float32, clipped to [0, 1]."""
        x = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
        for step in (self._light, self._levels, self._contrast, self._saturation):
            x = step(x)
        return x.astype(np.float32)

    def apply_reversed(self, rgb: np.ndarray) -> np.ndarray:
        """The same controls in the order that undoes a capture: saturation, contrast, levels, then light."""
        x = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
        for step in (self._saturation, self._contrast, self._levels, self._light):
            x = step(x)
        return x.astype(np.float32)

    def inverse(self) -> Adjustments:
        """The adjustments that undo these ones (applied with `apply_reversed`)."""
        span = 1.0 - self.white - self.black
        return Adjustments(
            -self.exposure,
            -self.temperature,
            -self.tint,
            -self.black / span,
            -self.white / span,
            -self.contrast,
            -self.saturation,
        )

    def _light(self, x: np.ndarray) -> np.ndarray:
        if not (self.exposure or self.temperature or self.tint):
            return x
        gains = np.exp(np.array([self.temperature, self.tint, -self.temperature], np.float32))
        return linear_to_srgb(np.clip(srgb_to_linear(x) * gains * np.float32(2.0**self.exposure), 0.0, 1.0))

    def _levels(self, x: np.ndarray) -> np.ndarray:
        if not (self.black or self.white):
            return x
        low, high = np.float32(self.black), np.float32(1.0 - self.white)
        return np.clip((x - low) / (high - low), 0.0, 1.0)

    def _contrast(self, x: np.ndarray) -> np.ndarray:
        if not self.contrast:
            return x
        return np.clip(MID_GREY + np.float32(np.exp(self.contrast)) * (x - MID_GREY), 0.0, 1.0)

    def _saturation(self, x: np.ndarray) -> np.ndarray:
        if not self.saturation:
            return x
        y = (x @ REC709_LUMA)[..., None]
        return np.clip(y + np.float32(np.exp(self.saturation)) * (x - y), 0.0, 1.0)

    def lut(self, size: int = 33, title: str = "Adjustments") -> LUT3D:
        """These adjustments as a LUT3D (exact at the lattice points)."""
        return LUT3D(self.apply(identity_table(size)), title=title)


DIRECTIONS = tuple(f.name for f in fields(Adjustments))
# How far each control may go (Auto's predicted corrections are squashed into these ranges)
LIMITS = {
    "exposure": 3.0,
    "temperature": 1.0,
    "tint": 0.5,
    "black": 0.3,
    "white": 0.3,
    "contrast": 1.0,
    "saturation": 1.5,
}

# One step per direction and sign for the adaptive basis: about the middle of each control's useful
# range, so a weight of +-1 is a strong but ordinary correction and the two signs together capture the
# curvature (clipping, the sRGB curve) that one linear direction could not.
BASIS_STEP = {
    "exposure": 1.0,
    "temperature": 0.3,
    "tint": 0.12,
    "black": 0.12,
    "white": 0.12,
    "contrast": 0.3,
    "saturation": 0.45,
}


def basis_names() -> list[str]:
    """Names of the physical basis LUTs, in order: "exposure+", "exposure-", "temperature+", ..."""
    return [f"{name}{sign}" for name in DIRECTIONS for sign in "+-"]


def basis_residuals(size: int) -> np.ndarray:
    """(2 * len(DIRECTIONS), N, N, N, 3): each direction's step (both signs) minus the identity."""
    identity = identity_table(size)
    out = []
    for name in DIRECTIONS:
        for sign in (1.0, -1.0):
            out.append(replace(Adjustments(), **{name: sign * BASIS_STEP[name]}).apply(identity) - identity)
    return np.stack(out).astype(np.float32)


def span_share(basis: np.ndarray, correction: np.ndarray) -> float:
    """Share (0..1) of a correction's residual (N, N, N, 3) that a basis of residuals (K, N, N, N, 3) expresses.

    Least-squares projection over the whole cube: 1 - |r - P r|^2 / |r|^2, where P projects onto the
    span of the basis LUTs (the best any weights could do with this basis, for this one correction).
    """
    matrix = np.asarray(basis, np.float64).reshape(len(basis), -1).T
    target = np.asarray(correction, np.float64).reshape(-1)
    energy = float(target @ target)
    if energy == 0.0:
        return 1.0
    coefficients, *_ = np.linalg.lstsq(matrix, target, rcond=None)
    left = target - matrix @ coefficients
    return max(0.0, 1.0 - float(left @ left) / energy)
