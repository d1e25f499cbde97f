"""Auto's pieces: faults that mirror the analytic adjustments, the physical basis (identity at the start),
global statistics, tetrahedral training lookup, looks composed on top of a base preset, and `--photos`."""

import json

import numpy as np
import pytest
import torch

from engine.adaptive.model import (
    N_STATS,
    AdaptiveLUT,
    ModelConfig,
    global_statistics,
    identity_lut,
    n_weights,
    tetrahedral_lookup,
)
from engine.adaptive.synthetic import (
    FAULT_KINDS,
    SINGLE_FAULTS,
    FaultMix,
    adjust,
    apply_faults,
    fault_amounts,
    soft_mono,
)
from engine.image import Photo, sample_photo, save_photo
from engine.lut import LUT3D, apply_lut, identity_table
from engine.lut.adjust import DIRECTIONS, Adjustments

TINY_PHYSICAL = ModelConfig(n_luts=1, lut_size=9, physical=True, predictor_size=64)


def _photo(name: str = "coffee", step: int = 8) -> np.ndarray:
    return sample_photo(name).pixels[::step, ::step]


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).unsqueeze(0)


def test_torch_faults_are_the_analytic_adjustments():
    pixels = _photo()
    rng = np.random.default_rng(0)
    for name in DIRECTIONS:
        amount = float(rng.uniform(-0.3, 0.3))
        got = adjust(_tensor(pixels), {name: np.array([amount])})[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, Adjustments(**{name: amount}).apply(pixels), atol=2e-6)


def test_every_fault_kind_moves_the_photo_its_way():
    clean = _tensor(_photo())
    rng = np.random.default_rng(1)
    amounts = fault_amounts(list(FAULT_KINDS), rng)
    assert amounts["exposure"][list(FAULT_KINDS).index("exposure-under")] < -0.4
    assert amounts["exposure"][list(FAULT_KINDS).index("exposure-over")] > 0.4
    for kind in SINGLE_FAULTS:
        faulty = apply_faults(clean, [kind], rng)
        assert float((faulty - clean).abs().mean()) > 0.005, kind
    assert torch.equal(apply_faults(clean, ["clean"], rng), clean.clamp(0, 1))
    kinds = FaultMix(clean=0.25, single=0.4).draw(np.random.default_rng(2), 4000)
    assert kinds.count("clean") / 4000 == pytest.approx(0.25, abs=0.03)
    assert kinds.count("combined") / 4000 == pytest.approx(0.35, abs=0.03)


def test_tetrahedral_lookup_matches_the_cpu_lut_core():
    rng = np.random.default_rng(3)
    lut = LUT3D(np.clip(identity_table(9) + rng.normal(0, 0.1, (9, 9, 9, 3)), 0, 1).astype(np.float32))
    pixels = rng.uniform(0, 1, (12, 13, 3)).astype(np.float32)
    pixels[0, :3] = [(0, 0, 0), (1, 1, 1), (-0.2, 1.3, 0.5)]
    table = torch.from_numpy(lut.table.transpose(3, 0, 1, 2).copy()).unsqueeze(0)
    got = tetrahedral_lookup(table, _tensor(pixels))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, apply_lut(pixels, lut, "tetrahedral"), atol=2e-6)


def test_physical_model_starts_at_the_identity_and_learns_everywhere():
    torch.manual_seed(0)
    model = AdaptiveLUT(TINY_PHYSICAL)
    images = torch.rand(2, 3, 32, 32)
    luts, weights = model.fused_luts(images)
    assert weights.shape == (2, n_weights(TINY_PHYSICAL)) == (2, 8) and torch.equal(weights, torch.zeros(2, 8))
    torch.testing.assert_close(luts, identity_lut(9).expand(2, -1, -1, -1, -1), atol=1e-2, rtol=0)  # + tiny learned
    out, _, _ = model(images)
    ((out - images.flip(1)) ** 2).mean().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert grads["predictor.head.2.weight"].abs().sum() > 0  # gradients reach the predictor ...
    assert grads["basis.learned"] is not None  # ... and the learned LUTs (through their weights, once non-zero)
    assert "basis.gates" in model.state_dict()  # the calibration is stored with the weights
    assert not any(name.startswith("basis.gates") for name, _ in model.named_parameters())  # and not trained


