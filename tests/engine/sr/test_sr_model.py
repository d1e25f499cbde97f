"""Nets, transfer and training: the table is the net sampled on a lattice; training lowers the loss."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.sr.infer import upscale_uint8
from engine.sr.model import build_net
from engine.sr.train import TrainConfig, train_net
from engine.sr.transfer import lattice_inputs, net_to_table


def random_net(kind: str, scale: int, seed: int = 0, stages: int = 1):
    torch.manual_seed(seed)
    net = build_net(kind, scale, width=16, stages=stages)
    for branch in [*net.pre.branches, *net.main.branches] if stages == 2 else net.branches:
        torch.nn.init.normal_(branch.head.weight, std=0.15)  # a net with a visible residual
        torch.nn.init.normal_(branch.head.bias, std=0.05)
    return net.eval()


KIND_SCALES = [
    ("srlut", 2),
    ("srlut", 4),
    ("mulut", 2),
    ("mulut", 4),
    ("eclut", 2),
    ("eclut", 4),
    ("mulut", 4, 0, 2),
]  # fmt: skip  (the last: MuLUT's two-stage cascade)


@pytest.fixture(scope="module", params=KIND_SCALES, ids=str)
def net_and_table(request):
    net = random_net(*request.param)
    return net, net_to_table(net)


def test_table_reproduces_the_net_at_lattice_points(net_and_table) -> None:
    net, table = net_and_table
    stages = [(net.pre, table.pre), (net.main, table)] if table.pre is not None else [(net, table)]
    for stage, stage_table in stages:
        inputs = lattice_inputs(stage.kind)
        rows = np.random.default_rng(0).choice(len(inputs), size=2000, replace=False)
        with torch.no_grad():
            values = stage.table_values(torch.from_numpy(inputs[rows].astype(np.float32) / 255.0)).numpy()
        assert np.abs(values).max() <= 127
        np.testing.assert_array_equal(stage_table.table[rows], np.round(values).astype(np.int8))
        assert np.abs(stage_table.table[rows] - values).max() <= 0.5 + 1e-4


def test_numpy_upscaler_matches_the_net_on_a_photo_crop(net_and_table) -> None:
    """Rotations, expanded-conv offsets and sub-pixel order folded into the tables match the torch net."""
    net, table = net_and_table
    import skimage.data

    image = skimage.data.astronaut()[180:205, 200:219]
    out = upscale_uint8(image, table).astype(np.int64)
    with torch.no_grad():
        planes = torch.from_numpy(image.transpose(2, 0, 1)[:, None].astype(np.float32) / 255.0)
        reference = net(planes)[:, 0].numpy().transpose(1, 2, 0)
    reference = np.clip(np.round(reference * 255.0), 0, 255)
    difference = np.abs(out - reference)
    residual = np.abs(reference - image.repeat(net.scale, 0).repeat(net.scale, 1))
    assert residual.mean() > 1  # the test would notice a wrong sub-pixel order or a dropped rotation
    if table.pre is None:
        assert difference.max() <= 2 and difference.mean() < 0.3, (difference.max(), difference.mean())
    else:  # a first-stage rounding that differs by one level moves the second stage's output a little more
        assert np.percentile(difference, 99) <= 2 and difference.mean() < 0.3, (difference.max(), difference.mean())


@pytest.mark.parametrize("kind", ["srlut", "mulut", "eclut", "mulut-cascade"])
def test_short_training_lowers_the_loss(kind: str) -> None:
    rng = np.random.default_rng(0)
    # smooth synthetic photos: the net can learn to beat nearest-neighbour quickly
    y, x = np.mgrid[0:96, 0:96] / 96.0
    photos = [np.clip(0.5 + 0.4 * np.sin(6 * x * f + 4 * y + f), 0, 1).astype(np.float32) for f in rng.uniform(1, 3, 4)]
    config = TrainConfig(
        kind=kind.split("-")[0],
        scale=2,
        steps=60,
        batch=4,
        crop=12,
        width=16,
        learning_rate=3e-3,
        seed=1,
        stages=2 if kind.endswith("cascade") else 1,
    )
    losses = train_net(config, photos).losses
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), (losses[:10], losses[-10:])


def test_training_resumes_from_its_checkpoint(tmp_path) -> None:
    photos = [np.random.default_rng(1).random((64, 64)).astype(np.float32)]
    config = TrainConfig(kind="srlut", scale=2, steps=6, batch=2, crop=8, width=8, checkpoint_every=3)
    first = train_net(config, photos, checkpoint=tmp_path / "ck.safetensors")
    again = train_net(config, photos, checkpoint=tmp_path / "ck.safetensors")  # finished: nothing to do
    assert again.losses == first.losses
    for a, b in zip(first.net.state_dict().values(), again.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("bf16", [False, True])
def test_an_interrupted_run_resumes_to_the_same_net_and_keeps_the_best_on_validation(tmp_path, bf16) -> None:
    """The Adam state and the per-step batches are restored: stopping after a checkpoint and resuming gives
    bit for bit the net of an uninterrupted run; the returned net is the best-scoring checkpoint's."""
    photos = [np.random.default_rng(1).random((64, 64)).astype(np.float32)]
    config = TrainConfig(
        kind="srlut",
        scale=2,
        steps=9,
        batch=2,
        crop=8,
        width=8,
        checkpoint_every=3,
        bf16=bf16,
        flat_std=0.01,
        schedule="cosine",
    )
    scores = iter([0.1, 0.5, 0.2] * 2)  # the second checkpoint (step 6) scores best
    straight = train_net(config, photos, validate=lambda net: next(scores))

    calls = iter([0.1, 0.5, 0.2])
    checkpoint = tmp_path / "ck.safetensors"
    with pytest.raises(Interrupt):  # stopped before step 5, after the checkpoint at step 3
        train_net(config, photos, checkpoint=checkpoint, validate=lambda net: next(calls), cancel=_cancel_at(4))
    resumed = train_net(config, photos, checkpoint=checkpoint, validate=lambda net: next(calls))
    assert resumed.losses == straight.losses and resumed.best_step == straight.best_step == 6
    assert resumed.validation == straight.validation
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def _cancel_at(step: int):
    """A cancel token that raises Interrupt when checked for the `step`-th time (before that step runs)."""
    count = [0]

    class Token:
        def check(self) -> None:
            count[0] += 1
            if count[0] > step:
                raise Interrupt

        @property
        def cancelled(self) -> bool:
            return False

    return Token()


