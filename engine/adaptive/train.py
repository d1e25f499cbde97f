"""Training adaptive presets: from before/after pairs, from a folder of good photos, or the shipped presets.

    python -m engine.adaptive.train --shipped            # reproduce resources/presets/ from the corpus
    python main.py train --kind adaptive --data DIR --name NAME [--epochs N] [--compressed]
    python main.py train --kind adaptive --photos DIR --name NAME   # an Auto of your own, from good photos

Auto (shipped, or from ``--photos``) learns to undo synthetic capture faults on clean photos
(`engine.adaptive.synthetic`), with a quarter of the inputs left untouched so that a good photo comes
out unchanged; photos are split *by photo* into training and held-out sets, the epoch kept is the best on
the held-out photos, and the preset's JSON records the held-out gain over the untouched input. The shipped
looks are Auto followed by the look's own LUT (`write_look`), so they adapt exactly as well as Auto.

The loop (`train_model`) works on a batch source (`engine.adaptive.data`), holds a validation set out,
reports PSNR per epoch to a callback (live curves), keeps the best weights, and writes a checkpoint after
every epoch next to the output so an interrupted or cancelled run resumes. The preset files
(``STEM.safetensors`` + ``STEM.json``) are written only at the end, atomically: a cancelled run leaves a
previous preset of the same name untouched.

One module because the pairs trainer, the Auto trainer and the shipped recipe share the held-out scoring,
the calibration, the preset writer and the outcome that asks before saving (a split is due when one grows).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine import checkpoint, distributed, modelfile
from engine.adaptive.data import (
    WORKING_SIDE,
    FolderPairs,
    PairReport,
    SyntheticPairs,
    data_fingerprint,
    load_pairs,
    to_tensor,
)
from engine.adaptive.model import AdaptiveLUT, LossWeights, ModelConfig, PhysicalBasis, StatsPredictor, training_loss
from engine.adaptive.synthetic import FAULT_KINDS, FAULT_RANGES
from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.image import shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress

PRESET_KIND = "adaptive-lut"
LOOK_KIND = "adaptive-look"
PRESET_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (stored in the preset's JSON with the model config)."""

    epochs: int = 100
    steps_per_epoch: int = 0  # 0: one pass over the training pairs (ceil(pairs / batch))
    batch_size: int = 8
    crop: int = 160
    learning_rate: float = 5e-4
    predictor_lr_scale: float = 1.0  # the predictor learns at the full rate
    seed: int = 0
    val_fraction: float = 0.1
    cosine: bool = False  # cosine decay of the learning rate over the whole run
    min_crop: float = 0.6  # synthetic faults: crops take this share to all of each side of a photo
    clean_share: float = 0.25  # synthetic faults: inputs left untouched (clean in must give clean out)
    single_share: float = 0.4  # synthetic faults: inputs with one fault kind; the rest get combined faults


DEFAULT_MODEL = ModelConfig(n_luts=3, lut_size=33, physical=True, predictor_size=64)  # looks from pairs
# Auto (shipped, and from --photos): global statistics only, no CNN (with 30 photos a CNN memorised the scenes:
# training 25 dB, held-out 21 dB after 300 steps); the black and white that clipped shelves prove are restored
# first (a range-based levels stretch brightened good photos that are dim by nature: 5 of the 30 train photos),
# after undoing a flattening that both of the photo's ends agree on (its thresholds chosen on train+validation).
# The shelf shares and the 33^3 training lattice (17^3 lost ~3 dB to interpolation on the restored exposures)
# were chosen on the train and validation photos; photos get their LUT on 65^3 (`bench/adaptive_lattice.py`,
# validation, against 33^3: under-exposure +1.3 dB, flat contrast +0.7 dB, the other kinds and clean photos
# within 0.02 dB; 129^3 adds 0.6 and 0.4 dB more, past the 65^3 the preset schema and the looks stop at).
SHIPPED_MODEL = ModelConfig(
    n_luts=0,
    lut_size=33,
    apply_size=65,
    physical=True,
    predictor_size=64,
    cnn_width=0,
    hidden=32,
    white_patch=True,
    shelf_from=5e-4,
    shelf_to=0.1,
    unflatten=True,
)
DEFAULT_TRAIN, DEFAULT_LOSS = TrainConfig(), LossWeights()


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    epochs: int
    step: int
    train_loss: float
    train_psnr: float
    val_psnr: float
    seconds: float  # wall time of this epoch
    val_untouched_psnr: float = float("nan")  # the held-out inputs themselves: what "no edit" scores


MetricsFn = Callable[[EpochMetrics], None]


@dataclass
class TrainResult:
    model: AdaptiveLUT
    best_val_psnr: float
    identity_val_psnr: float  # the held-out inputs against their targets: what "no preset" scores
    best_epoch: int  # whose weights were kept; 0: the starting point (fine-tuning that never beat it)
    history: list[EpochMetrics] = field(default_factory=list)
    steps: int = 0


MAX_PSNR = 50.0  # scores are capped here: past it the difference is invisible in 8-bit output


