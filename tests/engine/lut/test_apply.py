"""CPU LUT application and the LUT3D operations, against analytic LUTs and a float64 numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled, InputError
from engine.jobs import CancelToken
from engine.lut import LUT3D, apply_lut, apply_lut_to_values, identity_table

INTERPOLATIONS = ("trilinear", "tetrahedral")


def affine_lut(size: int, seed: int, lo=(0.0, 0.0, 0.0), hi=(1.0, 1.0, 1.0)) -> tuple[LUT3D, np.ndarray, np.ndarray]:
    """A LUT whose every entry is M @ rgb + c: both interpolations must reproduce it exactly."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.6, (3, 3)) + np.eye(3)
    offset = rng.normal(0.0, 0.1, 3)
    shell = LUT3D(np.zeros((size, size, size, 3), np.float32), "", lo, hi)
    inputs = shell.lattice_inputs().astype(np.float64)
    return LUT3D(inputs @ matrix.T + offset, "affine", lo, hi), matrix, offset


def reference_trilinear(lut: LUT3D, rgb: np.ndarray) -> np.ndarray:
    """Straightforward float64 trilinear lookup over the 8 cell corners (independent of the fast path)."""
    n = lut.size
    pos = (rgb - lut.domain_min) / (lut.domain_max - lut.domain_min) * (n - 1)
    pos = np.clip(pos, 0, n - 1)
    base = np.minimum(np.floor(pos).astype(int), n - 2)
    frac = pos - base
    out = np.zeros_like(rgb, dtype=np.float64)
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                weight = (
                    (frac[:, 0] if dr else 1 - frac[:, 0])
                    * (frac[:, 1] if dg else 1 - frac[:, 1])
                    * (frac[:, 2] if db else 1 - frac[:, 2])
                )
                corner = lut.table[base[:, 2] + db, base[:, 1] + dg, base[:, 0] + dr].astype(np.float64)
                out += weight[:, None] * corner
    return out


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("size", [2, 17, 33])
def test_identity_is_exact(interpolation, size):
    pixels = np.random.default_rng(size).random((37, 41, 3), dtype=np.float32)
    out = apply_lut(pixels, LUT3D.identity(size), interpolation)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    np.testing.assert_allclose(out, pixels, atol=1e-5)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize(("size", "seed"), [(2, 1), (9, 2), (33, 3)])
def test_affine_lut_is_exact(interpolation, size, seed):
    lut, matrix, offset = affine_lut(size, seed)
    pixels = np.random.default_rng(seed).random((50, 60, 3), dtype=np.float32)
    expected = pixels.astype(np.float64) @ matrix.T + offset
    np.testing.assert_allclose(apply_lut(pixels, lut, interpolation), expected, atol=1e-5)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_affine_lut_on_a_wider_domain(interpolation):
    lut, matrix, offset = affine_lut(17, 4, lo=(-0.25, 0.0, -0.5), hi=(1.25, 2.0, 1.0))
    values = np.random.default_rng(5).uniform((-0.25, 0.0, -0.5), (1.25, 2.0, 1.0), (5000, 3)).astype(np.float32)
    expected = values.astype(np.float64) @ matrix.T + offset
    np.testing.assert_allclose(apply_lut_to_values(lut, values, interpolation), expected, atol=1e-5)


def test_trilinear_matches_reference_on_a_random_lut():
    rng = np.random.default_rng(6)
    lut = LUT3D(rng.random((9, 9, 9, 3), dtype=np.float32))
    values = rng.uniform(-0.1, 1.1, (20000, 3)).astype(np.float32)  # includes clamped inputs
    np.testing.assert_allclose(
        apply_lut_to_values(lut, values, "trilinear"), reference_trilinear(lut, values), atol=2e-6
    )


def test_tetrahedral_hits_lattice_points_and_stays_in_cell_hull():
    rng = np.random.default_rng(7)
    lut = LUT3D(rng.random((5, 5, 5, 3), dtype=np.float32))
    lattice = identity_table(5).reshape(-1, 3)
    np.testing.assert_allclose(apply_lut_to_values(lut, lattice, "tetrahedral"), lut.table.reshape(-1, 3), atol=1e-6)
    # Along the main diagonal of a cell, tetrahedral interpolation uses only the two diagonal corners.
    t = rng.random(100).astype(np.float32)
    points = (np.array([1, 2, 0], np.float32) + t[:, None]) / 4
    start, end = lut.table[0, 2, 1].astype(np.float64), lut.table[1, 3, 2].astype(np.float64)
    expected = start + t[:, None] * (end - start)
    np.testing.assert_allclose(apply_lut_to_values(lut, points, "tetrahedral"), expected, atol=1e-5)


def test_strength_blends_with_the_original():
    lut, matrix, offset = affine_lut(9, 8)
    pixels = np.random.default_rng(9).random((20, 30, 3), dtype=np.float32)
    full = pixels.astype(np.float64) @ matrix.T + offset
    np.testing.assert_allclose(apply_lut(pixels, lut, strength=0.3), pixels + 0.3 * (full - pixels), atol=1e-5)
    np.testing.assert_allclose(apply_lut(pixels, lut, strength=0.0), pixels, atol=1e-6)


def test_lut_operations_resample_compose_blend():
    lut, matrix, offset = affine_lut(9, 10)
    values = np.random.default_rng(11).random((1000, 3)).astype(np.float32)
    expected = values.astype(np.float64) @ matrix.T + offset
    resampled = lut.resampled(4)
    assert resampled.size == 4
    np.testing.assert_allclose(apply_lut_to_values(resampled, values), expected, atol=1e-5)
    other, matrix2, offset2 = affine_lut(5, 12, lo=(-3, -3, -3), hi=(3, 3, 3))  # covers lut's output range
    composed = lut.then(other)
    np.testing.assert_allclose(apply_lut_to_values(composed, values), expected @ matrix2.T + offset2, atol=1e-4)
    half = lut.blended(0.5)
    np.testing.assert_allclose(apply_lut_to_values(half, values), (values + expected) / 2, atol=1e-5)


def test_progress_and_cancel():
    pixels = np.zeros((700, 300, 3), np.float32)
    seen: list[float] = []
    apply_lut(pixels, LUT3D.identity(5), progress=lambda f, m="": seen.append(f))
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        apply_lut(pixels, LUT3D.identity(5), cancel=token)


def test_bad_arguments_are_typed_errors():
    with pytest.raises(InputError, match="H x W x 3"):
        apply_lut(np.zeros((4, 4), np.float32), LUT3D.identity(3))
    with pytest.raises(InputError, match="unknown interpolation"):
        apply_lut(np.zeros((4, 4, 3), np.float32), LUT3D.identity(3), "cubic")
    with pytest.raises(InputError, match="size 300"):
        LUT3D.identity(300)
    with pytest.raises(InputError, match="NaN"):
        LUT3D(np.full((2, 2, 2, 3), np.nan, np.float32))
    with pytest.raises(InputError, match="domain"):
        LUT3D(identity_table(2), domain_min=(0, 0, 1), domain_max=(1, 1, 1))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_out_of_range_and_non_finite_inputs_clamp_to_the_domain(interpolation):
    lut, matrix, offset = affine_lut(9, 13)
    values = np.array([[-0.5, 2.0, 0.5], [np.inf, -np.inf, 0.25], [np.nan, 0.5, 1.0]], np.float32)
    clamped = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25], [0.0, 0.5, 1.0]])
    np.testing.assert_allclose(apply_lut_to_values(lut, values, interpolation), clamped @ matrix.T + offset, atol=1e-5)