def test_upscale_cli_runs_without_torch(tmp_path) -> None:
    from engine.image import Photo, save_photo
    from engine.sr.infer import save_table

    net = random_net("srlut", 2)
    table = net_to_table(net)
    save_table(table, tmp_path / "mine.npz")
    image = np.random.default_rng(2).random((9, 7, 3)).astype(np.float32)
    save_photo(Photo(image), tmp_path / "in.png")
    code = (
        "import sys; from engine.cli import main; "
        f"rc = main(['upscale', '--scale', '2', '--model', r'{tmp_path / 'mine.npz'}', "
        f"r'{tmp_path / 'in.png'}', r'{tmp_path / 'out.png'}']); "
        "assert 'torch' not in sys.modules, 'upscale imported torch'; sys.exit(rc)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(_repo_root()))
    from engine.image import load_photo

    out = load_photo(tmp_path / "out.png")
    expected = upscale_uint8(np.round(load_photo(tmp_path / "in.png").pixels * 255).astype(np.uint8), table)
    np.testing.assert_array_equal(np.round(out.pixels * 255).astype(np.uint8), expected)
    wrong = subprocess.run(
        [sys.executable, "main.py", "upscale", "--scale", "4", "--model", str(tmp_path / "mine.npz"),
         str(tmp_path / "in.png"), str(tmp_path / "o4.png")],
        cwd=str(_repo_root()), capture_output=True, text=True,
    )  # fmt: skip
    assert wrong.returncode == 2 and "upscales by 2, not 4" in wrong.stderr
    assert not (tmp_path / "o4.png").exists()
    default = (  # no --model: the shipped SR-LUT + filter refinement, still without torch
        "import sys; from engine.cli import main; "
        f"rc = main(['upscale', '--scale', '4', r'{tmp_path / 'in.png'}', r'{tmp_path / 'd4.png'}']); "
        "assert 'torch' not in sys.modules, 'upscale imported torch'; sys.exit(rc)"
    )
    subprocess.run([sys.executable, "-c", default], check=True, cwd=str(_repo_root()))
    from engine.sr.infer import load_table, shipped_table_path

    shipped = load_table(shipped_table_path("srlut-filter", 4))
    expected = upscale_uint8(np.round(load_photo(tmp_path / "in.png").pixels * 255).astype(np.uint8), shipped)
    assert shipped.refinement is not None
    np.testing.assert_array_equal(np.round(load_photo(tmp_path / "d4.png").pixels * 255).astype(np.uint8), expected)


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[3]


def test_train_cli_writes_a_usable_table(tmp_path) -> None:
    from engine.cli import main
    from engine.image import Photo, save_photo
    from engine.sr.infer import load_table

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
        save_photo(Photo(rng.random((70, 90, 3)).astype(np.float32)), photos / f"p{i}.png")
    save_photo(Photo(rng.random((20, 20, 3)).astype(np.float32)), photos / "tiny.png")  # too small: skipped
    argv = ["train", "--kind", "sr", "--data", str(photos), "--name", "mine", "--out", str(tmp_path / "out")]
    assert main([*argv, "--sr-model", "eclut", "--scale", "2", "--steps", "1", "--finetune-steps", "2"]) == 0
    table = load_table(tmp_path / "out" / "mine.npz")
    assert (table.kind, table.scale, table.meta["steps"]) == ("eclut", 2, 1)
    assert table.meta["metrics"]["bicubic_y_psnr"] > 20 and table.meta["finetune"]["steps"] == 2
    assert table.refinement is None
    assert main([*argv, "--scale", "2", "--steps", "1", "--refine"]) == 0
    refined = load_table(tmp_path / "out" / "mine.npz")
    assert (refined.kind, refined.refinement.config.window) == ("srlut", 7)
    assert refined.meta["refinement"]["angles"] == 16 and "unrefined_table_y_psnr" in refined.meta["metrics"]
    assert main([*argv, "--epochs", "3"]) == 2
    assert main([*argv[:4], str(tmp_path / "none"), *argv[5:]]) == 2


@pytest.mark.parametrize("kind", ["srlut", "mulut", "eclut", "mulut-cascade"])
def test_finetune_lookup_matches_inference_and_lowers_the_loss(kind: str) -> None:
    from engine.sr.finetune import FinetuneConfig, _cascade_output, finetune_table
    from engine.sr.infer import SRTable

    rng = np.random.default_rng(4)
    base = kind.split("-")[0]
    rows, groups = {"srlut": (17**4, 1), "mulut": (17**4, 3), "eclut": (256**2, 9)}[base]
    pre = None
    if kind.endswith("cascade"):
        pre = SRTable(base, 1, rng.integers(-40, 40, size=(rows, groups)).astype(np.int8))
    table = SRTable(base, 2, rng.integers(-40, 40, size=(rows, groups * 4)).astype(np.int8), pre=pre)
    images = rng.integers(0, 256, size=(2, 9, 11)).astype(np.uint8)
    weights = torch.from_numpy(table.table.astype(np.float32))
    pre_weights = torch.from_numpy(pre.table.astype(np.float32)) if pre is not None else None
    out = _cascade_output(weights, pre_weights, table, torch.from_numpy(images.astype(np.int64)))
    differentiable = np.clip(np.round(out.detach().numpy()), 0, 255)
    exact = np.stack([upscale_uint8(image, table) for image in images])
    assert np.abs(differentiable - exact).max() <= 1  # the same lookup, float rounding aside

    y, x = np.mgrid[0:96, 0:96] / 96.0
    photos = [np.clip(0.5 + 0.4 * np.sin(7 * x + 3 * y * f), 0, 1).astype(np.float32) for f in (1.0, 2.0)]
    tuned, losses = finetune_table(table, photos, FinetuneConfig(steps=40, batch=4, crop=12, learning_rate=2.0))
    assert tuned.table.dtype == np.int8 and np.abs(tuned.table.astype(int)).max() <= 127
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), (losses[:5], losses[-5:])
    if pre is not None:  # the loss reaches the first stage through the second stage's simplex weights
        assert (tuned.pre.table != pre.table).mean() > 0.001