def test_every_single_correction_is_expressible_and_gates_turn_directions_off():
    from engine.adaptive.model import expressible_share

    model = AdaptiveLUT(ModelConfig(n_luts=1, lut_size=9, physical=True, predictor_size=64, cnn_width=0, stretch=True))
    identity = identity_table(9)
    for adjustment in (
        Adjustments(exposure=1.2),
        Adjustments(temperature=-0.3, tint=0.1),
        Adjustments(contrast=-0.4),
        Adjustments(saturation=0.4),
        Adjustments(black=0.05, white=0.1),
    ):
        residual = torch.from_numpy(adjustment.apply_reversed(identity) - identity).permute(3, 0, 1, 2)
        assert expressible_share(model, residual) > 0.99, adjustment
    with torch.no_grad():
        model.predictor.head[-1].bias.fill_(0.5)
        model.basis.gates.zero_()
    images = torch.rand(1, 3, 32, 32)
    luts, _ = model.fused_luts(images)
    torch.testing.assert_close(luts[0], identity_lut(9), atol=1e-6, rtol=0)  # every direction gated off


def test_global_statistics_see_exposure_and_white_balance():
    clean = _tensor(_photo())
    darker = adjust(clean, {"exposure": np.array([-1.0])})
    warmer = adjust(clean, {"temperature": np.array([0.3])})
    stats = global_statistics(torch.cat([clean, darker, warmer]))
    assert stats.shape == (3, N_STATS) and torch.isfinite(stats).all()
    assert (stats[1, :3] < stats[0, :3]).all()  # log means fall with exposure
    assert stats[2, 3] > stats[0, 3] and stats[2, 4] < stats[0, 4]  # R/G up, B/G down


def _write_auto(folder, model: AdaptiveLUT):
    from engine.adaptive.train import write_preset

    return write_preset(model, folder, "Auto", {"description": "test"})


def test_look_preset_is_its_base_then_its_own_lut(tmp_path):
    from engine.adaptive.infer import compose, load_model, predict_lut, preset_lut
    from engine.adaptive.train import LOOK_SIZE, look_table, write_look
    from engine.presets import LOOK_KIND, read_preset

    torch.manual_seed(0)
    model = AdaptiveLUT(ModelConfig(n_luts=1, lut_size=17, physical=True, predictor_size=64))
    with torch.no_grad():
        model.predictor.head[-1].bias.normal_(0, 0.3)  # a base that does something
    _write_auto(tmp_path, model)
    path = write_look(tmp_path, "Soft Mono", look_table(soft_mono), "auto", {"description": "mono"})
    look = read_preset(path)
    assert look.meta["kind"] == LOOK_KIND and look.meta["base"] == "auto" and look.meta["look_size"] == LOOK_SIZE
    pixels = _photo("chelsea", 6)
    composed = preset_lut(look, pixels)
    base = predict_lut(load_model(read_preset(tmp_path / "auto.json")), pixels)
    assert composed.size == LOOK_SIZE
    # at the lattice: exactly the look's LUT applied to the base's output (the base on the finer lattice)
    look_lut = LUT3D(look_table(soft_mono))
    np.testing.assert_allclose(composed.table, apply_lut_values(look_lut, base.resampled(LOOK_SIZE).table), atol=1e-6)
    # and the look's LUT is its analytic transform to well under a tenth of an 8-bit level
    lattice = torch.from_numpy(base.resampled(LOOK_SIZE).table)
    analytic_lattice = soft_mono(lattice.reshape(1, -1, 1, 3).permute(0, 3, 1, 2))
    assert (
        np.abs(composed.table - analytic_lattice[0].permute(1, 2, 0).numpy().reshape(composed.table.shape)).max()
        < 0.1 / 255
    )
    out = apply_lut(pixels, composed)
    analytic = soft_mono(_tensor(apply_lut(pixels, base)))[0].permute(1, 2, 0).numpy()
    assert np.abs(out - analytic).mean() < 2e-3
    # Soft Mono is monochrome: every output is the same grey times the paper tone
    ratios = out.reshape(-1, 3)[out.reshape(-1, 3)[:, 1] > 0.1]
    np.testing.assert_allclose(ratios[:, 0] / ratios[:, 1], 1.02, atol=2e-3)
    np.testing.assert_allclose(ratios[:, 2] / ratios[:, 1], 0.96, atol=2e-3)
    # composing onto a finer lattice is exact for the base (tetrahedral subdivides tetrahedra)
    identity33 = LUT3D.identity(LOOK_SIZE)
    np.testing.assert_allclose(compose(base, identity33).table, base.resampled(LOOK_SIZE).table, atol=1e-6)
    np.testing.assert_allclose(apply_lut(pixels, base.resampled(LOOK_SIZE)), apply_lut(pixels, base), atol=2e-6)


