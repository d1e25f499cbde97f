"""The low-light pipeline against independent references: engine.color, known noise, exact seams, PSNR."""

from __future__ import annotations

import numpy as np
import pytest

from engine.color import REC709_LUMA, linear_to_srgb, psnr, srgb_to_linear
from engine.errors import Cancelled, InputError
from engine.image import sample_photo, shrink_by_blocks
from engine.jobs import CancelToken
from engine.lowlight import pipeline
from engine.lowlight.data import LowLight, darken
from engine.lowlight.exposure import auto_exposure
from engine.lowlight.noise import NoiseModel, Stabiliser, clipped_moments, estimate_noise
from engine.lowlight.pipeline import enhance, enhance_details, measure
from engine.lowlight.quality import hue_error, lab, texture_sigma
from engine.lowlight.settings import with_settings
from engine.lowlight.wavelet import wavelet_denoise

LIGHT = LowLight(exposure=1 / 12, photons=6000, read_noise=1e-3)


@pytest.fixture(scope="module")
def coffee() -> tuple[np.ndarray, np.ndarray]:
    """A photo at 300 px shot at 1/12 of the light with shot and read noise."""
    clean = shrink_by_blocks(sample_photo("coffee").pixels, 300)
    return clean, darken(clean, LIGHT, np.random.default_rng(5))


def test_noise_model_is_recovered_from_a_textured_photo():
    clean = sample_photo("astronaut").pixels
    for light in (LowLight(0.15, 8000, 1e-3), LowLight(0.05, 4000, 1.5e-3)):
        noise = estimate_noise(darken(clean, light, np.random.default_rng(1)))
        for level in (0.2 * light.exposure, 0.8 * light.exposure):  # sigma where the photo has its pixels
            true = np.sqrt(level / light.photons + light.read_noise**2)
            assert noise.sigma(level) == pytest.approx(true, rel=0.2)


def test_noise_model_of_a_photo_mostly_near_black_keeps_its_read_noise():
    # Most of the rocket's blocks sit within a few sigma of black at x0.02, where clipping at 0 shrinks the
    # measured variance: judged by their own variance those bins passed and pulled b down to 0.16x the truth.
    light = LowLight(0.02, 4000, 1.5e-3)
    noise = estimate_noise(darken(sample_photo("rocket").pixels, light, np.random.default_rng(1)))
    assert 0.5 < noise.b / light.read_noise**2 < 1.5
    assert 0.5 < noise.a * light.photons < 2.5


def test_noise_fit_models_clipping_at_black_instead_of_guessing_around_it():
    # At x0.01 nearly all of the rocket's blocks lie within a few sigma of black. A line fit has to leave
    # those bins out and read b at 0.30x and a at 3.1x the truth; modelling the clip recovers both.
    light = LowLight(0.01, 4000, 1.5e-3)
    noise = estimate_noise(darken(sample_photo("rocket").pixels, light, np.random.default_rng(1)))
    assert 0.8 < noise.b / light.read_noise**2 < 1.25
    assert 0.7 < noise.a * light.photons < 1.6


def test_a_good_photo_with_crushed_blacks_is_left_almost_as_it_is():
    # The astronaut's black background is a bin of exactly flat blocks: fitted in log space it read the
    # noise 3x too high and the rescue softened the clean photo to 48.5 dB; it says nothing about noise.
    clean = sample_photo("astronaut").pixels
    assert psnr(enhance(clean), clean) > 54.0


def test_clipped_moments_match_sampled_clipped_noise():
    rng = np.random.default_rng(4)
    a, b = 2.5e-4, 2.25e-6
    for level in (-0.001, 0.0, 0.001, 0.01, 0.2, 0.99):
        shots = np.clip(level + rng.normal(0, np.sqrt(max(a * level + b, 1e-12)), 400_000), 0, 1)
        mean, variance = clipped_moments(np.array([level]), a, b)
        assert mean[0] == pytest.approx(shots.mean(), rel=0.01, abs=2e-6)
        assert variance[0] == pytest.approx(shots.var(), rel=0.02)