def test_shipped_build_records_corpus_split_steps_seed_and_metrics(tmp_path, monkeypatch) -> None:
    """`--shipped` on a stand-in corpus: the table is selected on validation, scored on test, and its JSON
    says which corpus and split it came from; the refinement is fitted on the same train split."""
    import json

    import skimage.data

    import engine.sr.shipped as shipped
    from engine.sr.filters import FilterConfig
    from engine.sr.finetune import FinetuneConfig
    from engine.sr.infer import load_table

    photo = skimage.data.astronaut().astype(np.float32) / 255.0
    splits = {
        "train": [photo[:160, :160], photo[200:360, 250:410]],
        "validation": [photo[300:396, :96]],
        "test": [photo[:96, 300:396], photo[400:496, 400:496]],
    }
    data = {"corpus": {"manifest": "resources/corpus.json", "split": {"test": ["a", "b"]}}, "corpus_sha256": "0" * 64}
    monkeypatch.setattr(shipped, "corpus_splits", lambda: (data, splits, ["a", "b"]))
    config = TrainConfig(kind="srlut", scale=2, steps=4, batch=2, crop=8, width=8, checkpoint_every=2, seed=3)
    monkeypatch.setattr(shipped, "SHIPPED", ((config, FinetuneConfig(steps=3, batch=2, crop=8)),))
    monkeypatch.setattr(shipped, "SHIPPED_REFINED", (("srlut-filter", "srlut", {2: FilterConfig(phases=1)}),))
    shipped.train_shipped(tmp_path / "work", tmp_path, only=["sr_srlut_x2", "sr_srlut-filter_x2"])
    meta = json.loads((tmp_path / "sr_srlut_x2.json").read_text())
    assert meta["data"] == data and (meta["steps"], meta["seed"], meta["config"]["crop"]) == (4, 3, 8)
    assert [step for step, _ in meta["validation_curve"]] == [2, 4] and meta["metrics"]["best_step"] in (2, 4)
    assert set(meta["metrics"]["per_photo"]) == {"a", "b"} and meta["metrics"]["bicubic_y_psnr"] > 20
    assert meta["finetune"]["steps"] == 3 and meta["metrics"]["finetune_seconds"] >= 0  # 3 tiny steps: may round to 0
    assert "finetuned_validation_gain" in meta["metrics"]
    refined = load_table(tmp_path / "sr_srlut-filter_x2.npz")
    assert refined.refinement is not None and refined.meta["data"]["corpus_sha256"] == "0" * 64
    assert set(refined.meta["metrics"]) >= {"unrefined_table_y_psnr", "validation_gain", "table_y_psnr", "per_photo"}
    (tmp_path / "again").mkdir()  # a second run resumes from the finished checkpoint: the same fine-tuned table
    shipped.train_shipped(tmp_path / "work", tmp_path / "again", only=["sr_srlut_x2"])
    np.testing.assert_array_equal(
        load_table(tmp_path / "again" / "sr_srlut_x2.npz").table, load_table(tmp_path / "sr_srlut_x2.npz").table
    )
