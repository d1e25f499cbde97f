"""Analytic adjustments: neutral is the identity, each control moves colours the way its name says, the LUT is
exact at the lattice, and the span share measures what a basis can express."""

import numpy as np
import pytest

from engine.color import REC709_LUMA
from engine.lut import apply_lut, identity_table
from engine.lut.adjust import BASIS_STEP, DIRECTIONS, Adjustments, basis_names, basis_residuals, span_share

GREY = np.array([[[0.5, 0.5, 0.5]]], np.float32)
COLOUR = np.array([[[0.6, 0.4, 0.3]]], np.float32)


def test_neutral_is_the_identity():
    values = identity_table(9)
    assert Adjustments().is_neutral
    np.testing.assert_array_equal(Adjustments().apply(values), values)
    np.testing.assert_array_equal(Adjustments().lut(9).table, values)


@pytest.mark.parametrize(
    ("adjustment", "check"),
    [
        (Adjustments(exposure=1.0), lambda before, after: (after > before).all()),
        (Adjustments(exposure=-1.0), lambda before, after: (after < before).all()),
        (Adjustments(temperature=0.3), lambda before, after: after[0] > before[0] and after[2] < before[2]),
        (Adjustments(tint=0.1), lambda before, after: after[1] > before[1] and after[0] == before[0]),
        (Adjustments(tint=-0.1), lambda before, after: after[1] < before[1]),
    ],
)
def test_light_controls_on_grey(adjustment, check):
    before = GREY[0, 0]
    assert check(before, adjustment.apply(GREY)[0, 0])


def test_exposure_is_a_gain_in_linear_light():
    from engine.color import linear_to_srgb, srgb_to_linear

    out = Adjustments(exposure=1.0).apply(np.float32([[0.2, 0.3, 0.1]]))
    np.testing.assert_allclose(out, linear_to_srgb(srgb_to_linear(np.float32([[0.2, 0.3, 0.1]])) * 2), atol=1e-6)


def test_tone_and_colour_controls():
    ramp = np.linspace(0, 1, 11, dtype=np.float32)[:, None].repeat(3, 1)
    lifted = Adjustments(black=-0.1, white=-0.1).apply(ramp)
    assert lifted[0, 0] == pytest.approx(0.1 / 1.2) and lifted[-1, 0] == pytest.approx(1.1 / 1.2)  # levels
    crushed = Adjustments(black=0.1).apply(ramp)
    assert crushed[1, 0] == 0.0 and crushed[-1, 0] == 1.0
    steeper = Adjustments(contrast=0.3).apply(ramp)
    assert steeper[5, 0] == pytest.approx(0.5) and steeper[3, 0] < ramp[3, 0] and steeper[7, 0] > ramp[7, 0]
    vivid, dull = Adjustments(saturation=0.4).apply(COLOUR), Adjustments(saturation=-5.0).apply(COLOUR)
    luma = float(COLOUR[0, 0] @ REC709_LUMA)
    assert np.ptp(vivid) > np.ptp(COLOUR) and float(vivid[0, 0] @ REC709_LUMA) == pytest.approx(luma, abs=1e-6)
    np.testing.assert_allclose(dull[0, 0], luma, atol=0.01)  # exp(-5): almost grey


def test_lut_is_exact_at_the_lattice_and_close_between():
    adjustment = Adjustments(exposure=0.5, temperature=0.1, contrast=0.2, saturation=0.2)
    lut = adjustment.lut(33)
    np.testing.assert_array_equal(lut.table, adjustment.apply(identity_table(33)))
    pixels = np.random.default_rng(0).uniform(0.05, 0.7, (20, 20, 3)).astype(np.float32)
    assert np.abs(apply_lut(pixels, lut) - adjustment.apply(pixels)).max() < 0.02


def test_basis_is_both_signs_of_every_direction():
    residuals = basis_residuals(9)
    assert residuals.shape == (2 * len(DIRECTIONS), 9, 9, 9, 3)
    assert basis_names()[:2] == ["exposure+", "exposure-"] and len(basis_names()) == len(residuals)
    expected = Adjustments(saturation=-BASIS_STEP["saturation"]).apply(identity_table(9)) - identity_table(9)
    np.testing.assert_array_equal(residuals[basis_names().index("saturation-")], expected)


def test_span_share():
    residuals = basis_residuals(9)
    identity = identity_table(9)
    exact = Adjustments(contrast=BASIS_STEP["contrast"]).apply(identity) - identity
    assert span_share(residuals, exact) == pytest.approx(1.0, abs=1e-9)
    assert span_share(residuals, 2.5 * exact) == pytest.approx(1.0, abs=1e-9)  # any multiple
    assert span_share(residuals[:2], Adjustments(saturation=0.3).apply(identity) - identity) < 0.3  # exposure only
    assert span_share(residuals, np.zeros_like(identity)) == 1.0
    # the two signs of a direction cover its whole range (clipping and curvature included) almost exactly
    for name in DIRECTIONS:
        for amount in (-1.0, -0.5, 0.5, 1.0):
            correction = Adjustments(**{name: amount * BASIS_STEP[name]}).apply(identity) - identity
            assert span_share(residuals, correction) > 0.9, (name, amount)
