"""Training adaptive presets: from a folder of before/after pairs, or the shipped presets from bundled photos.

    python -m engine.adaptive.train --shipped            # reproduce resources/presets/ (CPU, ~1 h)
    python main.py train --kind adaptive --data DIR --name NAME [--epochs N] [--compressed]

The loop (`train_model`) works on a batch source (`engine.adaptive.data`), holds a validation set out,
reports PSNR per epoch to a callback (live curves), keeps the best weights, and writes a checkpoint after
every epoch next to the output so an interrupted or cancelled run resumes. The preset files
(``STEM.safetensors`` + ``STEM.json``) are written only at the end, atomically: a cancelled run leaves a
previous preset of the same name untouched.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.adaptive.data import (
    WORKING_SIDE,
    FolderPairs,
    PairReport,
    SyntheticPairs,
    data_fingerprint,
    load_pairs,
    to_tensor,
    validate_pairs,
)
from engine.adaptive.model import AdaptiveLUT, LossWeights, ModelConfig, training_loss
from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress

PRESET_KIND = "adaptive-lut"
PRESET_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (stored in the preset's JSON with the model config)."""

    epochs: int = 100
    steps_per_epoch: int = 0  # 0: one pass over the training pairs (ceil(pairs / batch))
    batch_size: int = 8
    crop: int = 160
    learning_rate: float = 5e-4
    predictor_lr_scale: float = 0.2  # the predictor learns slower than the LUTs: steadier weights (measured)
    seed: int = 0
    val_fraction: float = 0.1


DEFAULT_MODEL, DEFAULT_TRAIN, DEFAULT_LOSS = ModelConfig(), TrainConfig(), LossWeights()


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    epochs: int
    step: int
    train_loss: float
    train_psnr: float
    val_psnr: float
    seconds: float  # wall time of this epoch


MetricsFn = Callable[[EpochMetrics], None]


@dataclass
class TrainResult:
    model: AdaptiveLUT
    best_val_psnr: float
    identity_val_psnr: float  # the held-out inputs against their targets: what "no preset" scores
    best_epoch: int  # whose weights were kept; 0: the starting point (fine-tuning that never beat it)
    history: list[EpochMetrics] = field(default_factory=list)
    steps: int = 0


def psnr_of(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def evaluate(model: AdaptiveLUT, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean PSNR (dB) of the model on full-frame pairs."""
    if not pairs:
        return float("nan")
    model.eval()
    scores = []
    for inp, tgt in pairs:
        out, _, _ = model(to_tensor(inp))
        scores.append(psnr_of(float(torch.mean((out - to_tensor(tgt)) ** 2))))
    model.train()
    return float(np.mean(scores))


# --------------------------------------------------------------------------------------------- weights I/O


def preset_stem(name: str) -> str:
    """File stem for a preset name: lower-case letters, digits and dashes."""
    stem = "".join(c if c.isalnum() else "-" for c in name.strip().lower())
    stem = "-".join(part for part in stem.split("-") if part)
    if not stem:
        raise InputError(f"preset name {name!r} needs at least one letter or digit")
    return stem


def write_preset(model: AdaptiveLUT, folder: Path, name: str, meta: dict) -> Path:
    """Write STEM.safetensors then STEM.json (each atomically); returns the JSON path.

    Weights are stored as float16 (half the size; far below 8-bit output precision) and widened on load.
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    stem = preset_stem(name)
    tensors = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / f"{stem}.safetensors") as tmp:
        save_file(tensors, str(tmp))
    sidecar = {"format": "lutlab-preset", "kind": PRESET_KIND, "version": PRESET_VERSION, "name": name,
               "model": model.config.to_json(), **meta}
    with atomic_path(folder / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2))
    return folder / f"{stem}.json"