def psnr_of(mse: float) -> float:
    return min(MAX_PSNR, 10.0 * math.log10(1.0 / max(mse, 1e-12)))


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


def write_preset(model: AdaptiveLUT, folder: Path, name: str, meta: dict) -> Path:
    """Write STEM.safetensors then STEM.json (each atomically); returns the JSON path.

    Weights are stored as float16 (half the size; far below 8-bit output precision) and widened on load.
    """
    from safetensors.torch import save_file

    stem = modelfile.safe_stem(name)
    if not distributed.is_main():  # under torchrun every rank holds the same model; rank 0 writes it
        return folder / f"{stem}.json"
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / f"{stem}.safetensors") as tmp:
        save_file(tensors, str(tmp))
    sidecar = {
        "format": "lutlab-preset",
        "kind": PRESET_KIND,
        "version": PRESET_VERSION,
        "name": name,
        "model": model.config.to_json(),
        **meta,
    }
    with atomic_path(folder / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2))
    return folder / f"{stem}.json"


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
    optimizer = torch.optim.Adam(
        [
            {"params": model.basis.parameters(), "lr": config.learning_rate},
            {"params": model.predictor.parameters(), "lr": config.learning_rate * config.predictor_lr_scale},
        ]
    )
    base_rates = [group["lr"] for group in optimizer.param_groups]
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(len(source) / config.batch_size))
    identity = {"model": model_config.to_json(), "train": asdict(config), **(identity or {})}
    rng = np.random.default_rng(config.seed)
    draw = distributed.shard_source(source, "pairs" if isinstance(source, FolderPairs) else "photos", config.batch_size)
    start_epoch, history, best_psnr, best_epoch = 0, [], -math.inf, 0
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if init is not None and val_pairs:  # fine-tuning must not end worse than where it started
        best_psnr = evaluate(model, val_pairs)
    state_path = checkpoint_dir / "state.safetensors" if checkpoint_dir else None
    resumed = checkpoint.load(state_path, identity, model, optimizer, generator=rng) if state_path else None
    if resumed is not None:
        state, best = resumed.state, resumed.groups["best"]
        start_epoch, best_psnr, best_epoch = state["epoch"], state["best_psnr"], state["best_epoch"]
        history = [EpochMetrics(**h) for h in state["history"]]
    identity_psnr = (
        float(np.mean([psnr_of(float(np.mean((a - b) ** 2))) for a, b in val_pairs])) if val_pairs else float("nan")
    )
    model.train()
    total_steps = config.epochs * steps_per_epoch
    for epoch in range(start_epoch, config.epochs):
        started, losses, mses = time.perf_counter(), [], []
        for step in range(steps_per_epoch):
            check(cancel)
            done = epoch * steps_per_epoch + step
            if config.cosine:
                for group, rate in zip(optimizer.param_groups, base_rates, strict=True):
                    group["lr"] = rate * 0.5 * (1.0 + math.cos(math.pi * done / total_steps))
            inputs, targets = draw(rng)
            loss, mse = training_loss(model, inputs, targets, loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            distributed.average_gradients(model)
            optimizer.step()
            losses.append(loss.item())
            mses.append(mse.item())
            done = epoch * steps_per_epoch + step + 1
            progress(done / total_steps, f"epoch {epoch + 1}/{config.epochs}, step {done}/{total_steps}")
        val_psnr = evaluate(model, val_pairs)
        metrics = EpochMetrics(
            epoch + 1,
            config.epochs,
            (epoch + 1) * steps_per_epoch,
            float(np.mean(losses)),
            psnr_of(float(np.mean(mses))),
            val_psnr,
            time.perf_counter() - started,
            identity_psnr,
        )
        history.append(metrics)
        score = val_psnr if not math.isnan(val_psnr) else metrics.train_psnr
        if score > best_psnr:
            best_psnr, best_epoch = score, epoch + 1
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if state_path is not None and distributed.is_main():
            record = {
                "epoch": epoch + 1,
                "best_psnr": best_psnr,
                "best_epoch": best_epoch,
                "history": [asdict(h) for h in history],
            }
            checkpoint.save(state_path, identity, model, optimizer, record, groups={"best": best}, generator=rng)
        if on_epoch is not None:
            on_epoch(metrics)
    distributed.barrier()  # rank 0's last checkpoint is written before anyone removes it
    model.load_state_dict(best)
    model.eval()
    return TrainResult(model, best_psnr, identity_psnr, best_epoch, history, total_steps)


# ------------------------------------------------------------------------------------------- held-out truth

ConfirmFn = Callable[["Outcome"], bool]
CLEAN_FLOOR = 30.0  # dB: a good photo through Auto closer than this to itself looks unchanged
HARM_TOLERANCE = 0.05  # dB: a preset that changes nothing scores about 0 either side of "no edit"


@dataclass(frozen=True)
class Outcome:
    """What a finished run did on the held-out data, in the terms the dialog and CLI report."""

    psnr: float  # the preset's output against the targets (dB; PSNR, higher is closer)
    untouched_psnr: float  # the unedited inputs against the targets: what "no preset" scores
    clean_psnr: float | None = None  # Auto: good held-out photos through the preset against themselves

    @property
    def gain(self) -> float:
        return self.psnr - self.untouched_psnr

    @property
    def harms_good_photos(self) -> bool:
        return self.clean_psnr is not None and self.clean_psnr < CLEAN_FLOOR

    @property
    def harmful(self) -> bool:
        """The preset makes the held-out photos worse than leaving them alone (or visibly changes good ones)."""
        return self.gain < -HARM_TOLERANCE or self.harms_good_photos

    def text(self) -> str:
        scale = (
            f"(closeness to the targets {self.psnr:.1f} dB against {self.untouched_psnr:.1f} dB with no edit;"
            " higher is closer)"
        )
        if self.gain < -HARM_TOLERANCE:
            words = (
                f"On the held-out photos this preset makes things worse than no edit: they end "
                f"{-self.gain:.1f} dB further from the targets {scale}."
            )
        else:
            words = f"On the held-out photos this preset brings the photos {self.gain:.1f} dB closer {scale}."
        if self.clean_psnr is not None:
            words += (
                f" Good photos stay {'close to' if not self.harms_good_photos else 'visibly changed from'}"
                f" themselves ({self.clean_psnr:.1f} dB; {CLEAN_FLOOR:.0f} dB or more is unchanged to the eye)."
            )
        return words


def _confirmed(outcome: Outcome, confirm: ConfirmFn | None) -> bool:
    """Whether to write the preset: always when it helps; when it harms, only if `confirm` says so."""
    return not outcome.harmful or confirm is None or confirm(outcome)


class NotSaved(InputError):
    """The run finished but its preset was not written (it made held-out photos worse and was declined)."""


def _meta(result: TrainResult, config: TrainConfig, data: dict, description: str, outcome: Outcome, **extra) -> dict:
    last = result.history[-1] if result.history else None
    return {
        "description": description,
        "data": data,
        "training": {**asdict(config), "steps": result.steps, "device": "cpu", "torch": torch.__version__},
        "seed": config.seed,
        "steps": result.steps,
        "metrics": {
            "best_val_psnr": round(result.best_val_psnr, 3),
            "identity_val_psnr": round(result.identity_val_psnr, 3),
            "held_out_gain_db": round(outcome.gain, 3),
            "held_out_summary": outcome.text(),
            "best_epoch": result.best_epoch,
            "final_train_psnr": round(last.train_psnr, 3) if last else None,
            "seconds_per_epoch": round(float(np.mean([h.seconds for h in result.history])), 3)
            if result.history
            else None,
        },
        "history": [
            {"epoch": h.epoch, "train_psnr": round(h.train_psnr, 3), "val_psnr": round(h.val_psnr, 3)}
            for h in result.history
        ],
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
    confirm: ConfirmFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Path, Outcome]:
    """Validate, load, train and write a user preset; returns its JSON path and the held-out outcome.

    Resumes an interrupted run. If the preset makes the held-out pairs worse than no edit, `confirm`
    decides whether it is written; declined, `NotSaved` is raised and nothing is written.
    """
    report.require_usable()
    stem = modelfile.safe_stem(name)
    pairs = load_pairs(report, max_side, progress=sub_progress(progress, 0.0, 0.05), cancel=cancel)
    order = np.random.default_rng(config.seed).permutation(len(pairs))
    n_val = max(1, int(round(len(pairs) * config.val_fraction)))
    val = [pairs[i] for i in order[:n_val]]
    train = [pairs[i] for i in order[n_val:]]
    run_dir = out_dir / f".{stem}.training"
    result = train_model(
        FolderPairs(train, config.crop),
        val,
        model_config,
        config,
        checkpoint_dir=run_dir,
        identity={"data": data_fingerprint(report), "max_side": max_side},
        on_epoch=on_epoch,
        progress=sub_progress(progress, 0.05, 1.0),
        cancel=cancel,
    )
    outcome = Outcome(result.best_val_psnr, result.identity_val_psnr)
    if not _confirmed(outcome, confirm):
        shutil.rmtree(run_dir, ignore_errors=True)
        raise NotSaved(f"preset {name!r} not saved: {outcome.text()}")
    data = {
        "source": "folder",
        "input_dir": str(report.input_dir),
        "target_dir": str(report.target_dir),
        "pairs": len(pairs),
        "train_pairs": len(train),
        "val_pairs": len(val),
        "max_side": max_side,
    }
    path = write_preset(
        result.model, out_dir, name, _meta(result, config, data, f"Trained on {len(pairs)} pairs", outcome)
    )
    shutil.rmtree(run_dir, ignore_errors=True)
    return path, outcome


# ------------------------------------------------------------------------------ Auto: from clean photos alone

PHOTO_SIDE = 512  # clean photos are held at this long side; training crops are cut from them
VAL_SIDE = 384  # held-out photos are scored at this long side
MIN_PHOTOS = 2  # one to train on, one to hold out
VAL_PER_KIND = {**{kind: 1 for kind in FAULT_KINDS}, "clean": 2}  # per held-out photo


def fault_validation(photos: Sequence[np.ndarray], seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(kind, faulty, clean) full frames of held-out photos: one of each fault kind and two untouched each."""
    from engine.adaptive.synthetic import auto

    return SyntheticPairs([shrink_by_blocks(p, VAL_SIDE) for p in photos], auto).fault_set(seed, VAL_PER_KIND)


@torch.no_grad()
def fault_report(model: AdaptiveLUT, triples: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Per fault kind (and "faulted" = every fault, "clean"): mean PSNR of the untouched input and of Auto."""
    model.eval()
    scores: dict[str, dict[str, list[float]]] = {}
    for kind, faulty, clean in triples:
        out, _, _ = model(to_tensor(faulty))
        fixed = psnr_of(float(torch.mean((out - to_tensor(clean)) ** 2)))
        untouched = psnr_of(float(np.mean((faulty - clean) ** 2)))
        for key in (kind, "faulted") if kind != "clean" else (kind,):
            entry = scores.setdefault(key, {"untouched": [], "auto": []})
            entry["untouched"].append(untouched)
            entry["auto"].append(fixed)
    report = {
        k: {"untouched": round(float(np.mean(v["untouched"])), 3), "auto": round(float(np.mean(v["auto"])), 3)}
        for k, v in scores.items()
    }
    if "clean" in scores:
        report["clean"]["auto_min"] = round(float(np.min(scores["clean"]["auto"])), 3)
    return report


CALIBRATION_SCALES = (0.0, 0.5, 1.0)
CLEAN_MARGIN = 30.0  # dB: calibration keeps every held-out good photo at least this close to itself


def _output_groups(config: ModelConfig) -> dict[str, list[int]]:
    """The physical model's outputs by what they correct (indices into the predictor's last layer)."""
    groups = {"exposure": [0], "colour": [1, 2, 6], "tone": [3, 4, 5]}
    start = 7
    for name in ("stretch", "levels"):
        if getattr(config, name):
            groups[name] = [start]
            start += 1
    if config.n_luts:
        groups["learned"] = list(range(start, start + config.n_luts))
    return groups


@torch.no_grad()
def _held_out_score(model: AdaptiveLUT, triples: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> float:
    """Mean held-out closeness, every good photo kept at least CLEAN_MARGIN dB close to itself (a penalty).
    Each pair is scored once: its score counts in the mean and, for a good photo, in the worst case."""
    scores = [(kind, evaluate(model, [(faulty, clean)])) for kind, faulty, clean in triples]
    worst = min((score for kind, score in scores if kind == "clean"), default=MAX_PSNR)
    return float(np.mean([score for _, score in scores])) - 2.0 * max(0.0, CLEAN_MARGIN - worst)


def calibrate(model: AdaptiveLUT, triples: Sequence[tuple[str, np.ndarray, np.ndarray]], passes: int = 2) -> dict:
    """Gate each group of the model's corrections (exposure, colour, tone, stretch, learned) at 0, 1/2 or 1,
    chosen on the held-out photos (coordinate ascent on the mean held-out closeness, clean photos included,
    with a penalty below CLEAN_MARGIN dB on any good photo); the gates are stored with the weights.

    A blind correction is only as good as the evidence for it: a direction the held-out photos show to be
    guessed (not seen) is turned down instead of being applied to every photo."""
    assert isinstance(model.basis, PhysicalBasis)
    gates = model.basis.gates
    groups = _output_groups(model.config)
    scales = {name: 1.0 for name in groups}

    def apply(trial: dict[str, float]) -> None:
        for name, rows in groups.items():
            gates[rows] = trial[name]

    def score(trial: dict[str, float]) -> float:
        apply(trial)
        return _held_out_score(model, triples)

    best = score(scales)
    for _ in range(passes):
        for name in groups:
            for value in CALIBRATION_SCALES:
                if value == scales[name]:
                    continue
                trial = {**scales, name: value}
                got = score(trial)
                if got > best + 1e-3:
                    best, scales = got, trial
    apply(scales)
    model.eval()
    return {"gates": scales, "held_out_score": round(best, 3)}


AUTO_VIEW = 192  # training crops are cut square and held at this side: the photo's range is read from them
AUTO_LOSS_PIXELS = 512  # pixels of each sample the loss is computed on (a global correction needs few)
AUTO_SAMPLES_PER_PHOTO = 96  # crops drawn from each training photo, each faulted and varied per pass...
AUTO_MAX_SAMPLES = 2880  # ...fewer per photo past this many in all (memory: 2880 crops of 192 px take 1.3 GB)
# where the stretch strengths start (logits; they are not trained, calibration gates them): the per-channel
# stretch nearly off (it casts photos whose channels do not all span the range), levels over all channels on
AUTO_START_STRENGTH = {"stretch": -4.0, "levels": 6.0}


# (r - g, r + g - 2b, Rec.709 luma) -> rgb: a chroma offset with zero luma (see `scene_variations`)
_CHROMA_TO_RGB = torch.linalg.inv(torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0], [0.2126, 0.7152, 0.0722]]))


