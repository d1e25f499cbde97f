"""The editor's adjustment LUT: neutral is the identity, each control acts where it should, bad values refused."""

import numpy as np
import pytest

from engine.errors import InputError
from engine.lut import apply_lut, identity_table
from engine.lut.adjust import Adjustments
from engine.lut.tone import ToneControls, adjustments_lut


def test_neutral_sliders_are_the_identity():
    assert np.abs(adjustments_lut({}).table - identity_table(33)).max() < 1e-6


def test_lut_matches_the_controls_applied_directly():
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 50, 3), dtype=np.float32)
    values = {
        "exposure": 0.4,
        "temperature": -0.2,
        "contrast": 0.3,
        "highlights": -0.5,
        "shadows": 0.6,
        "vibrance": 0.5,
    }
    direct = ToneControls(highlights=-0.5, shadows=0.6, vibrance=0.5).apply(
        Adjustments(exposure=0.4, temperature=-0.2, contrast=0.3).apply(pixels)
    )
    through_lut = apply_lut(pixels, adjustments_lut(values, size=65), "tetrahedral")
    assert np.abs(through_lut - direct).mean() < 2e-3


def test_shadows_lift_dark_tones_and_spare_the_ends_and_greys_keep_their_hue():
    greys = np.linspace(0, 1, 11, dtype=np.float32)[:, None].repeat(3, axis=1)
    lifted = ToneControls(shadows=1.0).apply(greys)
    assert lifted[0, 0] == 0.0 and lifted[-1, 0] == pytest.approx(1.0)
    assert (lifted[1:4, 0] > greys[1:4, 0] + 0.02).all()  # dark tones up
    assert np.abs(lifted[9, 0] - greys[9, 0]) < 0.1 * (lifted[3, 0] - greys[3, 0])  # bright tones barely move
    assert np.abs(lifted - lifted[:, :1]).max() < 1e-6  # greys stay grey
    assert np.abs(ToneControls(vibrance=1.0).apply(greys) - greys).max() < 1e-6  # no colour to saturate


def test_vibrance_spares_saturated_colours():
    muted, vivid = np.float32([[0.5, 0.45, 0.4]]), np.float32([[1.0, 0.1, 0.0]])
    gain = [np.ptp(ToneControls(vibrance=1.0).apply(c)) / np.ptp(c) for c in (muted, vivid)]
    assert gain[0] > 1.8 and gain[1] < 1.2


@pytest.mark.parametrize(
    "values, message",
    [({"sharpness": 1.0}, "unknown"), ({"exposure": 99.0}, "within"), ({"vibrance": float("nan")}, "within")],
)
def test_bad_values_are_refused(values, message):
    with pytest.raises(InputError, match=message):
        adjustments_lut(values)
