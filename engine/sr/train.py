"""Train an SR-LUT-S, MuLUT or EC-LUT net on photos, then sample it into the int8 table that ships.

(One module: the training loop and the table pipeline after it, for the shipped recipe and a user's folder.)

Training pairs: random high-resolution crops of one colour channel (random flips and 90-degree
rotations; crops flatter than `TrainConfig.flat_std` are drawn again), the low-resolution input made by
antialiased bicubic downscaling (MATLAB convention, `engine.sr.resize`) of a larger crop, so the net sees
the real neighbourhood of the crop (its `context`) and the loss is taken inside it, rounded to 8 bits as
it will be at run time; loss MSE, optionally under bf16 autocast (about 1.7x faster per step on a CPU with
AVX-512 BF16). Every step's batch is drawn from its own seeded generator, and checkpoints hold the net,
the Adam state and the best-on-validation net, so an interrupted run resumes to the same result.

The shipped tables are trained on the real-photo corpus (`engine.corpus`): its train split to learn, its
validation split to select (the best checkpoint), its test split only to report (recipe: `engine.sr.shipped`).

    python -m engine.sr.train --shipped            # reproduces resources/models/sr_*.npz
    python main.py train --kind sr --data DIR --name NAME --sr-model srlut --scale 4 --steps 2000 [--refine]

`--refine` adds the filter stage of `engine.sr.filters` (fitted in closed form on the same photos).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine import checkpoint as engine_checkpoint
from engine import distributed, modelfile
from engine.errors import InputError
from engine.image import PHOTO_SUFFIXES
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress
from engine.sr.filters import FilterConfig
from engine.sr.finetune import FinetuneConfig
from engine.sr.metrics import evaluate_table, gain, validation_scorer
from engine.sr.patches import PatchSampler
from engine.training import NO_EVENTS, EpochPoint, TrainingEvents

log = logging.getLogger(__name__)

HELD_OUT = ("chelsea", "coffee")  # never trained on; `cat` is the same photo as chelsea, so it is left out


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in the JSON sidecar)."""

    kind: str = "srlut"
    scale: int = 4
    steps: int = 2000
    batch: int = 16
    crop: int = 32  # low-resolution crop side
    learning_rate: float = 1e-3
    final_learning_rate: float = 2e-4  # from `decay_at` of the steps on
    decay_at: float = 0.7
    width: int = 64
    seed: int = 0
    checkpoint_every: int = 250
    stages: int = 1  # 2: MuLUT's cascade (a scale-1 refining stage first)
    bf16: bool = False  # bf16 autocast for the nets (the loss stays float32)
    flat_std: float = 0.0  # draw a crop again (up to FLAT_TRIES times) while its std is below this
    schedule: str = "step"  # "step": final_learning_rate from decay_at on; "cosine": cosine down to it

    def learning_rate_at(self, step: int) -> float:
        if self.schedule == "cosine":
            t = step / max(1, self.steps - 1)
            return float(
                self.final_learning_rate
                + 0.5 * (self.learning_rate - self.final_learning_rate) * (1 + np.cos(np.pi * t))
            )
        return self.learning_rate if step < self.decay_at * self.steps else self.final_learning_rate


@dataclass
class TrainResult:
    net: object  # engine.sr.model.LutNet or CascadeNet; the best on validation when there was a validation
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, score) at each checkpoint
    best_step: int = 0


def folder_photo_arrays(folder: Path, *, min_side: int, cancel: CancelToken | None = None) -> list[np.ndarray]:
    """Every photo in `folder` large enough for one training crop; InputError when there are none."""
    from engine.image import load_photo

    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of photos")
    arrays = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES):
        check(cancel)
        pixels = load_photo(path).pixels
        if min(pixels.shape[:2]) >= min_side:
            arrays.append(pixels)
    if not arrays:
        raise InputError(f"{folder}: no photo of at least {min_side}x{min_side} pixels to train on")
    return arrays


def describe_folder(folder: Path, *, min_side: int, cancel: CancelToken | None = None) -> tuple[str, bool]:
    """A readable report of the photos in `folder` for SR training, and whether training can start."""
    from engine.image import load_photo

    if not folder.is_dir():
        return f"{folder} is not a folder.", False
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    usable, lines = 0, []
    for path in paths:
        check(cancel)
        try:
            photo = load_photo(path)
        except InputError as exc:
            lines.append(f"skipped {path.name}: {exc}")
            continue
        if min(photo.height, photo.width) < min_side:
            lines.append(f"skipped {path.name}: {photo.width}x{photo.height} is smaller than {min_side}x{min_side}")
            continue
        usable += 1
    head = f"{usable} of {len(paths)} photos in {folder} can be used (crops of {min_side}x{min_side} pixels)."
    if not usable:
        lines.append("Add photos (JPEG, PNG, TIFF) to train on; the model learns from their fine detail.")
    return "\n".join([head, *lines]), usable > 0


