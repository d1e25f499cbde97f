"""The LUT3D value type: one layout for every LUT in LUTLab.

``table`` is float32 of shape (N, N, N, 3) indexed ``[b, g, r]``, so ``table.reshape(-1, 3)`` is the
.cube row order (red fastest) and the glTexImage3D buffer (width = r, height = g, depth = b).
The domain maps input values onto the lattice: input ``domain_min`` lands on index 0 and
``domain_max`` on index N-1 (per channel), values outside are clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError

MIN_SIZE, MAX_SIZE = 2, 256


def _triple(value: object) -> np.ndarray:
    return np.asarray(value, dtype=np.float32).reshape(3)


@dataclass(frozen=True, eq=False)
class LUT3D:
    table: np.ndarray
    title: str = ""
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))

    def __post_init__(self) -> None:
        table = np.ascontiguousarray(self.table, dtype=np.float32)
        if table.ndim != 4 or table.shape[3] != 3 or not table.shape[0] == table.shape[1] == table.shape[2]:
            raise InputError(f"LUT table must have shape (N, N, N, 3), got {table.shape}")
        if not MIN_SIZE <= table.shape[0] <= MAX_SIZE:
            raise InputError(f"LUT size {table.shape[0]} is outside {MIN_SIZE}..{MAX_SIZE}")
        if not np.isfinite(table).all():
            raise InputError("LUT table contains NaN or infinite values")
        lo, hi = _triple(self.domain_min), _triple(self.domain_max)
        if not (lo < hi).all():
            raise InputError(f"LUT domain min {lo.tolist()} must be below max {hi.tolist()}")
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "domain_min", lo)
        object.__setattr__(self, "domain_max", hi)

    @property
    def size(self) -> int:
        return self.table.shape[0]

    @property
    def has_unit_domain(self) -> bool:
        return bool((self.domain_min == 0).all() and (self.domain_max == 1).all())

    @classmethod
    def identity(cls, size: int = 33, title: str = "Identity") -> LUT3D:
        return cls(identity_table(size), title=title)

    def with_title(self, title: str) -> LUT3D:
        return LUT3D(self.table, title, self.domain_min, self.domain_max)

    def lattice_inputs(self) -> np.ndarray:
        """The RGB input each table entry answers, shape (N, N, N, 3) in the same [b, g, r] layout."""
        unit = identity_table(self.size)
        return self.domain_min + unit * (self.domain_max - self.domain_min)

    def resampled(self, size: int, interpolation: str = "tetrahedral") -> LUT3D:
        """The same transform on a lattice of another size."""
        from engine.lut.apply import apply_lut_to_values

        table = apply_lut_to_values(self, LUT3D(identity_table(size), "", self.domain_min, self.domain_max)
                                    .lattice_inputs(), interpolation)
        return LUT3D(table, self.title, self.domain_min, self.domain_max)

    def then(self, other: LUT3D, interpolation: str = "tetrahedral") -> LUT3D:
        """The composition "apply self, then other", on self's lattice and domain."""
        from engine.lut.apply import apply_lut_to_values

        return LUT3D(apply_lut_to_values(other, self.table, interpolation), self.title,
                     self.domain_min, self.domain_max)

    def blended(self, strength: float) -> LUT3D:
        """Mix with the identity: 0 leaves colours unchanged, 1 is the full LUT (values above 1 extrapolate)."""
        base = self.lattice_inputs()
        return LUT3D(base + np.float32(strength) * (self.table - base), self.title,
                     self.domain_min, self.domain_max)


def identity_table(size: int) -> np.ndarray:
    """Identity lattice in [0, 1]: table[b, g, r] = (r, g, b) / (N - 1)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"LUT size {size} is outside {MIN_SIZE}..{MAX_SIZE}")
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(ramp, ramp, ramp, indexing="ij")
    return np.stack([r, g, b], axis=-1)
