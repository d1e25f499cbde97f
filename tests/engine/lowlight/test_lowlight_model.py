"""PairLIE losses on hand-computed inputs, weight files, and a short real training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.image import sample_photo
from engine.lowlight.data import LowLight, darken, synthetic_sampler
from engine.lowlight.model import (
    ModelFileError,
    ModelInfo,
    PairLIE,
    consistency_loss,
    fidelity_loss,
    load_model,
    pair_loss,
    retinex_loss,
    save_model,
    total_variation,
)
from engine.lowlight.train import TrainConfig, train_model


def test_consistency_and_fidelity_are_mean_squared_errors():
    first = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert float(consistency_loss(first, first)) == 0.0
    assert float(consistency_loss(first, first + 0.1)) == pytest.approx(0.01, rel=1e-4)
    assert float(fidelity_loss(first, first - 0.2)) == pytest.approx(0.04, rel=1e-4)


def test_total_variation_of_a_ramp_is_its_two_pixel_step():
    ramp = torch.arange(10, dtype=torch.float32).mul(0.05).expand(1, 1, 6, 10)  # +0.05 per column
    assert float(total_variation(ramp)) == pytest.approx(0.1, rel=1e-5)  # rows flat, columns 2 * 0.05
    assert float(total_variation(ramp.transpose(2, 3))) == pytest.approx(0.1, rel=1e-5)


def test_retinex_loss_is_zero_for_a_consistent_decomposition_and_matches_numpy_otherwise():
    colour = torch.tensor([0.2, 0.4, 0.5]).view(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()
    exact_light = torch.full((1, 1, 4, 4), 0.5)  # = max over channels
    assert float(retinex_loss(exact_light, colour / 0.5, colour, colour)) == pytest.approx(0.0, abs=1e-7)

    dim_light = torch.full((1, 1, 4, 4), 0.25)
    reflectance = colour / 0.5
    x = np.array([0.2, 0.4, 0.5])
    expected = np.mean((0.25 * x / 0.5 - x) ** 2) + np.mean((x / 0.5 - x / 0.25) ** 2) + (0.25 - 0.5) ** 2
    assert float(retinex_loss(dim_light, reflectance, colour, colour)) == pytest.approx(expected, rel=1e-5)


def test_darken_matches_the_exposure_in_linear_light_and_adds_noise():
    clean = np.full((64, 64, 3), 0.6, np.float32)
    rng = np.random.default_rng(0)
    dark = darken(clean, LowLight(exposure=0.1, photons=20000, read_noise=1e-3), rng)
    linear_clean = ((0.6 + 0.055) / 1.055) ** 2.4
    linear_dark = np.where(dark <= 0.04045, dark / 12.92, ((dark + 0.055) / 1.055) ** 2.4)
    assert linear_dark.mean() == pytest.approx(0.1 * linear_clean, rel=0.03)
    assert dark.std() > 1 / 255  # shot + read noise, not just a darker flat field
    assert np.allclose(dark * 255, np.round(dark * 255), atol=1e-3)  # 8-bit quantised


def test_weights_round_trip_and_refuse_foreign_files(tmp_path):
    model = PairLIE(channels=8)
    path = tmp_path / "m.safetensors"
    save_model(model, path, ModelInfo(channels=8, data="test", steps=0, seed=1))
    loaded, info = load_model(path)
    assert info.channels == 8 and info.data == "test"
    image = torch.rand(1, 3, 20, 20)
    for ours, theirs in zip(model.eval()(image), loaded(image), strict=True):
        assert torch.equal(ours, theirs)

    path.with_suffix(".json").write_text('{"kind": "adaptive", "channels": 8}')
    with pytest.raises(ModelFileError, match="kind"):
        load_model(path)
    save_model(model, path, ModelInfo(channels=8))
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError, match="m.safetensors"):
        load_model(path)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.safetensors")


def test_bfloat16_autocast_loss_is_float32_and_near_the_float32_loss():
    """The shipped recipe trains under bfloat16 autocast: its loss must stay the float32 loss, give or take."""
    sampler = synthetic_sampler([sample_photo("astronaut").pixels], 2, 48)
    first, second = (torch.from_numpy(a) for a in sampler(np.random.default_rng(5)))
    torch.manual_seed(0)
    model = PairLIE(16)
    with torch.no_grad():
        exact = pair_loss(model, first, second)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = pair_loss(model, first, second)
    assert fast.total.dtype == torch.float32
    assert float(fast.total) == pytest.approx(float(exact.total), rel=0.02)
    assert float(fast.fidelity) < 1e-5  # N starts as the identity also when its convolutions run in bfloat16


def test_a_short_training_run_lowers_the_loss():
    torch.set_num_threads(1)
    # N starts as the identity (fidelity ~0), so the loss is the Retinex part: it first rises while R leaves
    # its initial all-dark state, then falls; 200 steps of 16-channel nets are past that bump.
    config = TrainConfig(steps=200, batch=2, crop=32, channels=16, learning_rate=1e-3, final_learning_rate=1e-4)
    sampler = synthetic_sampler([sample_photo("astronaut").pixels], config.batch, config.crop)
    first, second = (torch.from_numpy(a) for a in sampler(np.random.default_rng(123)))  # a fixed probe batch
    torch.manual_seed(0)
    model = PairLIE(config.channels)
    with torch.no_grad():
        before = float(pair_loss(model, first, second).total)
    trained, _ = train_model(sampler, config, model=model)
    with torch.no_grad():
        after = float(pair_loss(trained, first, second).total)
    assert after < 0.85 * before
