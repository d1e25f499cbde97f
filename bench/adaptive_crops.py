"""Does Auto leave good photos alone when they are close-ups? Crops of the corpus photos are good photos too, but
their ranges are narrower and their tops often a dim object's: what fools the evidence Auto trusts (a clipped
shelf, two ends agreeing on a flattening) shows here before it shows on whole frames.

Each photo of the chosen splits (train and validation by default: choices may be made on them) gives --crops
square crops of 20-60 % of its short side (seeded), held at --side px; Auto (the shipped preset, predicted and
applied as the app does) is scored against the crop itself by PSNR (dB; 99 = unchanged). Printed per split: the
mean, the least, and how many crops Auto moves closer than 30 dB (visible), then those crops with the evidence
Auto read on them (the shelf's white level, 1 = none; the flattening slope, 1 = none).

    python bench/adaptive_crops.py [--splits train validation] [--crops 8] [--side 384] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VISIBLE = 30.0  # dB: closer than this to the photo itself is a visible change


def close_ups(pixels: np.ndarray, count: int, side: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` square crops of 20-60 % of the short side, block-shrunk to `side` (not training's `square_crops`:
    its area resize averages the shelves away, and its crops start at 60 % with the whole photo first)."""
    from engine.image import shrink_by_blocks

    height, width = pixels.shape[:2]
    out = []
    for _ in range(count):
        size = int(rng.uniform(0.2, 0.6) * min(height, width))
        top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
        out.append(shrink_by_blocks(np.ascontiguousarray(pixels[top : top + size, left : left + size]), side))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["train", "validation"], choices=("train", "validation", "test"))
    parser.add_argument("--crops", type=int, default=8, help="crops per photo")
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    import torch

    from engine import corpus
    from engine.adaptive.data import to_tensor
    from engine.adaptive.infer import load_model, predict_lut
    from engine.adaptive.model import capture_evidence
    from engine.color import psnr
    from engine.lut import apply_lut
    from engine.presets import find_preset

    torch.set_num_threads(args.threads)
    model = load_model(find_preset("Auto"))
    manifest = corpus.load_manifest()
    rng = np.random.default_rng(args.seed)
    print(f"Auto on crops of good photos ({args.crops} per photo, {args.side} px), PSNR to the crop itself (dB)")
    print(f"{'split':<12}{'crops':>7}{'mean':>8}{'least':>8}{f'< {VISIBLE:.0f} dB':>10}")
    harmed = []
    for split in args.splits:
        scores = []
        for entry, pixels in zip(manifest.split(split), corpus.load_split(split, manifest=manifest), strict=True):
            for number, crop in enumerate(close_ups(pixels, args.crops, args.side, rng)):
                score = min(99.0, psnr(apply_lut(crop, predict_lut(model, crop)), crop))
                scores.append(score)
                if score < VISIBLE:
                    evidence = capture_evidence(to_tensor(crop), model.config)[0]
                    white, slope = float(evidence[:, 1].min()), float(evidence[0, 2])
                    harmed.append((split, entry.id, number, score, white, slope))
        values = np.array(scores)
        visible = int((values < VISIBLE).sum())
        print(f"{split:<12}{len(values):>7}{values.mean():>8.1f}{values.min():>8.1f}{visible:>10}")
    if harmed:
        print("\ncrops Auto changes visibly (shelf white 1 and slope 1: the network's own correction)")
        for split, photo, number, score, white, slope in harmed:
            print(f"  {split:<11}{photo:<26} crop {number}  {score:5.1f} dB shelf white {white:.2f} slope {slope:.2f}")


if __name__ == "__main__":
    main()
