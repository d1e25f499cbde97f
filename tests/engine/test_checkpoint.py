"""engine.checkpoint: a run stopped halfway and resumed ends bit for bit where an uninterrupted run ends."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402

IDENTITY = {"seed": 3, "steps": 12, "sizes": (4, 8)}


def _run(path, steps, *, start_fresh: bool):
    """Train a tiny net for `steps` steps (batches from torch's and numpy's generators), resuming from `path`."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(IDENTITY["seed"])
    start, best = 0, {}
    if start_fresh:
        torch.manual_seed(IDENTITY["seed"])
        model.apply(lambda m: m.reset_parameters() if isinstance(m, torch.nn.Linear) else None)
    else:
        resumed = checkpoint.load(path, IDENTITY, model, optimizer, generator=rng)
        assert resumed is not None
        start, best = resumed.state["step"], resumed.groups["best"]
    for _ in range(start, steps):
        x = torch.randn(16, 4) + torch.from_numpy(rng.normal(size=(16, 4)).astype(np.float32))
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        best = {name: value.detach().clone() for name, value in model.state_dict().items()}
    record = {"step": steps, "validation": float("nan")}  # no validation: NaN scores are kept
    checkpoint.save(path, IDENTITY, model, optimizer, record, groups={"best": best}, generator=rng)
    return model, optimizer


def test_resume_keeps_the_optimizer_and_the_random_streams(tmp_path):
    straight, straight_opt = _run(tmp_path / "a.safetensors", 12, start_fresh=True)
    _run(tmp_path / "b.safetensors", 6, start_fresh=True)
    resumed, resumed_opt = _run(tmp_path / "b.safetensors", 12, start_fresh=False)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    moments = [state["exp_avg_sq"] for state in straight_opt.state_dict()["state"].values()]
    again = [state["exp_avg_sq"] for state in resumed_opt.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, again, strict=True)) and len(moments) == 4
    assert float(resumed_opt.state_dict()["state"][0]["step"]) == 12


def test_another_run_or_a_half_written_checkpoint_is_not_resumed(tmp_path):
    path = tmp_path / "c.safetensors"
    model, optimizer = _run(path, 2, start_fresh=True)
    assert path.read_bytes()[8:9] == b"{"  # safetensors: a length, then a JSON header (no pickle)
    assert checkpoint.load(path, {**IDENTITY, "seed": 4}, model, optimizer) is None
    checkpoint.json_path(path).unlink()  # the JSON is written last: without it the tensors may be partial
    assert checkpoint.load(path, IDENTITY, model, optimizer) is None


def test_a_cancelled_lowlight_run_resumes_to_the_same_nets(tmp_path, monkeypatch):
    from engine.errors import Cancelled
    from engine.image import sample_photo, shrink_by_blocks
    from engine.jobs import CancelToken
    from engine.lowlight import train
    from engine.lowlight.data import synthetic_sampler
    from engine.training import TrainingEvents

    torch.set_num_threads(1)
    monkeypatch.setattr(train, "CHECKPOINT_EVERY", 2)
    sampler = synthetic_sampler([shrink_by_blocks(sample_photo("coffee").pixels, 160)], batch=2, crop=32)
    config = train.TrainConfig(steps=5, batch=2, crop=32, channels=8, seed=1)
    straight, straight_losses = train.train_model(sampler, config)

    path, token = tmp_path / "run.safetensors", CancelToken()
    stop_after_three = lambda fraction, message="": token.cancel() if fraction >= 3 / 5 else None  # noqa: E731
    with pytest.raises(Cancelled):
        events = TrainingEvents(stop_after_three, token)
        train.train_model(sampler, config, checkpoint_path=path, identity="coffee", events=events)
    fractions: list[float] = []
    events = TrainingEvents(lambda f, m="": fractions.append(f))
    resumed, losses = train.train_model(sampler, config, checkpoint_path=path, identity="coffee", events=events)
    assert fractions == [3 / 5, 4 / 5, 1.0]  # it went on after the checkpoint of step 2
    assert losses == straight_losses  # steps 1-2 from the checkpoint saved at step 2, steps 3-5 run again
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