def _save_checkpoint(path: Path, model: AdaptiveLUT, best: dict, optimizer: torch.optim.Optimizer, state: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.contiguous() for k, v in best.items()})
    opt = optimizer.state_dict()
    for index, slots in opt["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = value.detach().reshape(-1).contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / "state.safetensors") as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(path / "state.json") as tmp:
        tmp.write_text(json.dumps({**state, "param_groups": opt["param_groups"]}))


def _load_checkpoint(path: Path, model: AdaptiveLUT, optimizer: torch.optim.Optimizer, identity: dict) -> tuple:
    """(state dict of the run, best weights) or None when there is no checkpoint of this very run."""
    from safetensors.torch import load_file

    try:
        state = json.loads((path / "state.json").read_text())
        tensors = load_file(str(path / "state.safetensors"))
    except (OSError, ValueError):
        return None
    if state.get("identity") != identity:
        return None
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, slot = key.split(".")
            slots.setdefault(int(index), {})[slot] = value.reshape(()) if slot == "step" else value
    for index, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        if index in slots:
            slots[index] = {k: v.reshape(param.shape) if k != "step" else v for k, v in slots[index].items()}
    optimizer.load_state_dict({"state": slots, "param_groups": state["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return state, best


# -------------------------------------------------------------------------------------------------- the loop


def train_model(
    source: FolderPairs | SyntheticPairs,
    val_pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    checkpoint_dir: Path | None = None,
    identity: dict | None = None,
    init: AdaptiveLUT | None = None,
    loss_weights: LossWeights = DEFAULT_LOSS,
    on_epoch: MetricsFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train an adaptive LUT; returns the best model (by validation PSNR, or the last without validation).

    With `checkpoint_dir`, state is saved after every epoch and a run with the same `identity` resumes.
    """
    torch.manual_seed(config.seed)
    model = AdaptiveLUT(model_config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    optimizer = torch.optim.Adam([
        {"params": model.basis.parameters(), "lr": config.learning_rate},
        {"params": model.predictor.parameters(), "lr": config.learning_rate * config.predictor_lr_scale},
    ])
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(len(source) / config.batch_size))
    identity = {"model": model_config.to_json(), "train": asdict(config), **(identity or {})}
    rng = np.random.default_rng(config.seed)
    start_epoch, history, best_psnr, best_epoch = 0, [], -math.inf, 0
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if init is not None and val_pairs:  # fine-tuning must not end worse than where it started
        best_psnr = evaluate(model, val_pairs)
    resumed = _load_checkpoint(checkpoint_dir, model, optimizer, identity) if checkpoint_dir else None
    if resumed is not None:
        state, best = resumed
        start_epoch, best_psnr, best_epoch = state["epoch"], state["best_psnr"], state["best_epoch"]
        history = [EpochMetrics(**h) for h in state["history"]]
        rng.bit_generator.state = state["rng"]
    model.train()
    total_steps = config.epochs * steps_per_epoch
    for epoch in range(start_epoch, config.epochs):
        started, losses, mses = time.perf_counter(), [], []
        for step in range(steps_per_epoch):
            check(cancel)
            inputs, targets = source.batch(rng, config.batch_size)
            loss, mse = training_loss(model, inputs, targets, loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            mses.append(mse.item())
            done = epoch * steps_per_epoch + step + 1
            progress(done / total_steps, f"epoch {epoch + 1}/{config.epochs}, step {done}/{total_steps}")
        val_psnr = evaluate(model, val_pairs)
        metrics = EpochMetrics(epoch + 1, config.epochs, (epoch + 1) * steps_per_epoch, float(np.mean(losses)),
                               psnr_of(float(np.mean(mses))), val_psnr, time.perf_counter() - started)
        history.append(metrics)
        score = val_psnr if not math.isnan(val_psnr) else metrics.train_psnr
        if score > best_psnr:
            best_psnr, best_epoch = score, epoch + 1
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if checkpoint_dir is not None:
            _save_checkpoint(checkpoint_dir, model, best, optimizer,
                             {"identity": identity, "epoch": epoch + 1, "best_psnr": best_psnr,
                              "best_epoch": best_epoch, "history": [asdict(h) for h in history],
                              "rng": rng.bit_generator.state})
        if on_epoch is not None:
            on_epoch(metrics)
    model.load_state_dict(best)
    model.eval()
    identity_psnr = float(np.mean([psnr_of(float(np.mean((a - b) ** 2))) for a, b in val_pairs])) \
        if val_pairs else float("nan")
    return TrainResult(model, best_psnr, identity_psnr, best_epoch, history, total_steps)


def _meta(result: TrainResult, config: TrainConfig, data: dict, description: str, **extra) -> dict:
    last = result.history[-1] if result.history else None
    return {
        "description": description,
        "data": data,
        "training": {**asdict(config), "steps": result.steps, "device": "cpu", "torch": torch.__version__},
        "seed": config.seed,
        "steps": result.steps,
        "metrics": {"best_val_psnr": round(result.best_val_psnr, 3),
                    "identity_val_psnr": round(result.identity_val_psnr, 3),
                    "best_epoch": result.best_epoch,
                    "final_train_psnr": round(last.train_psnr, 3) if last else None,
                    "seconds_per_epoch": round(float(np.mean([h.seconds for h in result.history])), 3)
                    if result.history else None},
        "history": [{"epoch": h.epoch, "train_psnr": round(h.train_psnr, 3), "val_psnr": round(h.val_psnr, 3)}
                    for h in result.history],
        **extra,
    }


# -------------------------------------------------------------------------------------- training from a folder


def train_from_folder(
    report: PairReport,
    name: str,
    out_dir: Path,
    model_config: ModelConfig = DEFAULT_MODEL,
    config: TrainConfig = DEFAULT_TRAIN,
    *,
    max_side: int = WORKING_SIDE,
    on_epoch: MetricsFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Validate, load, train and write a user preset; returns its JSON path. Resumes an interrupted run."""
    report.require_usable()
    stem = preset_stem(name)
    pairs = load_pairs(report, max_side, progress=sub_progress(progress, 0.0, 0.05), cancel=cancel)
    order = np.random.default_rng(config.seed).permutation(len(pairs))
    n_val = max(1, int(round(len(pairs) * config.val_fraction)))
    val = [pairs[i] for i in order[:n_val]]
    train = [pairs[i] for i in order[n_val:]]
    checkpoint = out_dir / f".{stem}.training"
    result = train_model(FolderPairs(train, config.crop), val, model_config, config, checkpoint_dir=checkpoint,
                         identity={"data": data_fingerprint(report), "max_side": max_side}, on_epoch=on_epoch,
                         progress=sub_progress(progress, 0.05, 1.0), cancel=cancel)
    data = {"source": "folder", "input_dir": str(report.input_dir), "target_dir": str(report.target_dir),
            "pairs": len(pairs), "train_pairs": len(train), "val_pairs": len(val), "max_side": max_side}
    path = write_preset(result.model, out_dir, name, _meta(result, config, data, f"Trained on {len(pairs)} pairs"))
    shutil.rmtree(checkpoint, ignore_errors=True)
    return path


def run_cli(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    """`main.py train --kind adaptive`: validate the folder, print the report, train, write the preset."""
    import sys

    from engine.presets import user_presets_dir

    report = validate_pairs(Path(args.data), Path(args.target) if args.target else None, cancel=cancel)
    sys.stdout.write(report.text() + "\n")
    report.require_usable()
    model_config = ModelConfig(n_luts=args.luts or DEFAULT_MODEL.n_luts,
                               lut_size=args.lut_size or DEFAULT_MODEL.lut_size, compressed=bool(args.compressed))
    if not 2 <= model_config.lut_size <= 65 or not 1 <= model_config.n_luts <= 64:
        raise InputError("--lut-size must be in 2..65 and --luts in 1..64")
    config = TrainConfig(epochs=args.epochs or DEFAULT_TRAIN.epochs, seed=args.seed)
    out_dir = Path(args.out) if args.out else user_presets_dir()

    def report_epoch(m: EpochMetrics) -> None:
        sys.stdout.write(f"epoch {m.epoch}/{m.epochs}: train {m.train_psnr:.2f} dB, val {m.val_psnr:.2f} dB, "
                         f"{m.seconds:.1f} s\n")
        sys.stdout.flush()

    path = train_from_folder(report, args.name, out_dir, model_config, config, on_epoch=report_epoch,
                             progress=progress, cancel=cancel)
    sys.stdout.write(f"wrote {path.with_suffix('.safetensors')} and {path}\n")
    return 0


# ------------------------------------------------------------------------------------------ the shipped presets


def compose_look(base: AdaptiveLUT, look: Callable) -> AdaptiveLUT:
    """A starting point for a look preset: Auto's model with its identity-like basis LUT0 sent through the look.

    For the plain model the fused LUT is sum w_k LUT_k with LUT0 carrying most of the colour and the others
    small corrections, so look(LUT0) + corrections is close to look(auto(x)); fine-tuning closes the gap.
    """
    model = AdaptiveLUT(base.config)
    model.load_state_dict(base.state_dict())
    with torch.no_grad():
        luts = model.basis.luts
        luts[0] = look(luts[0].clamp(0.0, 1.0).unsqueeze(0))[0]
    return model


SHIPPED_MODEL = ModelConfig(n_luts=8, lut_size=17)
SHIPPED_AUTO = TrainConfig(epochs=12, steps_per_epoch=250, batch_size=8, crop=128, learning_rate=5e-4, seed=1)
SHIPPED_LOOK = replace(SHIPPED_AUTO, epochs=3, seed=2, predictor_lr_scale=0.0)  # Auto's predictor already knows
# the faults; a look only changes the LUTs, and tuning the predictor on six photos overfitted (measured)


def train_shipped(out_dir: Path, only: Sequence[str] = (), log: Callable[[str], None] = print) -> None:
    """Train Auto from faulty bundled photos, then each look fine-tuned from Auto; write them to `out_dir`."""
    from engine.adaptive.synthetic import HELD_OUT_PHOTOS, LOOKS, TRAINING_PHOTOS, bundled_photo

    photos = [bundled_photo(n) for n in TRAINING_PHOTOS]
    held_out = [bundled_photo(n) for n in HELD_OUT_PHOTOS]
    auto_model = None
    for look in LOOKS:
        is_auto = look.stem == "auto"
        if only and look.stem not in only:
            continue
        if not is_auto and auto_model is None:
            auto_model = _load_shipped(out_dir / "auto.json")
        config = SHIPPED_AUTO if is_auto else SHIPPED_LOOK
        source = SyntheticPairs(photos, look.transform, config.crop)
        val = SyntheticPairs(held_out, look.transform).fixed_pairs(seed=1234, variants=8)
        log(f"training {look.name}: {config.epochs} x {config.steps_per_epoch} steps")
        init = None if is_auto else compose_look(auto_model, look.transform)
        if init is not None:
            log(f"  initial held-out PSNR {evaluate(init, val):.2f} dB")
        result = train_model(source, val, SHIPPED_MODEL, config, init=init,
                             checkpoint_dir=out_dir / f".{look.stem}.training",
                             on_epoch=lambda m: log(f"  epoch {m.epoch}/{m.epochs} step {m.step}: train "
                                                    f"{m.train_psnr:.2f} dB, held-out {m.val_psnr:.2f} dB, "
                                                    f"{m.seconds:.0f} s"))
        data = {"source": "synthetic", "photos": list(TRAINING_PHOTOS), "held_out": list(HELD_OUT_PHOTOS),
                "faults": "exposure +-1.5 EV, white balance, contrast x0.7-1.3, saturation x0.55-1.45",
                "init": "random" if is_auto else "auto composed with the look"}
        write_preset(result.model, out_dir, look.name, _meta(result, config, data, look.description))
        shutil.rmtree(out_dir / f".{look.stem}.training", ignore_errors=True)
        if is_auto:
            auto_model = result.model
        log(f"  wrote {look.stem}: best held-out {result.best_val_psnr:.2f} dB")


def _load_shipped(json_path: Path) -> AdaptiveLUT:
    from engine.adaptive.infer import load_model
    from engine.presets import read_preset

    return load_model(read_preset(json_path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped adaptive presets (resources/presets/).")
    parser.add_argument("--shipped", action="store_true", required=True)
    parser.add_argument("--only", nargs="*", default=[], help="preset stems to (re)train, e.g. warm-film")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    from engine.presets import SHIPPED_DIR

    torch.set_num_threads(args.threads)
    train_shipped(args.out or SHIPPED_DIR, args.only, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
