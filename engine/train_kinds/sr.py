"""Upscaling tables (SR-LUT, MuLUT, EC-LUT) from a folder of sharp photos.

Only sharp photos are needed: the low-resolution inputs are made from them by bicubic downscaling. One
epoch is `STEPS_PER_EPOCH` training steps of 16 random crops; the CLI counts steps (--steps) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.train_kinds import Option, TrainKind, TrainRequest
from engine.training import TrainingEvents

STEPS_PER_EPOCH = 100
CROP = 32  # engine.sr.train.TrainConfig.crop: a photo needs a side of CROP x scale pixels


def _validate(data: Path, target: Path | None, options: Mapping[str, Any]) -> tuple[str, bool]:
    from engine.sr.train import describe_folder

    return describe_folder(data, min_side=CROP * options["scale"])


def _train(request: TrainRequest, events: TrainingEvents) -> str:
    from engine.sr.filters import FilterConfig
    from engine.sr.finetune import FinetuneConfig
    from engine.sr.train import TrainConfig, train_user_table

    options = request.options
    steps = options["steps"] or KIND.epochs(request) * STEPS_PER_EPOCH
    config = TrainConfig(
        kind=options["sr_model"], scale=options["scale"], steps=steps, seed=request.seed, stages=options["stages"]
    )
    finetune = FinetuneConfig(steps=options["finetune_steps"], seed=request.seed) if options["finetune_steps"] else None
    output, meta = train_user_table(
        config,
        request.data,
        request.name,
        out_dir=request.out,
        finetune=finetune,
        refine=FilterConfig() if options["refine"] else None,
        report_every=STEPS_PER_EPOCH,
        events=events,
    )
    metrics = meta["metrics"]
    return (
        f"Upscaling table \u201c{request.name}\u201d saved as {output}: held-out Y-PSNR "
        f"{metrics['table_y_psnr']:.2f} dB (bicubic {metrics['bicubic_y_psnr']:.2f} dB)"
    )


KIND = TrainKind(
    key="sr",
    family="sr",
    label="Upscaling table (SR-LUT / MuLUT / EC-LUT) from sharp photos",
    default_epochs=20,  # 2000 steps
    options=(
        Option(
            "sr_model",
            str,
            "srlut",
            "Model",
            "the table's kind",
            choices=(
                ("srlut", "SR-LUT (2x2 pixels, 1.3 MB table at \u00d74)"),
                ("mulut", "MuLUT (three 2x2-sized patterns, 5x5 context, 4 MB table at \u00d74)"),
                ("eclut", "EC-LUT (wider context, larger table)"),
            ),
        ),
        Option("scale", int, 4, "Factor", "upscale factor", choices=((4, "\u00d74"), (2, "\u00d72"))),
        Option(
            "stages",
            int,
            1,
            "Stages",
            "2 puts a first table in front that refines the photo at its own size (MuLUT's cascade; about twice "
            "the training time)",
            choices=((1, "one table"), (2, "two tables (MuLUT's cascade)")),
        ),
        Option(
            "steps",
            int,
            None,
            "Steps",
            f"training steps (default 2000: 20 epochs of {STEPS_PER_EPOCH})",
            low=1,
            high=10_000_000,
            in_form=False,
        ),
        Option(
            "finetune_steps",
            int,
            0,
            "Table fine-tuning steps",
            "then fine-tune the table itself through the lookup for N steps",
            low=0,
            high=1_000_000,
        ),
        Option(
            "refine",
            bool,
            False,
            "Add edge-direction filters on top (sharper; minutes more)",
            "then fit a filter refinement (edge-direction filters on top of the table; minutes)",
            form_default=True,  # the dialog suggests the sharper result
        ),
    ),
    validate=_validate,
    train=_train,
    data_hint="folder of sharp photos (the small inputs are made from them)",
    uses_target=False,
    name_hint="name of the new upscaling table",
    cli_epochs=False,
)

KINDS = (KIND,)