def apply_lut_values(lut: LUT3D, values: np.ndarray) -> np.ndarray:
    from engine.lut import apply_lut_to_values

    return apply_lut_to_values(lut, values)


def test_train_from_photos_cli(tmp_path, user_data, capsys):
    from engine.cli import main

    folder = tmp_path / "good"
    folder.mkdir()
    for index, name in enumerate(("coffee", "chelsea", "astronaut")):
        save_photo(Photo(_photo(name, 4)), folder / f"p{index}.png")
    (folder / "notes.txt").write_text("not a photo")
    code = main(
        [
            "train",
            "--kind",
            "adaptive",
            "--photos",
            str(folder),
            "--name",
            "My Auto",
            "--epochs",
            "1",
            "--lut-size",
            "9",
            "--luts",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "epoch 1/1" in out and "held-out" in out and "dB" in out
    meta = json.loads((user_data / "my-auto.json").read_text())
    assert meta["data"]["source"] == "photos" and len(meta["data"]["held_out"]) == 1
    assert set(meta["held_out"]) >= {*FAULT_KINDS, "faulted", "clean"}
    assert meta["model"]["physical"] and meta["training"]["clean_share"] == 0.25

    assert main(["train", "--kind", "adaptive", "--photos", str(tmp_path / "nothing"), "--name", "x"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["train", "--kind", "adaptive", "--name", "x"]) == 2
    assert "--photos" in capsys.readouterr().err


def test_levels_undo_a_flat_dim_photo_and_trust_only_neutral_highlights():
    """Levels restore a photo squeezed into [0.2, 0.7] in every channel exactly like a numpy levels, and leave a
    photo with coloured highlights (no white to restore: a night sky) as it is."""
    from engine.adaptive.model import downsample_for_predictor, highlight_trust, photo_ranges

    config = ModelConfig(
        n_luts=0, lut_size=33, physical=True, predictor_size=64, cnn_width=0, stretch=True, levels=True, range_size=64
    )
    model = AdaptiveLUT(config)
    with torch.no_grad():  # per-channel stretch off, levels fully on, no other correction
        model.predictor.head[-1].bias[len(DIRECTIONS)] = -40.0
        model.predictor.head[-1].bias[len(DIRECTIONS) + 1] = 40.0
    photo = _photo()
    flat = 0.2 + 0.5 * photo
    lut = LUT3D(model.fused_luts(_tensor(flat))[0][0].permute(1, 2, 3, 0).detach().numpy())
    ranges = photo_ranges(downsample_for_predictor(_tensor(flat).float(), 64))[0].numpy()  # the model's range view
    low, high = ranges[:, 0].min(), ranges[:, 1].max()
    expected = np.clip((identity_table(33) - low) / (high - low), 0.0, 1.0)  # numpy levels on the lattice
    assert np.abs(lut.table - expected).max() < 1e-4
    assert np.abs(apply_lut(flat, lut) - photo).mean() < 0.02  # and that is (nearly) the photo itself

    night = photo * np.array([0.25, 0.4, 0.75], np.float32)  # blue highlights, nothing white
    assert float(highlight_trust(photo_ranges(_tensor(night).float()), 0.5, 0.8)[0]) == 0.0
    assert float(highlight_trust(photo_ranges(_tensor(photo).float()), 0.5, 0.8)[0]) == 1.0
    lut = LUT3D(model.fused_luts(_tensor(night))[0][0].permute(1, 2, 3, 0).detach().numpy())
    assert np.abs(apply_lut(night, lut) - night).max() < 2e-3


def test_scene_variations_keep_black_white_and_neutral_greys():
    """The training photos' variations (hue rotation, tone gamma, saturation, mirror) keep what good photos
    share: a neutral grey ramp stays neutral, 0 stays 0 and 1 stays 1, while colours do change."""
    from engine.adaptive.train import scene_variations

    ramp = torch.linspace(0.0, 1.0, 64).reshape(1, 1, 1, 64).expand(8, 3, 4, 64).clone()
    varied = scene_variations(ramp, np.random.default_rng(0))
    assert (varied.amax(1) - varied.amin(1)).abs().max() < 1e-5  # neutral stays neutral
    ends = torch.minimum(varied[..., 0].abs().amax((1, 2)), varied[..., -1].abs().amax((1, 2)))
    assert ends.max() < 1e-3  # black kept at one end (the photo may be mirrored)
    assert torch.isclose(varied.amax(dim=(1, 2, 3)), torch.ones(8), atol=1e-4).all()  # white kept
    colourful = _tensor(_photo()).float().expand(8, -1, -1, -1)
    changed = scene_variations(colourful, np.random.default_rng(1))
    assert (changed - colourful).abs().mean() > 0.02


def test_white_patch_restores_what_a_clipped_shelf_proves_and_leaves_the_rest():
    """A photo with a clipped white, darkened 1 EV and given a warm cast in linear light (the synthetic fault,
    an independent numpy path), comes back through the white-patch LUT within 0.5 % of the clean photo; the
    same photo without the clip (nothing proves a fault) and a clipped photo left as it was get the identity;
    a shelf over a quarter of the photo is a flat field, not a white, and one 3 EV down a dark photo's top."""
    from engine.adaptive.infer import predict_lut
    from engine.adaptive.model import SHELF_FLOOR, clipped_shelves

    model = AdaptiveLUT(
        ModelConfig(n_luts=0, lut_size=33, physical=True, predictor_size=64, cnn_width=0, white_patch=True)
    ).eval()
    photo = _photo("astronaut", 4)  # 128 x 128, its own whites clipped at 1.0
    clean = np.clip(photo * 1.15, 0.0, 1.0)  # a good photo with clipped highlights (a few % of pixels)
    amounts = {"exposure": np.array([-1.0]), "temperature": np.array([-0.2])}  # B is gained 1.22x, R 0.82x
    faulty = adjust(_tensor(clean).float(), amounts)[0].permute(1, 2, 0).numpy()
    shelves = clipped_shelves(_tensor(faulty).float(), 5e-4, 0.1)[0].numpy()
    expected_white = adjust(torch.ones(1, 3, 1, 1), amounts)[0, :, 0, 0].numpy()  # where the clipped white went
    assert np.abs(shelves[:, 1] - expected_white).max() < 1e-6 and np.all(shelves[:, 0] == 0.0)
    restored = apply_lut(faulty, predict_lut(model, faulty))
    assert np.abs(restored - clean).mean() < 0.005
    assert np.abs(faulty - clean).mean() > 0.1

    smooth = np.clip(photo * 0.8, 0.0, 0.8) * np.linspace(0.9, 1.0, photo.shape[1], dtype=np.float32)[None, :, None]
    for untouched in (clean, smooth):  # nothing to restore: a clip at white, or no clip at all
        assert np.abs(predict_lut(model, untouched).table - identity_table(33)).max() < 1e-6
    field = np.full((64, 64, 3), 0.6, np.float32)
    field[:8] = np.linspace(0.0, 0.5, 64, dtype=np.float32)[None, :, None]
    assert np.all(clipped_shelves(_tensor(field).float(), 5e-4, 0.1)[0].numpy() == [[0.0, 1.0]] * 3)
    # a shelf 3 EV below white (past SHELF_MAX_EV) is a dark photo's own top: left alone, not brightened 8x
    night = adjust(_tensor(clean).float(), {"exposure": np.array([-3.0])})[0].permute(1, 2, 0).numpy()
    assert 0.3 < night.max() < SHELF_FLOOR
    assert np.all(clipped_shelves(_tensor(night).float(), 5e-4, 0.1)[0].numpy() == [[0.0, 1.0]] * 3)
    assert np.abs(predict_lut(model, night).table - identity_table(33)).max() < 1e-6


def test_unflatten_restores_a_flattened_photo_and_leaves_good_and_dim_ones_alone():
    """A good photo spanning black to white, flattened about mid grey by the synthetic contrast fault (slope 0.7,
    with and without clipped shelves), comes back through the unflatten LUT within 1.5 % of the clean photo; the
    clean photo, a darkened one (its black stays black: an exposure, not a flattening) and a noisy grey wall (a
    flat field: a stretch would only amplify its noise) read slope 1."""
    from engine.adaptive.infer import predict_lut
    from engine.adaptive.model import capture_evidence

    config = ModelConfig(
        n_luts=0, lut_size=33, physical=True, predictor_size=64, cnn_width=0, white_patch=True, unflatten=True
    )
    model = AdaptiveLUT(config).eval()
    photo = _photo("coffee", 4)
    low, high = np.quantile(photo, [0.002, 0.998])
    clipped = np.clip((photo - low) / (high - low), 0.0, 1.0)  # clipped black and white shelves
    unclipped = 0.02 + 0.96 * clipped  # the same scene, no shelf at either end
    flatten = {"contrast": np.array([np.log(0.7)])}
    for clean in (clipped, unclipped):
        faulty = adjust(_tensor(clean).float(), flatten)[0].permute(1, 2, 0).numpy()
        assert np.abs(faulty - clean).mean() > 0.05
        assert np.abs(apply_lut(faulty, predict_lut(model, faulty)) - clean).mean() < 0.015
    darker = adjust(_tensor(unclipped).float(), {"exposure": np.array([-1.0])})
    grey_wall = 0.5 + 0.02 * np.random.default_rng(0).standard_normal((64, 64, 1)).astype(np.float32).repeat(3, 2)
    for good in (_tensor(unclipped).float(), darker, _tensor(grey_wall).float()):  # a flat field is not flattened
        assert np.all(capture_evidence(good, config)[0, :, 2].numpy() == 1.0)


def test_an_analytic_model_builds_its_lut_on_the_finer_apply_lattice_outside_training():
    """With no learned LUTs the correction is analytic, so outside training the photo's LUT is built on
    `apply_size`: the same function at the shared lattice points, and closer to the exact correction of every
    pixel (torch's `correct` applied to the pixels directly) where the curve is steep (+1.5 EV, more contrast)."""
    from engine.adaptive.model import correct

    config = ModelConfig(n_luts=0, lut_size=9, apply_size=17, physical=True, predictor_size=64, cnn_width=0)
    model = AdaptiveLUT(config)
    with torch.no_grad():
        model.predictor.last.bias.copy_(torch.tensor([1.5, 0.1, 0.0, 0.0, 0.0, 0.3, 0.2]))
    photo = _photo("coffee", 4)
    tensor = _tensor(photo).float()
    coarse, weights = model.train().fused_luts(tensor)
    fine, _ = model.eval().fused_luts(tensor)
    assert coarse.shape[-3:] == (9, 9, 9) and fine.shape[-3:] == (17, 17, 17)
    assert torch.abs(fine[..., ::2, ::2, ::2] - coarse).max() < 1e-6
    exact = correct(tensor, model.basis.amounts(weights))[0].permute(1, 2, 0).detach().numpy()
    errors = [
        np.abs(apply_lut(photo, LUT3D(lut[0].permute(1, 2, 3, 0).detach().numpy())) - exact).mean()
        for lut in (coarse, fine)
    ]
    assert errors[1] < 0.5 * errors[0] and errors[0] > 1e-3
    with pytest.raises(ValueError, match="apply_size"):
        ModelConfig(n_luts=1, lut_size=9, apply_size=17, physical=True)


def test_auto_training_is_fixed_by_its_seed(tmp_path):
    """Two runs with the same seed write byte-identical weights, whatever torch's global generator held before
    (a fresh process seeds it at random): the seed a preset's JSON records reproduces the preset."""
    from engine.adaptive.train import TrainConfig, train_auto

    photos = [_photo(name, 4) for name in ("coffee", "chelsea", "astronaut")]
    model_config = ModelConfig(n_luts=0, lut_size=9, physical=True, predictor_size=64, cnn_width=0, hidden=8)
    config = TrainConfig(epochs=1, steps_per_epoch=3, batch_size=4, crop=64, seed=5)
    weights = []
    for run, global_seed in enumerate((1, 2)):
        torch.manual_seed(global_seed)
        path, _, _ = train_auto(
            photos[:2], photos[2:], "Seeded", tmp_path / str(run), model_config, config, data={}, description=""
        )
        weights.append(path.with_suffix(".safetensors").read_bytes())
    assert weights[0] == weights[1]
