"""Editor pieces around the preview: fallback on GL failure, histogram, settings, JPEG export, plug-ins."""

from __future__ import annotations

import numpy as np
import pytest

import app.tools
from app.main_window import MainWindow
from app.preview import CPUPreview
from app.tools import install_tools
from engine.color import psnr
from engine.gpu.renderer import Layout
from engine.image import Photo, load_photo
from engine.lut import LUT3D, apply_lut

JOB_TIMEOUT_MS = 30_000


def test_gl_failure_mid_session_switches_to_the_cpu_preview(qtbot, make_window, test_photo_pixels):
    window = make_window("gpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    window.preview.glFailed.emit("simulated driver loss")
    qtbot.waitUntil(lambda: isinstance(window.preview, CPUPreview))
    assert "CPU preview" in window._gl_label.text()
    assert "simulated driver loss" in window._gl_label.toolTip()
    assert window.preview.state.image_size == (160, 120)


def test_histogram_counts_the_displayed_result(qtbot, make_window, test_photo_pixels):
    window = make_window("cpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    flat = LUT3D(np.full((5, 5, 5, 3), 0.5, np.float32), title="flat grey")
    window.set_lut(flat, "flat")
    qtbot.waitUntil(lambda: bool(window.histogram.counts) and window.histogram.counts["r"][128] > 0)
    pixels = test_photo_pixels.shape[0] * test_photo_pixels.shape[1]
    for channel in ("r", "g", "b", "luma"):
        assert window.histogram.counts[channel][128] == pixels  # every displayed pixel is mid grey
    window.set_layout(Layout.BEFORE)
    qtbot.waitUntil(lambda: window.histogram.counts["r"][128] < pixels)
    expected_red = np.bincount(np.round(test_photo_pixels[..., 0] * 255).astype(int).ravel(), minlength=256)
    assert np.array_equal(window.histogram.counts["r"], expected_red)


def test_settings_remember_recent_files_and_interpolation(qtbot, make_window, settings, photo_file):
    window = make_window("cpu")
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window.open_photo(photo_file)
    window.lut_panel.set_interpolation("tetrahedral")
    window.close()
    again = MainWindow(settings=settings, preview="cpu")
    qtbot.addWidget(again)
    assert again.interpolation == "tetrahedral"
    assert [a.text() for a in again._recent_menu.actions()] == [str(photo_file.resolve())]


def test_jpeg_export_uses_the_quality_setting(qtbot, make_window, test_photo_pixels, curved_lut, tmp_path):
    window = make_window("gpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    window.set_lut(curved_lut, "look")
    expected = apply_lut(test_photo_pixels, curved_lut, window.interpolation)
    sizes = {}
    for quality in (40, 98):
        target = tmp_path / f"q{quality}.jpg"
        with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
            window.export_image(target, quality=quality)
        sizes[quality] = target.stat().st_size
        assert psnr(load_photo(target).pixels, expected) > (22.0 if quality == 40 else 32.0)
    assert sizes[98] > sizes[40]


def test_plugins_install_and_a_broken_one_is_reported(qtbot, make_window, tmp_path, monkeypatch):
    (tmp_path / "zz_hello.py").write_text("def install(window):\n    window.menu('Tools').addAction('Say hello')\n")
    (tmp_path / "zz_broken.py").write_text("def install(window):\n    raise RuntimeError('no luck')\n")
    monkeypatch.setattr(app.tools, "__path__", [*app.tools.__path__, str(tmp_path)])
    window = make_window("cpu")
    installed = install_tools(window)
    assert "zz_hello" in installed and "zz_broken" not in installed
    assert "Say hello" in [a.text() for a in window.menu("Tools").actions()]
    assert window.last_error == ("Plug-in failed", "zz_broken: RuntimeError: no luck")


@pytest.mark.parametrize("strength", [0.0, 0.5])
def test_strength_slider_reaches_the_preview(qtbot, make_window, test_photo_pixels, curved_lut, strength):
    from app.main_window import rendered_pixels
    from engine.gpu.renderer import Layout

    window = make_window("gpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    window.set_lut(curved_lut, "look")
    window.set_layout(Layout.AFTER)
    window.lut_panel.strength.setValue(round(strength * 100))
    state = window.preview.state
    state.fit, state.scale, state.offset = False, 1.0, (0.0, 0.0)
    window.preview.update()
    qtbot.wait(50)
    shown = rendered_pixels(window)[:120, :160]
    expected = apply_lut(test_photo_pixels, curved_lut, window.interpolation, strength)
    assert np.abs(shown - expected).max() <= 1.0 / 255.0 + 1e-6