def scene_variations(clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """New plausible good photos from a batch of good ones: half get their hues rotated, all get a tone gamma
    (0.7..1.4, which keeps black, white and neutral greys) and a small saturation change, half are mirrored.

    With 30 training photos a predictor otherwise learns each scene's own colours and brightness and takes
    them for faults; varied scenes leave it only what good photos share (a black, a white, neutral greys)."""
    from engine.adaptive.synthetic import luma, per_image_values

    batch = clean.shape[0]

    def draw(values: np.ndarray) -> torch.Tensor:
        return per_image_values(values, clean)

    y = luma(clean)
    chroma = clean - y
    # chroma in an orthonormal-ish plane (r - g, (r + g - 2b) / sqrt 3), rotated, and back with zero luma
    u = chroma[:, 0] - chroma[:, 1]
    v = (chroma[:, 0] + chroma[:, 1] - 2.0 * chroma[:, 2]) / math.sqrt(3.0)
    angle = draw(rng.uniform(-math.pi, math.pi, batch))[:, 0]
    u, v = torch.cos(angle) * u - torch.sin(angle) * v, torch.sin(angle) * u + torch.cos(angle) * v
    rotated = y + torch.einsum(
        "ij,bjhw->bihw", _CHROMA_TO_RGB.to(clean.dtype), torch.stack([u, math.sqrt(3.0) * v, torch.zeros_like(u)], 1)
    )
    x = torch.where(draw(rng.random(batch) < 0.5) > 0, clean, rotated.clamp(0.0, 1.0))
    x = x.clamp_min(1e-6) ** draw(np.exp(rng.uniform(math.log(0.7), math.log(1.4), batch)))
    y = luma(x)
    x = (y + draw(np.exp(rng.uniform(math.log(0.8), math.log(1.25), batch))) * (x - y)).clamp(0.0, 1.0)
    return torch.where(draw(rng.random(batch) < 0.5) > 0, x.flip(3), x)


@dataclass
class AutoSamples:
    """Faulted training crops, small: the predictor's view and the clean view, and each crop's own range."""

    faulty: torch.Tensor  # (N, 3, P, P)
    clean: torch.Tensor  # (N, 3, P, P)
    ranges: torch.Tensor  # (N, 3, 2), read at AUTO_VIEW like the model reads a photo's
    evidence: torch.Tensor  # (N, 3, 3), `capture_evidence` of each crop at AUTO_VIEW

    def __len__(self) -> int:
        return len(self.faulty)


def square_crops(photo: np.ndarray, count: int, min_crop: float, rng: np.random.Generator) -> list[np.ndarray]:
    """The whole photo (squashed square) and `count` - 1 random square crops of min_crop..1 of its short side,
    each area-resized to AUTO_VIEW."""
    import cv2

    height, width = photo.shape[:2]
    crops = [cv2.resize(photo, (AUTO_VIEW, AUTO_VIEW), interpolation=cv2.INTER_AREA)]
    for _ in range(count - 1):
        side = int(min(height, width) * rng.uniform(min_crop, 1.0))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crops.append(
            cv2.resize(
                photo[top : top + side, left : left + side], (AUTO_VIEW, AUTO_VIEW), interpolation=cv2.INTER_AREA
            )
        )
    return crops


@torch.no_grad()
def auto_samples(crops: torch.Tensor, mix, rng: np.random.Generator, config: ModelConfig) -> AutoSamples:
    """One faulted, varied copy of each crop (N, 3, AUTO_VIEW, AUTO_VIEW)."""
    from engine.adaptive.model import capture_evidence, downsample_for_predictor, photo_ranges
    from engine.adaptive.synthetic import apply_faults

    out = []
    for start in range(0, len(crops), 64):
        clean = scene_variations(crops[start : start + 64], rng)
        faulty = apply_faults(clean, mix.draw(rng, len(clean)), rng)
        out.append(
            (
                downsample_for_predictor(faulty, config.predictor_size),
                downsample_for_predictor(clean, config.predictor_size),
                photo_ranges(faulty),
                capture_evidence(faulty, config),
            )
        )
    return AutoSamples(*(torch.cat(parts) for parts in zip(*out, strict=True)))


def fit_auto(
    model: AdaptiveLUT,
    photos: Sequence[np.ndarray],
    triples: Sequence[tuple[str, np.ndarray, np.ndarray]],
    config: TrainConfig,
    *,
    on_epoch: MetricsFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train an Auto's predictor on faulted, varied crops of clean photos; keep the epoch that scores best on the
    held-out triples (clean photos included). The stretch strengths are not predicted per photo: they stay
    where they start (a fixed share of levels) and calibration gates them, since a per-photo stretch learned
    from few scenes was turned off by training where the held-out photos wanted it."""
    from engine.adaptive.model import STRETCH_BIAS, n_weights, tetrahedral_lookup
    from engine.adaptive.synthetic import FaultMix
    from engine.lut.adjust import DIRECTIONS

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    mix = FaultMix(clean=config.clean_share, single=config.single_share)
    per_photo = max(1, min(AUTO_SAMPLES_PER_PHOTO, AUTO_MAX_SAMPLES // len(photos)))
    crops = (
        torch.from_numpy(
            np.stack([crop for photo in photos for crop in square_crops(photo, per_photo, config.min_crop, rng)])
        )
        .permute(0, 3, 1, 2)
        .float()
        .contiguous()
    )

    def sampler(photo_numbers: list, count: int):  # samples are photo-major: per_photo each
        pool = torch.tensor([p * per_photo + i for p in photo_numbers for i in range(per_photo)])
        return lambda generator: (pool[torch.from_numpy(generator.integers(0, len(pool), count))],)

    draw = distributed.shard_sampler(sampler, range(len(photos)), config.batch_size)
    assert isinstance(model.predictor, StatsPredictor)
    head = model.predictor.last
    frozen = list(range(len(DIRECTIONS), n_weights(model.config) - model.config.n_luts))  # the stretch outputs
    starts = [AUTO_START_STRENGTH[name] for name in ("stretch", "levels") if getattr(model.config, name)]
    with torch.no_grad():
        head.bias[frozen] = torch.tensor(starts) - STRETCH_BIAS
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-3)
    total = config.epochs * config.steps_per_epoch
    best, best_score, best_epoch, history = copy.deepcopy(model.state_dict()), _held_out_score(model, triples), 0, []
    pairs = [(faulty, clean) for _, faulty, clean in triples]
    untouched = float(np.mean([psnr_of(float(np.mean((f - c) ** 2))) for f, c in pairs])) if pairs else float("nan")
    done = 0
    for epoch in range(config.epochs):
        started = time.perf_counter()
        samples = auto_samples(crops, mix, rng, model.config)
        model.train()
        losses = []
        for _ in range(config.steps_per_epoch):
            check(cancel)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * done / total))
            (index,) = draw(rng)
            pixels = torch.from_numpy(rng.integers(0, samples.faulty[0, 0].numel(), AUTO_LOSS_PIXELS))
            faulty = samples.faulty[index].flatten(2)[:, :, pixels].unsqueeze(2)
            clean = samples.clean[index].flatten(2)[:, :, pixels].unsqueeze(2)
            luts, _ = model.fused_luts(samples.faulty[index], samples.ranges[index], samples.evidence[index])
            mse = (tetrahedral_lookup(luts, faulty) - clean).square().mean(dim=(1, 2, 3))
            loss = mse.add(1e-5).log().mean()  # the mean of -PSNR: every photo counts, not the worst ones
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            distributed.average_gradients(model)
            for grad in (head.weight.grad, head.bias.grad):
                if grad is not None:
                    grad[frozen] = 0.0
            optimizer.step()
            with torch.no_grad():
                head.weight[frozen] = 0.0
            losses.append(loss.item())
            done += 1
            progress(done / total, f"epoch {epoch + 1}/{config.epochs}, step {done}/{total}")
        score = _held_out_score(model, triples)
        metrics = EpochMetrics(
            epoch + 1,
            config.epochs,
            done,
            float(np.mean(losses)),
            -10.0 * float(np.mean(losses)) / math.log(10.0),
            score,
            time.perf_counter() - started,
            untouched,
        )
        history.append(metrics)
        if score > best_score:
            best, best_score, best_epoch = copy.deepcopy(model.state_dict()), score, epoch + 1
        if on_epoch is not None:
            on_epoch(metrics)
    model.load_state_dict(best)
    model.eval()
    return TrainResult(model, best_score, untouched, best_epoch, history, done)


def train_auto(
    train_photos: Sequence[np.ndarray],
    val_photos: Sequence[np.ndarray],
    name: str,
    out_dir: Path,
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    data: dict,
    description: str,
    on_epoch: MetricsFn | None = None,
    confirm: ConfirmFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Path, Outcome, AdaptiveLUT]:
    """Train an Auto preset on synthetic faults of clean photos; write it (see `train_from_folder`'s confirm)."""
    from engine.adaptive.synthetic import FaultMix

    mix = FaultMix(clean=config.clean_share, single=config.single_share)
    triples = fault_validation(val_photos, seed=config.seed + 1000)
    torch.manual_seed(config.seed)  # the predictor's initial weights too: the recorded seed fixes the whole run
    model = AdaptiveLUT(model_config)
    result = fit_auto(
        model,
        [shrink_by_blocks(p, PHOTO_SIDE) for p in train_photos],
        triples,
        config,
        on_epoch=on_epoch,
        progress=progress,
        cancel=cancel,
    )
    calibration = calibrate(result.model, triples) if model_config.physical else {}
    report = fault_report(result.model, triples)
    outcome = Outcome(report["faulted"]["auto"], report["faulted"]["untouched"], report["clean"]["auto"])
    if not _confirmed(outcome, confirm):
        raise NotSaved(f"preset {name!r} not saved: {outcome.text()}")
    faults = {kind: [[n, lo, hi, signed] for n, lo, hi, signed in ranges] for kind, ranges in FAULT_RANGES.items()}
    data = {
        **data,
        "faults": faults,
        "fault_mix": asdict(mix),
        "held_out_set": VAL_PER_KIND,
        "photo_side": PHOTO_SIDE,
        "val_side": VAL_SIDE,
    }
    meta = _meta(
        result,
        config,
        data,
        description,
        outcome,
        held_out=report,
        loss=f"mean log MSE over {AUTO_LOSS_PIXELS} random pixels of each {model_config.predictor_size} px"
        f" view; crops of {AUTO_VIEW} px varied by `scene_variations`",
        start_strengths=AUTO_START_STRENGTH,
        calibration=calibration,
    )
    return write_preset(result.model, out_dir, name, meta), outcome, result.model


def load_photo_folder(
    folder: Path, *, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
) -> tuple[list[Path], list[np.ndarray]]:
    """Every readable photo in `folder` at PHOTO_SIDE; at least MIN_PHOTOS, else a clear error."""
    from engine.image import PHOTO_SUFFIXES, load_photo

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    kept, photos, unreadable = [], [], []
    for index, path in enumerate(paths):
        check(cancel)
        try:
            photos.append(shrink_by_blocks(load_photo(path).pixels, PHOTO_SIDE))
            kept.append(path)
        except InputError as exc:
            unreadable.append(f"{path.name}: {exc}")
        progress((index + 1) / max(len(paths), 1), f"loading {path.name}")
    if len(photos) < MIN_PHOTOS:
        extra = f" ({len(unreadable)} unreadable: {'; '.join(unreadable[:3])})" if unreadable else ""
        raise InputError(
            f"{folder}: found {len(photos)} readable photo(s){extra}; at least {MIN_PHOTOS} good "
            "photos are needed (one is held out to check the preset)"
        )
    return kept, photos


def split_photos(count: int, seed: int, fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """(training, held-out) photo indices: a random `fraction` of the photos (at least one) is held out."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, max(1, int(round(count * fraction))))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


PHOTOS_TRAIN = TrainConfig(
    epochs=6,
    steps_per_epoch=100,
    batch_size=64,
    crop=192,
    learning_rate=3e-3,
    cosine=True,
    min_crop=0.4,
    clean_share=0.25,
    single_share=0.4,
)


def train_from_photos(
    folder: Path,
    name: str,
    out_dir: Path,
    model_config: ModelConfig = SHIPPED_MODEL,
    config: TrainConfig = PHOTOS_TRAIN,
    *,
    on_epoch: MetricsFn | None = None,
    confirm: ConfirmFn | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Path, Outcome]:
    """An Auto preset of your own from a folder of good photos (synthetic faults need only clean photos)."""
    paths, photos = load_photo_folder(folder, progress=sub_progress(progress, 0.0, 0.05), cancel=cancel)
    train_idx, val_idx = split_photos(len(photos), config.seed)
    data = {
        "source": "photos",
        "photo_dir": str(folder),
        "photos": [paths[i].name for i in train_idx],
        "held_out": [paths[i].name for i in val_idx],
    }
    path, outcome, _ = train_auto(
        [photos[i] for i in train_idx],
        [photos[i] for i in val_idx],
        name,
        out_dir,
        model_config,
        config,
        data=data,
        description=f"Auto trained on {len(train_idx)} of your photos",
        on_epoch=on_epoch,
        confirm=confirm,
        progress=sub_progress(progress, 0.05, 1.0),
        cancel=cancel,
    )
    return path, outcome


# ------------------------------------------------------------------------------------------ the shipped presets

# The lattice a look's own LUT is stored on and a composed look is built on (Auto's own LUT, `apply_size`, is
# too). 65, not 33: on the validation photos 33^3 put the looks 0.3-0.6 dB behind Auto-then-look applied
# analytically (interpolating the looks' clipped curves), 65^3 0.03-0.15 dB.
LOOK_SIZE = 65


def look_table(look: Callable, size: int = LOOK_SIZE) -> np.ndarray:
    """The look's own LUT: its analytic transform evaluated at every lattice point, (N, N, N, 3)."""
    from engine.adaptive.model import identity_lut

    return look(identity_lut(size).unsqueeze(0))[0].permute(1, 2, 3, 0).contiguous().numpy()


def write_look(folder: Path, name: str, table: np.ndarray, base: str, meta: dict) -> Path:
    """A look preset: `base` (an adaptive preset's stem, e.g. "auto") then this static LUT, composed per photo."""
    from safetensors.torch import save_file

    stem = modelfile.safe_stem(name)
    if not distributed.is_main():
        return folder / f"{stem}.json"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{stem}.safetensors") as tmp:
        save_file({"look": torch.from_numpy(np.ascontiguousarray(table, np.float32))}, str(tmp))
    sidecar = {
        "format": "lutlab-preset",
        "kind": LOOK_KIND,
        "version": PRESET_VERSION,
        "name": name,
        "base": base,
        "look_size": int(table.shape[0]),
        **meta,
    }
    with atomic_path(folder / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2))
    return folder / f"{stem}.json"


SHIPPED_AUTO = TrainConfig(
    epochs=3,  # 6 with the 17^3 lattice; no epoch past the start helped on validation then
    steps_per_epoch=250,
    batch_size=128,
    crop=192,
    learning_rate=3e-3,
    seed=1,
    cosine=True,
    min_crop=0.4,
    clean_share=0.25,
    single_share=0.4,
)


def look_report(
    auto_model: AdaptiveLUT, look: Callable, table: np.ndarray, triples: Sequence[tuple[str, np.ndarray, np.ndarray]]
) -> dict:
    """Held-out PSNR to the look's target of the composed preset, of Auto-then-look applied analytically,
    and of the untouched input; plus the mean chroma of the preset's output and of the target."""
    from engine.adaptive.infer import compose, predict_lut
    from engine.lut import LUT3D, apply_lut

    look_lut = LUT3D(table)
    rows: dict[str, list[float]] = {
        "preset": [],
        "auto_then_look": [],
        "untouched": [],
        "chroma": [],
        "target_chroma": [],
    }
    for _, faulty, clean in triples:
        target = look(to_tensor(clean))[0].permute(1, 2, 0).numpy()
        auto_lut = predict_lut(auto_model, faulty)
        out = apply_lut(faulty, compose(auto_lut, look_lut))
        analytic = look(to_tensor(apply_lut(faulty, auto_lut)))[0].permute(1, 2, 0).numpy()
        rows["preset"].append(psnr_of(float(np.mean((out - target) ** 2))))
        rows["auto_then_look"].append(psnr_of(float(np.mean((analytic - target) ** 2))))
        rows["untouched"].append(psnr_of(float(np.mean((faulty - target) ** 2))))
        rows["chroma"].append(float(np.mean(out.max(2) - out.min(2))) * 255)
        rows["target_chroma"].append(float(np.mean(target.max(2) - target.min(2))) * 255)
    return {k: round(float(np.mean(v)), 3) for k, v in rows.items()}


def train_shipped(out_dir: Path, only: Sequence[str] = (), log: Callable[[str], None] = print) -> None:
    """Train Auto on the real-photo corpus (train split; epochs chosen on the validation split), then write
    each look as Auto followed by the look's own LUT. The test split is never read here."""
    from engine import corpus
    from engine.adaptive.synthetic import LOOKS

    manifest = corpus.load_manifest()
    train_photos = corpus.load_split("train", manifest=manifest)
    val_photos = corpus.load_split("validation", manifest=manifest)
    data = {"source": "corpus", **corpus.describe(manifest), "digest": corpus.corpus_digest(manifest=manifest)}
    auto_model = None
    for look in LOOKS:
        if only and look.stem not in only:
            continue
        if look.stem == "auto":
            config = SHIPPED_AUTO
            log(
                f"training Auto on {len(train_photos)} corpus photos ({len(val_photos)} held out): "
                f"{config.epochs} x {config.steps_per_epoch} steps"
            )
            _, outcome, auto_model = train_auto(
                train_photos,
                val_photos,
                look.name,
                out_dir,
                SHIPPED_MODEL,
                config,
                data=data,
                description=look.description,
                on_epoch=lambda m: log(
                    f"  epoch {m.epoch}/{m.epochs} step {m.step}: training {m.train_psnr:.2f} dB,"
                    f" held-out {m.val_psnr:.2f} dB, {m.seconds:.0f} s"
                ),
            )
            log(f"  wrote auto: {outcome.text()}")
            continue
        if auto_model is None:
            auto_model = _load_shipped(out_dir / "auto.json")
        table = look_table(look.transform)
        triples = [t for t in fault_validation(val_photos, seed=SHIPPED_AUTO.seed + 1000)]
        report = look_report(auto_model, look.transform, table, triples)
        meta = {
            "description": look.description,
            "data": {"source": "analytic look", "held_out": data["split"]["validation"]},
            "metrics": {"held_out": report},
        }
        write_look(out_dir, look.name, table, "auto", meta)
        log(
            f"  wrote {look.stem}: held-out {report['preset']:.2f} dB to its target (Auto then the look "
            f"analytically: {report['auto_then_look']:.2f} dB, untouched {report['untouched']:.2f} dB)"
        )


def _load_shipped(json_path: Path) -> AdaptiveLUT:
    from engine.adaptive.infer import load_model
    from engine.presets import read_preset

    return load_model(read_preset(json_path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped adaptive presets (resources/presets/).")
    parser.add_argument("--shipped", action="store_true", required=True)
    parser.add_argument("--only", nargs="*", default=[], help="preset stems to (re)train, e.g. auto warm-film")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    args = parser.parse_args(argv)
    from engine.presets import SHIPPED_DIR

    torch.set_num_threads(args.threads)
    train_shipped(args.out or SHIPPED_DIR, args.only, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