def test_stabiliser_gives_unit_noise_and_its_inverse_undoes_clipping_at_black():
    noise = NoiseModel(a=2.5e-4, b=2.25e-6)
    rng = np.random.default_rng(2)
    stabiliser = Stabiliser(noise)
    for level in (0.0, 0.002, 0.02, 0.1):
        shots = np.maximum(level + rng.normal(0, noise.sigma(level), 200_000), 0).astype(np.float32)  # clipped
        stabilised = stabiliser.forward(shots)
        if level >= 0.02:
            assert stabilised.std() == pytest.approx(1.0, rel=0.06)
        # the mean of the stabilised shots maps back to the true level, black included (no lifted floor)
        assert float(stabiliser.inverse(np.array([stabilised.mean()], np.float32))[0]) == pytest.approx(level, abs=2e-4)


def test_wavelet_shrinkage_removes_flat_noise_and_keeps_an_edge():
    rng = np.random.default_rng(3)
    step = np.zeros((128, 128), np.float32)
    step[:, 64:] = 20.0
    noisy = step + rng.normal(0, 1, step.shape).astype(np.float32)
    out = wavelet_denoise(noisy, 1.0, levels=5, k=1.4, radius=2)
    assert out[:, 8:56].std() < 0.3 and out[:, 72:120].std() < 0.3  # flat parts: most noise gone
    assert out[:, 66:].mean() - out[:, :62].mean() == pytest.approx(20.0, abs=0.5)
    assert out[:, 60].mean() < 3 and out[:, 67].mean() > 17  # the edge stays sharp


def test_shrinkage_exponent_one_half_keeps_the_texture_energy_wiener_loses():
    rng = np.random.default_rng(7)
    texture = np.sin(np.arange(256, dtype=np.float32) * 2.2)[None, :] * np.ones((256, 1), np.float32)  # fine, power 1/2
    noisy = texture + rng.normal(0, 1, texture.shape).astype(np.float32)
    clean_energy = float(np.mean(texture**2))
    wiener = wavelet_denoise(noisy, 1.0, levels=3, k=1.0, radius=2)
    kept = wavelet_denoise(noisy, 1.0, levels=3, k=1.0, radius=2, power=0.5)
    flat = wavelet_denoise(rng.normal(0, 1, texture.shape).astype(np.float32), 1.0, 3, 1.0, 2, power=0.5)
    assert np.mean((wiener - wiener.mean()) ** 2) < 0.8 * clean_energy  # least squares shrinks texture
    assert np.mean((kept - kept.mean()) ** 2) == pytest.approx(clean_energy, rel=0.2)  # energy E - noise kept
    assert flat.std() < 0.4  # pure noise (sigma 1) still mostly goes


def test_auto_exposure_maps_white_to_white_and_pulls_a_photo_without_white_towards_the_key():
    settings = with_settings(key=0.25, key_weight=0.2)
    dark_scene = np.full((100, 100, 3), 0.002, np.float32)  # a night scene: dark, with a white lamp
    dark_scene[:5, :5] = 0.05
    assert auto_exposure(dark_scene, settings) == pytest.approx(1 / 0.05, rel=1e-4)  # the key asks for more: unused
    grey = np.full((100, 100, 3), 0.02, np.float32)  # no white: highlight cue x50, key cue x(0.25 / 0.02)
    grey[:5, :5] = 0.025
    highlight_gain = 1 / 0.025
    log_average = np.exp(np.mean(np.log(grey @ REC709_LUMA + 1e-3 * 0.025)))
    key_gain = 0.25 / log_average
    expected = highlight_gain**0.8 * key_gain**0.2
    assert auto_exposure(grey, settings) == pytest.approx(expected, rel=1e-4)
    assert auto_exposure(grey, with_settings(key_weight=0.0)) == pytest.approx(highlight_gain, rel=1e-4)