def _trim(out, context: int, scale: int):
    """The net's output for the inner crop: `context` LR pixels of border off every side."""
    if not context:
        return out
    edge = context * scale
    return out[:, :, edge:-edge, edge:-edge]


def _resume(path: Path, config: TrainConfig, net, optimizer, result: TrainResult) -> dict | None:
    """Resume `net`, `optimizer` and `result` from the checkpoint of this very run (`engine.checkpoint`), if
    there is one; returns the best-on-validation weights saved with it (or None)."""
    restored = engine_checkpoint.load(path, asdict(config), net, optimizer)
    if restored is None:
        return None
    record = restored.state
    result.losses, result.seconds = record["losses"][: record["step"]], record["seconds"]
    result.validation = [(int(step), float(score)) for step, score in record["validation"]]
    result.best_step = record["best_step"]
    return restored.groups.get("best")


def train_net(
    config: TrainConfig,
    photos: Sequence[np.ndarray],
    *,
    checkpoint: Path | None = None,
    validate: Callable[[object], float] | None = None,
    on_report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train one net; with `checkpoint`, save there every `checkpoint_every` steps and resume from it.

    `validate(net) -> score` (higher is better) is called at every checkpoint step and at the end; the
    result's net is then the best-scoring one. `on_report(step, mean loss)` is called every
    `report_every` steps (the Train dialog's curve)."""
    import torch

    from engine.sr.model import build_net

    torch.manual_seed(config.seed)
    net = build_net(config.kind, config.scale, config.width, config.stages)
    sampler = distributed.shard_sampler(  # under torchrun: this process's photo shards of each batch
        lambda part, batch: (
            PatchSampler(
                part,
                scale=config.scale,
                crop=config.crop,
                batch=batch,
                seed=config.seed,
                context=net.context,
                flat_std=config.flat_std,
            ).draw
        ),
        photos,
        config.batch,
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    result = TrainResult(net)
    best = _resume(checkpoint, config, net, optimizer, result) if checkpoint else None
    start = len(result.losses)
    began = time.perf_counter() - result.seconds
    for step in range(start, config.steps):
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate_at(step)
        lr, hr = (torch.from_numpy(a) for a in sampler(np.random.default_rng([config.seed, step])))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            out = _trim(net(lr), net.context, config.scale)
        loss = torch.nn.functional.mse_loss(out.float(), hr)
        optimizer.zero_grad()
        loss.backward()
        distributed.average_gradients(net)
        optimizer.step()
        result.losses.append(loss.item())
        done = step + 1
        if validate and (done % config.checkpoint_every == 0 or done == config.steps):
            net.eval()
            score = float(validate(net))
            net.train()
            result.validation.append((done, score))
            if score >= max(v for _, v in result.validation):
                result.best_step = done
                best = {k: v.detach().clone() for k, v in net.state_dict().items()}
        result.seconds = time.perf_counter() - began
        if checkpoint and distributed.is_main() and (done % config.checkpoint_every == 0 or done == config.steps):
            record = {"step": done, "seconds": result.seconds, "losses": result.losses}
            record.update(validation=result.validation, best_step=result.best_step)
            groups = {"best": best} if best is not None else None
            engine_checkpoint.save(checkpoint, asdict(config), net, optimizer, record, groups=groups)
        if on_report and (done % report_every == 0 or done == config.steps):
            on_report(done, float(np.mean(result.losses[-report_every:])))
        if done % 10 == 0 or done == config.steps:
            recent = float(np.mean(result.losses[-50:]))
            progress(done / config.steps, f"step {done}/{config.steps}, loss {recent:.6f}")
    if best is not None:
        net.load_state_dict(best)
    net.eval()
    return result


def train_table(
    config: TrainConfig,
    photos: Sequence[np.ndarray],
    output: Path,
    *,
    data_description: str | dict,
    held_out: Sequence[np.ndarray] = (),
    held_out_names: Sequence[str] = (),
    validation: Sequence[np.ndarray] = (),
    finetune: FinetuneConfig | None = None,
    refine: FilterConfig | None = None,
    checkpoint: Path | None = None,
    on_report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> dict:
    """Train (keeping the checkpoint that scores best on `validation`, if given), transfer into a table,
    optionally fine-tune the table and fit a filter refinement (`refine`), evaluate on `held_out`, write
    `output` (.npz) + JSON; returns the JSON."""
    from engine.sr.finetune import finetune_table
    from engine.sr.infer import save_table
    from engine.sr.transfer import net_to_table

    net_share = 0.9 - 0.1 * bool(finetune) - 0.2 * bool(refine)  # of the bar; fine-tuning 0.1, filters 0.25
    result = train_net(
        config,
        photos,
        checkpoint=checkpoint,
        validate=validation_scorer(validation, config.scale) if len(validation) else None,
        on_report=on_report,
        report_every=report_every,
        progress=sub_progress(progress, 0.0, net_share),
        cancel=cancel,
    )
    check(cancel)
    progress(net_share, "sampling the net into a table")
    table = net_to_table(result.net, cancel=cancel)
    metrics: dict = {}
    if result.validation:
        metrics["validation_gain"] = dict(result.validation)[result.best_step]
        metrics["best_step"] = result.best_step
    if finetune:
        if len(held_out):
            metrics["net_table_y_psnr"] = evaluate_table(table, held_out)["table_y_psnr"]
        began = time.perf_counter()
        table, tune_losses = finetune_table(
            table, photos, finetune, progress=sub_progress(progress, net_share, net_share + 0.1), cancel=cancel
        )
        metrics["finetune_seconds"] = round(time.perf_counter() - began, 1)
        metrics["finetune_final_loss"] = float(np.mean(tune_losses[-50:]))
        if len(validation):
            metrics["finetuned_validation_gain"] = gain(evaluate_table(table, validation))
    if refine:
        if len(held_out):
            metrics["unrefined_table_y_psnr"] = evaluate_table(table, held_out)["table_y_psnr"]
        start = net_share + 0.1 * bool(finetune)
        refine_table(table, photos, refine, progress=sub_progress(progress, start, start + 0.25), cancel=cancel)
    if len(held_out):
        metrics.update(evaluate_table(table, held_out, held_out_names))
    losses = result.losses
    metrics["final_loss"] = float(np.mean(losses[-100:])) if losses else float("nan")
    table.meta.update(
        {
            "version": 2,
            "data": data_description,
            "steps": config.steps,
            "seed": config.seed,
            "config": asdict(config),
            "metrics": metrics,
            "validation_curve": [[step, round(score, 4)] for step, score in result.validation],
            "train_seconds": round(result.seconds, 1),
        }
    )
    if distributed.is_main():  # under torchrun every rank holds the same table
        save_table(table, output)
    progress(1.0, f"saved {output.name}")
    return table.meta


def refine_table(
    table,
    photos: Sequence[np.ndarray],
    config: FilterConfig,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> None:
    """Fit a filter refinement (`engine.sr.filters`) for `table` on `photos` and attach it to the table."""
    from engine.sr.filter_fit import fit_filters

    table.refinement = fit_filters(photos, table, config, progress=progress, cancel=cancel)


def train_user_table(
    config: TrainConfig,
    folder: Path,
    name: str,
    *,
    out_dir: Path | None = None,
    finetune: FinetuneConfig | None = None,
    refine: FilterConfig | None = None,
    report_every: int = 100,
    events: TrainingEvents = NO_EVENTS,
) -> tuple[Path, dict]:
    """Train a table named `name` on the photos in `folder` (scored on the bundled held-out photos) into
    `out_dir` (default: the user's models folder); returns (the .npz written, its JSON). The CLI and the
    Train dialog both train through here; an "epoch" of `events` is `report_every` steps."""
    from engine.image import sample_photo
    from engine.sr.infer import user_models_dir

    photos = folder_photo_arrays(folder, min_side=config.crop * config.scale, cancel=events.cancel)
    events.progress(0.0, f"{len(photos)} photos from {folder}; {config.kind} x{config.scale}, {config.steps} steps")
    epochs = -(-config.steps // report_every)
    out_dir = out_dir or user_models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{modelfile.safe_stem(name)}.npz"
    meta = train_table(
        config,
        photos,
        output,
        data_description=f"{len(photos)} photos from {folder}",
        held_out=[sample_photo(name).pixels for name in HELD_OUT],
        finetune=finetune,
        refine=refine,
        on_report=lambda step, loss: events.epoch(EpochPoint(-(-step // report_every), epochs, loss)),
        report_every=report_every,
        progress=events.progress,
        cancel=events.cancel,
    )
    return output, meta


if __name__ == "__main__":  # `python -m engine.sr.train --shipped`: the recipe lives in engine.sr.shipped,
    import runpy  # which imports this module, so it is run by name (an import here would close a circle)

    runpy.run_module("engine.sr.shipped", run_name="__main__", alter_sys=True)
