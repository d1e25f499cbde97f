"""The editor's preview read back from the widget framebuffer, compared with the CPU reference."""

from __future__ import annotations

import numpy as np
import pytest

from app.main_window import rendered_pixels
from engine.gpu.renderer import Layout
from engine.image import Photo
from engine.lut import apply_lut

# The widget framebuffer is 8 bits: rounding adds half a level to the interpolation tolerance.
EIGHT_BIT = 1.0 / 255.0 + 1e-6
BACKGROUND = np.float32([0.16, 0.16, 0.16])


def show_at_one_to_one(qtbot, window, pixels, lut, interpolation, layout, split=0.5):
    window._photo_opened(Photo(pixels), None)
    window.set_lut(lut, "test LUT")
    window.lut_panel.set_interpolation(interpolation)
    window.set_layout(layout)
    state = window.preview.state
    state.fit, state.scale, state.offset = False, 1.0, (0.0, 0.0)
    state.move_split(split * state.target_size[0], split * state.target_size[1])
    window.preview.update()
    qtbot.wait(50)
    return rendered_pixels(window)


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
@pytest.mark.parametrize("preview", ["gpu", "cpu"])
def test_after_view_matches_cpu_reference(qtbot, make_window, test_photo_pixels, curved_lut, interpolation, preview):
    window = make_window(preview)
    shown = show_at_one_to_one(qtbot, window, test_photo_pixels, curved_lut, interpolation, Layout.AFTER)
    assert window.interpolation == interpolation
    height, width = test_photo_pixels.shape[:2]
    expected = apply_lut(test_photo_pixels, curved_lut, interpolation)
    assert np.abs(shown[:height, :width] - expected).max() <= EIGHT_BIT
    assert np.abs(shown[:height, width:] - BACKGROUND).max() <= EIGHT_BIT  # background right of the photo


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_every_layout_on_screen(qtbot, make_window, test_photo_pixels, curved_lut, interpolation):
    window = make_window("gpu")
    height, width = test_photo_pixels.shape[:2]
    after = apply_lut(test_photo_pixels, curved_lut, interpolation)

    def close(a, b):
        return np.abs(a - b).max() <= EIGHT_BIT

    shown = show_at_one_to_one(qtbot, window, test_photo_pixels, curved_lut, interpolation, Layout.BEFORE)
    assert close(shown[:height, :width], test_photo_pixels)

    target_w, target_h = window.preview.state.target_size
    column = 70  # split on a pixel edge; the 2 px divider covers columns 69 and 70
    shown = show_at_one_to_one(
        qtbot, window, test_photo_pixels, curved_lut, interpolation, Layout.SPLIT_VERTICAL, split=column / target_w
    )
    assert close(shown[:height, : column - 1], test_photo_pixels[:, : column - 1])
    assert close(shown[:height, column + 1 : width], after[:, column + 1 :])
    assert close(shown[:height, column - 1 : column + 1], np.ones(3, np.float32))  # the divider line

    row = 50
    shown = show_at_one_to_one(
        qtbot, window, test_photo_pixels, curved_lut, interpolation, Layout.SPLIT_HORIZONTAL, split=row / target_h
    )
    assert close(shown[: row - 1, :width], test_photo_pixels[: row - 1])
    assert close(shown[row + 1 : height, :width], after[row + 1 :])

    shown = show_at_one_to_one(qtbot, window, test_photo_pixels, curved_lut, interpolation, Layout.SIDE_BY_SIDE)
    half = target_w / 2.0
    right = int(np.ceil(half))
    assert close(shown[:height, :width], test_photo_pixels)
    assert close(shown[:height, right + 1 : right + width], after[:, 1 : width - (right - int(half))])


def test_cpu_fallback_says_so_and_shows_the_photo(qtbot, make_window, test_photo_pixels):
    window = make_window("cpu")
    assert "CPU preview" in window._gl_label.text()
    shown = show_at_one_to_one(qtbot, window, test_photo_pixels, None, "trilinear", Layout.AFTER)
    height, width = test_photo_pixels.shape[:2]
    assert np.abs(shown[:height, :width] - test_photo_pixels).max() <= EIGHT_BIT
