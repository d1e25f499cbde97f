"""Train an SR-LUT-S, MuLUT or EC-LUT net on photos, then sample it into the int8 table that ships.

Training pairs: random high-resolution crops of one colour channel (random flips and 90-degree
rotations), the low-resolution input made by antialiased bicubic downscaling (MATLAB convention,
`engine.sr.resize`) and rounded to 8 bits as it will be at run time; loss MSE. By default the photos
are scikit-image's bundled ones with two held out for evaluation (`HELD_OUT`).

    python -m engine.sr.train --shipped            # reproduces resources/models/sr_*.npz
    python main.py train --kind sr --data DIR --name NAME --sr-model srlut --scale 4 --steps 2000 [--refine]

`--refine` adds the filter stage of `engine.sr.filters` (fitted in closed form on the same photos).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.image import PHOTO_SUFFIXES
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress
from engine.sr.filters import FilterConfig
from engine.sr.finetune import FinetuneConfig
from engine.sr.infer import MODELS_DIR
from engine.sr.resize import resize_matrix

TRAIN_SAMPLES = (
    "astronaut",
    "rocket",
    "camera",
    "coins",
    "moon",
    "page",
    "text",
    "immunohistochemistry",
    "brick",
    "grass",
    "gravel",
    "clock",
    "stereo_motorcycle",
)
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


@dataclass
class TrainResult:
    net: object  # engine.sr.model.LutNet
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def sample_photo_arrays(names: Sequence[str]) -> list[np.ndarray]:
    """scikit-image's bundled photos as float32 arrays in [0, 1] (offline, from site-packages)."""
    import skimage.data

    arrays = []
    for name in names:
        image = getattr(skimage.data, name)()
        if isinstance(image, tuple):  # stereo pairs: the left view
            image = image[0]
        arrays.append(np.asarray(image, dtype=np.float32) / 255.0)
    return arrays


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


def _channel_planes(photos: Sequence[np.ndarray]) -> list[np.ndarray]:
    planes = []
    for photo in photos:
        photo = np.asarray(photo, dtype=np.float32)
        planes.extend([photo] if photo.ndim == 2 else [photo[:, :, c] for c in range(min(photo.shape[2], 3))])
    return planes


class PatchSampler:
    """Random (LR, HR) single-channel patch batches: crop, flip, rotate, bicubic-downscale, 8-bit LR."""

    def __init__(self, photos: Sequence[np.ndarray], config: TrainConfig) -> None:
        hr_side = config.crop * config.scale
        self.planes = [p for p in _channel_planes(photos) if min(p.shape) >= hr_side]
        if not self.planes:
            raise InputError(f"no photo of at least {hr_side}x{hr_side} pixels to train on")
        areas = np.array([p.size for p in self.planes], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.down = resize_matrix(hr_side, config.crop).astype(np.float32)
        self.hr_side = hr_side
        self.batch = config.batch
        self.rng = np.random.default_rng(config.seed)

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        rng, side = self.rng, self.hr_side
        hr = np.empty((self.batch, side, side), np.float32)
        for i, index in enumerate(rng.choice(len(self.planes), size=self.batch, p=self.weights)):
            plane = self.planes[index]
            y = rng.integers(0, plane.shape[0] - side + 1)
            x = rng.integers(0, plane.shape[1] - side + 1)
            patch = np.rot90(plane[y : y + side, x : x + side], rng.integers(4))
            hr[i] = patch[:, ::-1] if rng.integers(2) else patch
        lr = self.down @ hr @ self.down.T
        lr = np.round(np.clip(lr, 0.0, 1.0) * 255.0) / 255.0
        return lr[:, None].astype(np.float32), hr[:, None]


def _save_checkpoint(net, config: TrainConfig, result: TrainResult, path: Path) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    meta = {"step": len(result.losses), "seconds": result.seconds, "losses": result.losses, "config": asdict(config)}
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta))


