"""A tiny training of every family that has torchrun hooks, written by rank 0 (run by test_distributed.py).

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/engine/distributed_job.py DATA OUT
    LUTLAB_SHARDS=2 python tests/engine/distributed_job.py DATA OUT        # the same global batches, 1 process

DATA holds `photos/*.png` (clean photos for Auto) and `scenes/<scene>/*.png` (exposure pairs for low-light).
OUT receives `adaptive.safetensors`, `lowlight.safetensors` and `sr.safetensors` (float32 weights) and
`ranks.txt`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def main(data: Path, out: Path) -> None:
    from safetensors.torch import save_file

    from engine import distributed
    from engine.adaptive.data import SyntheticPairs
    from engine.adaptive.synthetic import auto
    from engine.adaptive.train import SHIPPED_MODEL, TrainConfig, train_model, write_preset
    from engine.image import load_photo
    from engine.lowlight.train import TrainConfig as LowLightConfig
    from engine.lowlight.train import train_lowlight
    from engine.sr.train import TrainConfig as SRConfig
    from engine.sr.train import train_net

    torch.set_num_threads(1)
    photos = [load_photo(p).pixels for p in sorted((data / "photos").glob("*.png"))]
    config = TrainConfig(epochs=2, steps_per_epoch=3, batch_size=4, crop=32, learning_rate=1e-3, seed=3)
    model = train_model(
        SyntheticPairs(photos, auto, config.crop), [], SHIPPED_MODEL, config, checkpoint_dir=out / "checkpoint"
    ).model
    write_preset(model, out / "presets", "ddp", {})
    train_lowlight(
        out / "lowlight.safetensors",
        data=data / "scenes",
        config=LowLightConfig(steps=4, batch=4, crop=32, channels=8, seed=2),
    )
    sr = train_net(SRConfig(kind="srlut", scale=2, steps=4, batch=4, crop=8, width=8, seed=1), photos).net
    if distributed.is_main():
        for family, net in (("adaptive", model), ("sr", sr)):
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / f"{family}.safetensors"))
    run = distributed.context()
    with open(out / "ranks.txt", "a") as log:  # every rank says it ran; only rank 0 wrote the weights
        log.write(f"{run.rank}/{run.world} shards {run.shards}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
