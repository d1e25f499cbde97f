"""The interpolation kernel of a 3D LUT on the CPU: trilinear and tetrahedral look-ups of RGB triples.

It sits below both the LUT value type (engine.lut.lut3d composes and resamples LUTs with it) and the photo
appliers (engine.lut.apply tiles and threads it), so neither imports the other's module back. It reads any
object with a LUT3D's fields (`LatticeTable`), never the class itself.

Speed comes from the memory layout, not from cleverness in the arithmetic:
- the table is split into one contiguous float32 plane per output channel, so every corner fetch is a
  scalar `np.take` (about 1 ns) rather than a fancy-indexed row gather (tens of ns);
- the lattice index of a pixel is computed once in float32 (exact: N^3 <= 2^24) and cast once;
- callers feed chunks of CHUNK_PIXELS, small enough that every temporary stays in cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from engine.errors import InputError

INTERPOLATIONS = ("trilinear", "tetrahedral")
DEFAULT_INTERPOLATION = "tetrahedral"  # everywhere (CPU, GPU preview, adaptive presets): ffmpeg's lut3d default
CHUNK_PIXELS = 1 << 14

# Tetrahedral: the cell is cut into 6 tetrahedra by the order of the fractions (fr, fg, fb). A pixel's
# tetrahedron is numbered 4*(fr >= fg) + 2*(fg >= fb) + (fr >= fb); this lists its axes from the largest
# fraction to the smallest. Numbers 1 and 6 cannot occur (their comparisons contradict each other).
_TETRAHEDRON_AXES = ("bgr", "rgb", "gbr", "grb", "brg", "rbg", "rgb", "rgb")


class LatticeTable(Protocol):
    """What the kernel reads of a LUT (engine.lut.lut3d.LUT3D has it): an (N, N, N, 3) [b, g, r] table over
    the input box [domain_min, domain_max], optionally after a per-channel shaper (``shaper.apply``)."""

    @property
    def table(self) -> np.ndarray: ...
    @property
    def domain_min(self) -> np.ndarray: ...
    @property
    def domain_max(self) -> np.ndarray: ...
    @property
    def shaper(self) -> Any: ...
    @property
    def size(self) -> int: ...


def apply_lut_to_values(lut: LatticeTable, values: np.ndarray, interpolation: str = "tetrahedral") -> np.ndarray:
    """Look up an array of RGB triples (..., 3) in `lut`; returns a new float32 array of the same shape."""
    sample = sampler(lut, interpolation)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, 3)
    out = np.empty_like(flat)
    for start in range(0, flat.shape[0], CHUNK_PIXELS):
        chunk = flat[start : start + CHUNK_PIXELS]
        sample(chunk if lut.shaper is None else lut.shaper.apply(chunk), out[start : start + CHUNK_PIXELS])
    return out.reshape(np.shape(values))


Sampler = Callable[[np.ndarray, np.ndarray], None]


def check_interpolation(interpolation: str) -> None:
    """Raise InputError unless `interpolation` is one of INTERPOLATIONS (shared by the CPU and GPU paths)."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"unknown interpolation {interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")


def sampler(lut: LatticeTable, interpolation: str) -> Sampler:
    """A function that writes the interpolated LUT values of an (M, 3) chunk into an (M, 3) output."""
    check_interpolation(interpolation)
    lattice = _Lattice(lut)
    return lattice.trilinear if interpolation == "trilinear" else lattice.tetrahedral


class _Lattice:
    """The LUT as per-channel planes, plus the arithmetic that locates a colour in its cell."""

    def __init__(self, lut: LatticeTable) -> None:
        n = lut.size
        self.n = n
        self.planes = np.ascontiguousarray(lut.table.reshape(-1, 3).T)  # (3, N^3), red fastest
        self.scale = ((n - 1) / (lut.domain_max - lut.domain_min)).astype(np.float32)
        self.offset = (-lut.domain_min * self.scale).astype(np.float32)
        self.stride = {"r": 1, "g": n, "b": n * n}
        axes = _TETRAHEDRON_AXES
        self.first_step = np.array([self.stride[a[0]] for a in axes], np.intp)
        self.second_step = np.array([self.stride[a[0]] + self.stride[a[1]] for a in axes], np.intp)

    def locate(self, rgb: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Flat index of each colour's cell corner and its (fr, fg, fb) position inside the cell."""
        top = np.float32(self.n - 1)
        fractions: list[np.ndarray] = []
        index: np.ndarray | None = None
        for channel, step in ((2, self.n * self.n), (1, self.n), (0, 1)):  # blue first: index = b*N^2 + g*N + r
            pos = rgb[:, channel] * self.scale[channel]
            pos += self.offset[channel]
            np.fmax(pos, 0, out=pos)  # fmax/fmin also send NaN to the domain edge instead of a wild index
            np.fmin(pos, top, out=pos)
            corner = np.floor(pos)
            np.minimum(corner, top - 1, out=corner)
            pos -= corner
            fractions.append(pos)
            if index is None:
                index = corner * np.float32(step)
            else:
                index += corner if step == 1 else corner * np.float32(step)
        fb, fg, fr = fractions
        assert index is not None
        return index.astype(np.intp), [fr, fg, fb]

    def trilinear(self, rgb: np.ndarray, out: np.ndarray) -> None:
        index, (fr, fg, fb) = self.locate(rgb)
        n = self.n
        corner_offsets = (0, 1, n, n + 1, n * n, n * n + 1, n * n + n, n * n + n + 1)
        for channel, plane in enumerate(self.planes):
            # plane[offset:] is a view, so each corner costs one gather and no index arithmetic.
            v = [np.take(plane[offset:], index) for offset in corner_offsets]
            for low, high, frac in ((0, 1, fr), (2, 3, fr), (4, 5, fr), (6, 7, fr), (0, 2, fg), (4, 6, fg), (0, 4, fb)):
                v[high] -= v[low]  # v[low] += frac * (v[high] - v[low]), without temporaries
                v[high] *= frac
                v[low] += v[high]
            out[:, channel] = v[0]

    def tetrahedral(self, rgb: np.ndarray, out: np.ndarray) -> None:
        index, (fr, fg, fb) = self.locate(rgb)
        tetrahedron = (fr >= fg).view(np.int8) * np.int8(4)
        tetrahedron += (fg >= fb).view(np.int8) * np.int8(2)
        tetrahedron += (fr >= fb).view(np.int8)
        f_max = np.maximum(np.maximum(fr, fg), fb)
        f_min = np.minimum(np.minimum(fr, fg), fb)
        f_mid = fr + fg
        f_mid += fb
        f_mid -= f_max
        f_mid -= f_min
        # Barycentric weights of the 4 vertices: 1 - f_max, f_max - f_mid, f_mid - f_min, f_min.
        weights = (np.float32(1) - f_max, f_max - f_mid, f_mid - f_min, f_min)
        n = self.n
        first = index + self.first_step[tetrahedron]
        second = index + self.second_step[tetrahedron]
        for channel, plane in enumerate(self.planes):
            total = np.take(plane, index)
            total *= weights[0]
            # The far corner is index + 1 + N + N^2: gathered from a shifted view of the plane.
            for source, vertex, weight in (
                (plane, first, weights[1]),
                (plane, second, weights[2]),
                (plane[1 + n + n * n :], index, weights[3]),
            ):
                term = np.take(source, vertex)
                term *= weight
                total += term
            out[:, channel] = total
