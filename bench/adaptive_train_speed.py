"""Seconds per training epoch for 100 before/after pairs, at the training resolution, on this machine's CPU.

Pairs: scikit-image sample photos with random capture faults (input) and the clean photo (target), at the working
resolution (long side 384); an epoch is one pass over the 90 training pairs (10 held out), batch 8.
Run: python bench/adaptive_train_speed.py [--threads 1] [--epochs 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.adaptive.data import WORKING_SIDE, FolderPairs, SyntheticPairs  # noqa: E402
from engine.adaptive.model import ModelConfig  # noqa: E402
from engine.adaptive.synthetic import auto  # noqa: E402
from engine.adaptive.train import DEFAULT_MODEL, SHIPPED_MODEL, TrainConfig, train_model  # noqa: E402
from engine.image import sample_photo, shrink_by_blocks  # noqa: E402

SAMPLE_PHOTOS = ("astronaut", "coffee", "rocket", "chelsea")  # scikit-image photos: timing only

MODELS = {
    "default 14 + 3 x 33^3": DEFAULT_MODEL,
    "shipped Auto (levels + 7 amounts, 17^3)": SHIPPED_MODEL,
    "plain (Zeng) 3 x 33^3": ModelConfig(),
    "compressed 20 x 33^3 (S5 W20)": ModelConfig(n_luts=20, lut_size=33, compressed=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photos = [shrink_by_blocks(sample_photo(n).pixels, WORKING_SIDE) for n in SAMPLE_PHOTOS]
    pairs = SyntheticPairs(photos, auto).fixed_pairs(seed=0, variants=-(-100 // len(photos)))[:100]
    train, val = pairs[:90], pairs[90:]
    print(
        f"100 pairs (90 train / 10 held out), long side {WORKING_SIDE}, batch 8, crop 160, "
        f"{args.threads} thread(s), {args.epochs} epochs\n"
    )
    header = f"{'model':<32} {'steps/epoch':>11} {'s/epoch':>8} {'held-out PSNR after':>20}"
    print(header)
    print("-" * len(header))
    for name, model_config in MODELS.items():
        result = train_model(FolderPairs(train), val, model_config, TrainConfig(epochs=args.epochs))
        seconds = float(np.mean([h.seconds for h in result.history]))
        print(f"{name:<32} {result.history[0].step:>11} {seconds:>8.1f} {result.best_val_psnr:>20.2f}")


if __name__ == "__main__":
    main()