def test_enhance_brightens_denoises_and_keeps_hue(coffee):
    clean, dark = coffee
    result = enhance_details(dark)
    assert result.pixels.shape == dark.shape and result.pixels.dtype == np.float32
    assert result.exposure == pytest.approx(12, rel=0.15)  # the coffee cup's white highlights
    assert psnr(result.pixels, clean) > psnr(linear_to_srgb(srgb_to_linear(dark) * 12), clean) + 4  # the oracle
    clean_lab = lab(clean)
    assert hue_error(lab(result.pixels), clean_lab) < hue_error(lab(dark), clean_lab)
    assert 0.5 < texture_sigma(result.pixels) / texture_sigma(clean) < 1.5


def test_blacks_stay_black():
    photo = np.zeros((200, 300, 3), np.float32)
    photo[:, 150:] = np.linspace(0, 1, 150, dtype=np.float32)[None, :, None]
    for light in (LowLight(0.15, 8000, 1e-3), LowLight(0.05, 4000, 1.5e-3)):
        out = enhance(darken(photo, light, np.random.default_rng(4)), exposure=1 / light.exposure)
        assert 255 * out[20:180, 10:140].mean() < 1.0  # a lifted noise floor would read 10-30 levels here


def test_controls_exposure_strength_denoise_and_gamma(coffee):
    _, dark = coffee
    assert np.allclose(enhance(dark, strength=0.0), dark, atol=1e-6)
    assert enhance(dark, exposure=8.0).mean() > enhance(dark, exposure=4.0).mean() + 0.05
    raw = enhance(dark, exposure=4.0, denoise=0.0)  # no noise reduction: the plain linear gain ...
    plain = linear_to_srgb(np.clip(srgb_to_linear(dark) * 4.0, 0, 1))
    lit = dark > 0.1  # ... but for the clipping correction near black
    assert np.abs(raw - plain)[lit].max() < 0.01
    assert texture_sigma(enhance(dark, exposure=4.0)) < 0.5 * texture_sigma(raw)
    flat, lifted = enhance(dark, exposure=4.0), enhance(dark, exposure=4.0, gamma=0.5)
    shadows = flat.mean(axis=2) < np.percentile(flat.mean(axis=2), 20)
    assert lifted[shadows].mean() > 1.5 * flat[shadows].mean()


def test_measure_matches_enhance_and_strips_leave_no_seams(coffee, monkeypatch):
    _, dark = coffee
    settings = with_settings(work_pixels=dark.shape[0] * dark.shape[1] // 16)  # a 4x reduced working copy
    result = enhance_details(dark, settings=settings)
    assert result.factor == 4
    assert measure(dark, settings=settings).exposure == result.exposure
    monkeypatch.setattr(pipeline, "STRIP_ROWS", 7)
    thin = enhance(dark, settings=settings)
    monkeypatch.setattr(pipeline, "STRIP_ROWS", 10_000)
    whole = enhance(dark, settings=settings)
    assert np.array_equal(thin, whole)
    assert np.array_equal(whole, result.pixels)


def test_odd_sizes_work_at_every_factor():
    rng = np.random.default_rng(6)
    photo = darken(rng.random((203, 317, 3), dtype=np.float32), LIGHT, rng)
    for work in (10**6, 20_000, 3_000):
        out = enhance(photo, settings=with_settings(work_pixels=work))
        assert out.shape == photo.shape and np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_cancel_and_bad_input_raise_typed_errors(coffee):
    _, dark = coffee
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        enhance(dark, cancel=token)
    with pytest.raises(InputError, match="float32"):
        enhance(dark.astype(np.float64))
    with pytest.raises(InputError, match="gamma"):
        enhance(dark, gamma=3.0)
    with pytest.raises(InputError, match="exposure"):
        enhance(dark, exposure=1000.0)
    with pytest.raises(InputError, match="strength"):
        enhance(dark, strength=-1.0)
    with pytest.raises(InputError, match="denoise"):
        enhance(dark, denoise=9.0)