def _load_checkpoint(net, config: TrainConfig, path: Path, result: TrainResult) -> None:
    """Resume `net` and `result` from a checkpoint of the same config, if there is one."""
    from safetensors.torch import load_file

    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return
    meta = json.loads(meta_path.read_text())
    if meta.get("config") != asdict(config):
        return
    net.load_state_dict(load_file(str(path)))
    result.losses, result.seconds = meta["losses"][: meta["step"]], meta["seconds"]


def train_net(
    config: TrainConfig,
    photos: Sequence[np.ndarray],
    *,
    checkpoint: Path | None = None,
    on_report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train one net; with `checkpoint`, save there every `checkpoint_every` steps and resume from it.

    `on_report(step, mean loss)` is called every `report_every` steps (the Train dialog's curve)."""
    import torch

    from engine.sr.model import build_net

    torch.manual_seed(config.seed)
    net = build_net(config.kind, config.scale, config.width)
    sampler = PatchSampler(photos, config)
    result = TrainResult(net)
    if checkpoint:
        _load_checkpoint(net, config, checkpoint, result)
    start = len(result.losses)
    sampler.rng = np.random.default_rng([config.seed, start])
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    began = time.perf_counter() - result.seconds
    for step in range(start, config.steps):
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate if step < config.decay_at * config.steps else config.final_learning_rate
        lr, hr = (torch.from_numpy(a) for a in sampler())
        loss = torch.nn.functional.mse_loss(net(lr), hr)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result.losses.append(loss.item())
        done = step + 1
        result.seconds = time.perf_counter() - began
        if checkpoint and (done % config.checkpoint_every == 0 or done == config.steps):
            _save_checkpoint(net, config, result, checkpoint)
        if on_report and (done % report_every == 0 or done == config.steps):
            on_report(done, float(np.mean(result.losses[-report_every:])))
        if done % 10 == 0 or done == config.steps:
            recent = float(np.mean(result.losses[-50:]))
            progress(done / config.steps, f"step {done}/{config.steps}, loss {recent:.6f}")
    net.eval()
    return result


def evaluate_table(table, photos: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean Y-PSNR of bicubic and of the table on `photos` (SR-paper convention)."""
    from engine.sr.metrics import y_psnr_pair

    bicubic, model = zip(*(y_psnr_pair(table, photo) for photo in photos), strict=True)
    return {"bicubic_y_psnr": float(np.mean(bicubic)), "table_y_psnr": float(np.mean(model))}


def train_table(
    config: TrainConfig,
    photos: Sequence[np.ndarray],
    output: Path,
    *,
    data_description: str,
    held_out: Sequence[np.ndarray] = (),
    finetune: FinetuneConfig | None = None,
    refine: FilterConfig | None = None,
    checkpoint: Path | None = None,
    on_report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> dict:
    """Train, transfer into a table, optionally fine-tune the table and fit a filter refinement (`refine`),
    evaluate on `held_out`, write `output` (.npz) + JSON; returns the JSON."""
    from engine.sr.finetune import finetune_table
    from engine.sr.infer import save_table
    from engine.sr.transfer import net_to_table

    net_share = 0.9 - 0.1 * bool(finetune) - 0.2 * bool(refine)  # of the bar; fine-tuning 0.1, filters 0.25
    result = train_net(
        config,
        photos,
        checkpoint=checkpoint,
        on_report=on_report,
        report_every=report_every,
        progress=sub_progress(progress, 0.0, net_share),
        cancel=cancel,
    )
    check(cancel)
    progress(net_share, "sampling the net into a table")
    table = net_to_table(result.net, cancel=cancel)
    metrics = {}
    if finetune:
        if len(held_out):
            metrics["net_table_y_psnr"] = evaluate_table(table, held_out)["table_y_psnr"]
        table, tune_losses = finetune_table(
            table, photos, finetune, progress=sub_progress(progress, net_share, net_share + 0.1), cancel=cancel
        )
        metrics["finetune_final_loss"] = float(np.mean(tune_losses[-50:]))
    if refine:
        if len(held_out):
            metrics["unrefined_table_y_psnr"] = evaluate_table(table, held_out)["table_y_psnr"]
        start = net_share + 0.1 * bool(finetune)
        refine_table(table, photos, refine, progress=sub_progress(progress, start, start + 0.25), cancel=cancel)
    if len(held_out):
        metrics.update(evaluate_table(table, held_out))
    losses = result.losses
    metrics["final_loss"] = float(np.mean(losses[-100:])) if losses else float("nan")
    table.meta.update(
        {
            "version": 1,
            "data": data_description,
            "steps": config.steps,
            "seed": config.seed,
            "config": asdict(config),
            "metrics": metrics,
            "train_seconds": round(result.seconds, 1),
        }
    )
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
    from engine.sr.filters import fit_filters

    table.refinement = fit_filters(_channel_planes(photos), table, config, progress=progress, cancel=cancel)


def model_file_stem(name: str) -> str:
    """A safe file name for a user's model name ("My Table" -> "my-table")."""
    stem = "".join(c if c.isalnum() else "-" for c in name.strip().lower()).strip("-")
    if not stem:
        raise InputError(f"model name {name!r} needs at least one letter or digit")
    return stem


def train_user_table(
    config: TrainConfig,
    folder: Path,
    name: str,
    *,
    out_dir: Path | None = None,
    finetune: FinetuneConfig | None = None,
    refine: FilterConfig | None = None,
    on_report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Path, dict]:
    """Train a table named `name` on the photos in `folder` (scored on the bundled held-out photos) into
    `out_dir` (default: the user's models folder); returns (the .npz written, its JSON). The CLI and the
    Train dialog both train through here."""
    from engine.sr.infer import user_models_dir

    photos = folder_photo_arrays(folder, min_side=config.crop * config.scale, cancel=cancel)
    progress(0.0, f"{len(photos)} photos from {folder}; {config.kind} x{config.scale}, {config.steps} steps")
    out_dir = out_dir or user_models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{model_file_stem(name)}.npz"
    meta = train_table(
        config,
        photos,
        output,
        data_description=f"{len(photos)} photos from {folder}",
        held_out=sample_photo_arrays(HELD_OUT),
        finetune=finetune,
        refine=refine,
        on_report=on_report,
        report_every=report_every,
        progress=progress,
        cancel=cancel,
    )
    return output, meta


def run_cli(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken | None) -> int:
    """`main.py train --kind sr --data DIR --name NAME`: train a table on a folder of photos."""
    if args.epochs is not None:
        raise InputError("--kind sr trains by --steps, not --epochs")
    config = TrainConfig(kind=args.sr_model or "srlut", scale=args.scale or 4, steps=args.steps or 2000, seed=args.seed)
    if config.steps < 1:
        raise InputError(f"--steps must be at least 1, got {config.steps}")
    output, meta = train_user_table(
        config,
        Path(args.data),
        args.name,
        out_dir=Path(args.out) if args.out else None,
        finetune=FinetuneConfig(steps=args.finetune_steps, seed=args.seed) if args.finetune_steps else None,
        refine=FilterConfig() if args.refine else None,
        progress=progress,
        cancel=cancel,
    )
    metrics = meta["metrics"]
    print(
        f"wrote {output} and {output.with_suffix('.json')}: held-out Y-PSNR {metrics['table_y_psnr']:.2f} dB "
        f"(bicubic {metrics['bicubic_y_psnr']:.2f} dB)",
        flush=True,
    )
    return 0


# ~40 min of one CPU core in all (MuLUT ~20 of them). No table fine-tuning: measured on sr_srlut_x4 and
# sr_mulut_x2 it moved the held-out Y-PSNR by < 0.01 dB (the table already matches the net to ~0.01 dB),
# so it is left to `--finetune-steps`.
SHIPPED: tuple[tuple[TrainConfig, FinetuneConfig | None], ...] = (
    (TrainConfig(kind="srlut", scale=4, steps=2500, seed=4), None),
    (TrainConfig(kind="srlut", scale=2, steps=1500, seed=2), None),
    (TrainConfig(kind="eclut", scale=4, steps=1200, seed=14), None),
    (TrainConfig(kind="eclut", scale=2, steps=1000, seed=12), None),
    (TrainConfig(kind="mulut", scale=4, steps=2000, seed=24), None),
    (TrainConfig(kind="mulut", scale=2, steps=1000, seed=22), None),
)


# Refined models: (name, the shipped model they refine, filter config), for both scales; built from the
# base model's shipped table in a few minutes (closed-form fit, no training steps).
SHIPPED_REFINED: tuple[tuple[str, str, FilterConfig], ...] = (("srlut-filter", "srlut", FilterConfig(phases=4)),)


def shipped_name(kind: str, scale: int) -> str:
    return f"sr_{kind}_x{scale}"


def _printing_progress(name: str) -> ProgressFn:
    """Progress printed every 20 s (and near the end) with a time stamp: the shipped runs' log."""
    last_print = [0.0]

    def report(fraction: float, message: str = "") -> None:
        if time.monotonic() - last_print[0] >= 20.0 or fraction >= 0.9:
            last_print[0] = time.monotonic()
            print(f"{time.strftime('%H:%M:%S')} {name} {fraction:.3f} {message}", flush=True)

    return report


def train_shipped(work_dir: Path, models_dir: Path = MODELS_DIR, only: Sequence[str] = ()) -> None:
    """Reproduce the shipped tables (resumes from checkpoints in `work_dir`), then their refinements."""
    import torch

    from engine.sr.infer import load_table, save_table

    torch.set_num_threads(1)
    photos, held_out = sample_photo_arrays(TRAIN_SAMPLES), sample_photo_arrays(HELD_OUT)
    description = f"scikit-image sample photos {', '.join(TRAIN_SAMPLES)}; held out {', '.join(HELD_OUT)}"
    work_dir.mkdir(parents=True, exist_ok=True)
    for config, finetune in SHIPPED:
        name = shipped_name(config.kind, config.scale)
        if only and name not in only:
            continue
        meta = train_table(
            config,
            photos,
            models_dir / f"{name}.npz",
            data_description=description,
            held_out=held_out,
            finetune=finetune,
            checkpoint=work_dir / f"{name}.safetensors",
            progress=_printing_progress(name),
        )
        print(json.dumps({name: meta["metrics"], "train_seconds": meta["train_seconds"]}), flush=True)
    for model, base, filter_config in SHIPPED_REFINED:
        for scale in (4, 2):
            name = shipped_name(model, scale)
            if only and name not in only:
                continue
            table = load_table(models_dir / f"{shipped_name(base, scale)}.npz")
            unrefined = table.meta["metrics"]["table_y_psnr"]  # the base table's own held-out score
            began = time.perf_counter()
            refine_table(table, photos, filter_config, progress=_printing_progress(name))
            table.meta["metrics"] = {"unrefined_table_y_psnr": unrefined, **evaluate_table(table, held_out)}
            table.meta["refine_seconds"] = round(time.perf_counter() - began, 1)
            table.meta["data"] = f"{description}; filters fitted on the same photos"
            save_table(table, models_dir / f"{name}.npz")
            print(json.dumps({name: table.meta["metrics"], "refine_seconds": table.meta["refine_seconds"]}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipped", action="store_true", help="reproduce resources/models/sr_*.npz")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/sr"), help="checkpoints (resumable)")
    parser.add_argument("--only", nargs="*", default=(), help="shipped model names to (re)build")
    args = parser.parse_args(argv)
    if not args.shipped:
        parser.error("use --shipped here, or `python main.py train --kind sr ...` for your own photos")
    train_shipped(args.work_dir, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
