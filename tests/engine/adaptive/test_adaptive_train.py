"""Training: the loss falls on tiny pairs; cancel keeps the old preset; a cancelled run resumes; presets are safe."""

import json
import pickle

import numpy as np
import pytest

from engine.adaptive.data import FolderPairs, validate_pairs
from engine.adaptive.infer import enhance, load_model, predict_lut
from engine.adaptive.model import ModelConfig
from engine.adaptive.train import EpochMetrics, TrainConfig, evaluate, train_from_folder, train_model
from engine.errors import Cancelled
from engine.image import sample_photo
from engine.jobs import CancelToken
from engine.lut import apply_lut
from engine.presets import PresetError, find_preset, read_preset
from tests.engine.adaptive.adaptive_fixtures import graded, make_pair_folder

TINY_MODEL = ModelConfig(n_luts=2, lut_size=9, predictor_size=64, physical=True)
TINY_TRAIN = TrainConfig(epochs=3, batch_size=4, crop=32, learning_rate=3e-3)


def _tiny_pairs(count: int = 4):
    photo = sample_photo("astronaut").pixels[::8, ::8]
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(count):
        before = np.clip(photo * rng.uniform(0.7, 1.2), 0, 1).astype(np.float32)
        pairs.append((before, graded(photo)))
    return pairs


def test_a_few_steps_lower_the_loss():
    pairs = _tiny_pairs()
    config = TrainConfig(epochs=3, steps_per_epoch=20, batch_size=4, crop=32, learning_rate=2e-3)
    import torch

    from engine.adaptive.model import AdaptiveLUT

    torch.manual_seed(0)
    before = evaluate(AdaptiveLUT(TINY_MODEL), pairs)
    result = train_model(FolderPairs(pairs[:3], 32), pairs[3:], TINY_MODEL, config)
    after = evaluate(result.model, pairs)
    losses = [m.train_loss for m in result.history]
    assert losses[-1] < 0.7 * losses[0], losses
    assert after > before + 2.0, (before, after)


def test_cancel_keeps_the_previous_preset_and_a_rerun_resumes(tmp_path, user_data):
    report = validate_pairs(make_pair_folder(tmp_path / "d", 4))
    first, _ = train_from_folder(report, "My Look", user_data, TINY_MODEL, TrainConfig(epochs=1, batch_size=4, crop=32))
    old_weights = first.with_suffix(".safetensors").read_bytes()
    old_json = first.read_text()

    cancel = CancelToken()
    seen: list[EpochMetrics] = []

    def stop_after_two(metrics: EpochMetrics) -> None:
        seen.append(metrics)
        if metrics.epoch == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train_from_folder(report, "My Look", user_data, TINY_MODEL, TINY_TRAIN, on_epoch=stop_after_two, cancel=cancel)
    assert [m.epoch for m in seen] == [1, 2]
    assert first.with_suffix(".safetensors").read_bytes() == old_weights and first.read_text() == old_json

    resumed: list[int] = []
    path, outcome = train_from_folder(
        report, "My Look", user_data, TINY_MODEL, TINY_TRAIN, on_epoch=lambda m: resumed.append(m.epoch)
    )
    assert resumed == [3]  # epochs 1-2 came from the checkpoint
    meta = json.loads(path.read_text())
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3]
    assert meta["steps"] == 3 and meta["seed"] == 0 and meta["data"]["pairs"] == 4
    assert meta["metrics"]["held_out_gain_db"] == pytest.approx(outcome.gain, abs=1e-3)
    assert meta["metrics"]["held_out_summary"] == outcome.text()
    assert not (user_data / ".my-look.training").exists()

    preset = find_preset("my look")
    assert not preset.shipped and preset.name == "My Look"
    photo = sample_photo("coffee").pixels[::4, ::4]
    enhanced, lut = enhance(photo, preset, strength=0.5)
    full = predict_lut(load_model(preset), photo)
    np.testing.assert_allclose(enhanced, apply_lut(photo, full.blended(0.5)), atol=1e-5)
    assert lut.size == 9


def test_a_pickle_disguised_as_a_preset_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (marker.write_text, ("code ran",))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"predictor": Exploit()}))
    (tmp_path / "evil.json").write_text(
        json.dumps(
            {"format": "lutlab-preset", "kind": "adaptive-lut", "name": "Evil", "model": {"n_luts": 3, "lut_size": 9}}
        )
    )
    with pytest.raises(PresetError, match="not a safetensors file"):
        read_preset(tmp_path / "evil.json")
    assert not marker.exists()
    # a pickle next to a real preset description under another suffix is not a preset either
    (tmp_path / "evil.safetensors").unlink()
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(PresetError, match="missing"):
        read_preset(tmp_path / "evil.json")
    assert not marker.exists()


def test_a_preset_with_wrong_shapes_is_refused(tmp_path, user_data):
    report = validate_pairs(make_pair_folder(tmp_path / "d", 2))
    path, _ = train_from_folder(report, "Shape", user_data, TINY_MODEL, TrainConfig(epochs=1, batch_size=2, crop=32))
    meta = json.loads(path.read_text())
    meta["model"]["lut_size"] = 17
    path.write_text(json.dumps(meta))
    with pytest.raises(PresetError, match="do not match"):
        load_model(read_preset(path))


def test_fine_tuning_keeps_the_starting_point_when_training_only_hurts():
    import torch

    from engine.adaptive.model import AdaptiveLUT

    pairs = _tiny_pairs(3)
    torch.manual_seed(0)
    start = AdaptiveLUT(TINY_MODEL)
    ruinous = TrainConfig(epochs=1, steps_per_epoch=3, batch_size=2, crop=32, learning_rate=5.0)
    result = train_model(FolderPairs(pairs[:2], 32), pairs[2:], TINY_MODEL, ruinous, init=start)
    assert result.history[0].val_psnr < result.best_val_psnr == pytest.approx(evaluate(start, pairs[2:]))
    assert result.best_epoch == 0
    for key, value in start.state_dict().items():
        torch.testing.assert_close(result.model.state_dict()[key], value)


def test_a_preset_that_harms_held_out_pairs_is_saved_only_if_confirmed(tmp_path, user_data):
    from engine.adaptive.train import NotSaved, Outcome

    report = validate_pairs(make_pair_folder(tmp_path / "d", 3))
    ruinous = TrainConfig(epochs=1, steps_per_epoch=3, batch_size=2, crop=32, learning_rate=5.0)
    asked: list[Outcome] = []

    def decline(outcome: Outcome) -> bool:
        asked.append(outcome)
        return False

    with pytest.raises(NotSaved, match="worse than no edit"):
        train_from_folder(report, "Ruin", user_data, TINY_MODEL, ruinous, confirm=decline)
    assert len(asked) == 1 and asked[0].harmful and asked[0].gain < 0
    assert not (user_data / "ruin.json").exists() and not (user_data / ".ruin.training").exists()
    path, outcome = train_from_folder(report, "Ruin", user_data, TINY_MODEL, ruinous, confirm=lambda o: True)
    assert path.is_file() and outcome.harmful


def test_outcome_words():
    from engine.adaptive.train import Outcome

    good = Outcome(30.0, 25.0)
    assert not good.harmful and "5.0 dB closer" in good.text() and "PSNR" not in good.text()
    bad = Outcome(24.0, 25.0)
    assert bad.harmful and "worse than no edit" in bad.text()
    assert Outcome(30.0, 25.0, clean_psnr=28.0).harmful  # fixes faults but visibly changes good photos
    assert "Good photos stay close" in Outcome(30.0, 25.0, clean_psnr=40.0).text()
