"""The LUT3D value type: one layout for every LUT in LUTLab.

``table`` is float32 of shape (N, N, N, 3) indexed ``[b, g, r]``, so ``table.reshape(-1, 3)`` is the
.cube row order (red fastest) and the glTexImage3D buffer (width = r, height = g, depth = b).
The domain maps input values onto the lattice: input ``domain_min`` lands on index 0 and
``domain_max`` on index N-1 (per channel), values outside are clamped.

A LUT3D may carry a ``shaper``: a per-channel 1D curve (`LUT1D`) applied before the 3D lookup, as
Resolve and OpenColorIO write .cube files (a log shaper lets a small cube cover a wide range). Both
stages are applied exactly everywhere (CPU, GPU preview and export); the 3D domain and
`lattice_inputs` are then in the shaper's output space. A 1D-only .cube is a shaper in front of an
identity cube (which interpolates exactly, being affine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError
from engine.lut.sampling import apply_lut_to_values

MIN_SIZE, MAX_SIZE = 2, 256
MAX_1D_SIZE = 65536
BAKE_SIZE = 65  # lattice a shaper is baked onto when it cannot be kept (a non-monotonic shaper blended)


def _triple(value: object) -> np.ndarray:
    return np.asarray(value, dtype=np.float32).reshape(3)


def _store_checked(lut: LUT1D | LUT3D, table: np.ndarray, what: str) -> None:
    """Refuse a table with NaN or infinity or a domain whose min is not below its max; store both as float32."""
    if not np.isfinite(table).all():
        raise InputError(f"{what} table contains NaN or infinite values")
    lo, hi = _triple(lut.domain_min), _triple(lut.domain_max)
    if not (lo < hi).all():
        raise InputError(f"{what} domain min {lo.tolist()} must be below max {hi.tolist()}")
    object.__setattr__(lut, "table", table)
    object.__setattr__(lut, "domain_min", lo)
    object.__setattr__(lut, "domain_max", hi)


@dataclass(frozen=True, eq=False)
class LUT1D:
    """Per-channel curves: ``table`` (M, 3) float32; entry 0 answers ``domain_min``, entry M-1
    ``domain_max`` (per channel), linear in between, clamped outside (as OCIO's Lut1D)."""

    table: np.ndarray
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))

    def __post_init__(self) -> None:
        table = np.ascontiguousarray(self.table, dtype=np.float32)
        if table.ndim != 2 or table.shape[1] != 3 or not 2 <= table.shape[0] <= MAX_1D_SIZE:
            raise InputError(f"1D LUT table must have shape (M, 3) with M in 2..{MAX_1D_SIZE}, got {table.shape}")
        _store_checked(self, table, "1D LUT")

    @property
    def size(self) -> int:
        return self.table.shape[0]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The curves at `rgb` (..., 3), float32, in the same arithmetic as the GPU shader."""
        flat = np.asarray(rgb, dtype=np.float32).reshape(-1, 3)
        out = np.empty_like(flat)
        top = np.float32(self.size - 1)
        scale = (top / (self.domain_max - self.domain_min)).astype(np.float32)
        for channel in range(3):
            pos = flat[:, channel] - self.domain_min[channel]
            pos *= scale[channel]
            np.fmax(pos, 0, out=pos)  # NaN goes to the domain edge, as in the 3D lookup
            np.fmin(pos, top, out=pos)
            index = np.minimum(np.floor(pos), top - 1)
            pos -= index
            index = index.astype(np.intp)
            column = self.table[:, channel]
            low = column[index]
            high = column[index + 1]
            high -= low
            high *= pos
            high += low
            out[:, channel] = high
        return out.reshape(np.shape(rgb))

    def inverse_at(self, values: np.ndarray, channel: int) -> np.ndarray | None:
        """Inputs whose curve output is `values` for a strictly monotonic channel; None otherwise."""
        column = self.table[:, channel].astype(np.float64)
        knots = np.linspace(self.domain_min[channel], self.domain_max[channel], self.size)
        steps = np.diff(column)
        if (steps > 0).all():
            return np.interp(values, column, knots)
        if (steps < 0).all():
            return np.interp(values, column[::-1], knots[::-1])
        return None


@dataclass(frozen=True, eq=False)
class LUT3D:
    table: np.ndarray
    title: str = ""
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))
    shaper: LUT1D | None = None  # applied to the input before the 3D lookup

    def __post_init__(self) -> None:
        if self.shaper is not None and not isinstance(self.shaper, LUT1D):
            raise InputError(f"a LUT shaper must be a LUT1D, not {type(self.shaper).__name__}")
        table = np.ascontiguousarray(self.table, dtype=np.float32)
        if table.ndim != 4 or table.shape[3] != 3 or not table.shape[0] == table.shape[1] == table.shape[2]:
            raise InputError(f"LUT table must have shape (N, N, N, 3), got {table.shape}")
        if not MIN_SIZE <= table.shape[0] <= MAX_SIZE:
            raise InputError(f"LUT size {table.shape[0]} is outside {MIN_SIZE}..{MAX_SIZE}")
        _store_checked(self, table, "LUT")

    @property
    def size(self) -> int:
        return self.table.shape[0]

    @property
    def has_unit_domain(self) -> bool:
        return bool((self.domain_min == 0).all() and (self.domain_max == 1).all())

    @property
    def input_domain(self) -> tuple[np.ndarray, np.ndarray]:
        """The input values the whole LUT covers: the shaper's domain, or else the cube's."""
        stage = self.shaper if self.shaper is not None else self
        return stage.domain_min, stage.domain_max

    @classmethod
    def from_1d(cls, shaper: LUT1D, title: str = "") -> LUT3D:
        """A 1D-only LUT: the curves, then an identity cube spanning their outputs (exact: it is affine)."""
        lo = shaper.table.min(axis=0)
        hi = np.maximum(shaper.table.max(axis=0), lo + np.maximum(np.abs(lo), 1) * 1e-3)
        cube = cls(identity_table(MIN_SIZE), "", lo, hi)
        return cls(cube.lattice_inputs(), title, lo, hi, shaper)

    def without_shaper(self) -> LUT3D:
        """The 3D stage alone."""
        return LUT3D(self.table, self.title, self.domain_min, self.domain_max) if self.shaper is not None else self

    def baked(self, size: int = BAKE_SIZE, interpolation: str = "tetrahedral") -> LUT3D:
        """One plain 3D table over the input domain (exact at its lattice points only)."""
        if self.shaper is None:
            return self
        lo, hi = self.input_domain
        inputs = LUT3D(identity_table(size), "", lo, hi).lattice_inputs()
        return LUT3D(apply_lut_to_values(self, inputs, interpolation), self.title, lo, hi)

    @classmethod
    def identity(cls, size: int = 33, title: str = "Identity") -> LUT3D:
        return cls(identity_table(size), title=title)

    def with_title(self, title: str) -> LUT3D:
        return LUT3D(self.table, title, self.domain_min, self.domain_max, self.shaper)

    def lattice_inputs(self) -> np.ndarray:
        """The RGB input each table entry answers, shape (N, N, N, 3) in the same [b, g, r] layout
        (with a shaper: what the shaper outputs, i.e. the 3D stage's input)."""
        unit = identity_table(self.size)
        return self.domain_min + unit * (self.domain_max - self.domain_min)

    def resampled(self, size: int, interpolation: str = "tetrahedral") -> LUT3D:
        """The same transform on a lattice of another size."""
        table = apply_lut_to_values(
            self.without_shaper(),
            LUT3D(identity_table(size), "", self.domain_min, self.domain_max).lattice_inputs(),
            interpolation,
        )
        return LUT3D(table, self.title, self.domain_min, self.domain_max, self.shaper)

    def then(self, other: LUT3D, interpolation: str = "tetrahedral") -> LUT3D:
        """The composition "apply self, then other", on self's lattice and domain (self's shaper kept)."""
        return LUT3D(
            apply_lut_to_values(other, self.table, interpolation),
            self.title,
            self.domain_min,
            self.domain_max,
            self.shaper,
        )

    def blended(self, strength: float) -> LUT3D:
        """Mix with the identity: 0 leaves colours unchanged, 1 is the full LUT (values above 1 extrapolate).

        With a shaper the identity at a lattice point is the shaper's inverse there (strictly monotonic
        curves), so the shaper is kept; a non-monotonic shaper is baked first."""
        if strength == 1:
            return self
        base = self.lattice_inputs()
        if self.shaper is not None:
            inverse = [self.shaper.inverse_at(base[..., channel], channel) for channel in range(3)]
            known = [values for values in inverse if values is not None]
            if len(known) < 3:
                return self.baked().blended(strength)
            base = np.stack(known, axis=-1).astype(np.float32)
        return LUT3D(
            base + np.float32(strength) * (self.table - base), self.title, self.domain_min, self.domain_max, self.shaper
        )


def identity_table(size: int) -> np.ndarray:
    """Identity lattice in [0, 1]: table[b, g, r] = (r, g, b) / (N - 1)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"LUT size {size} is outside {MIN_SIZE}..{MAX_SIZE}")
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(ramp, ramp, ramp, indexing="ij")
    return np.stack([r, g, b], axis=-1)
