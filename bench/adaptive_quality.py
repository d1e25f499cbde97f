"""Proof that the shipped presets adapt: PSNR to the target on held-out photos with random capture faults.

For every shipped look, on the two held-out photos (never seen in training) with random faults:
  identity   the faulty photo itself
  static LUT the best single 3D LUT fitted (same loss, same regularisers) to the same training pairs
  adaptive   the shipped preset: its per-photo LUT, predicted and applied as the app does
Run: python bench/adaptive_quality.py [--variants 6] [--static-steps 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.adaptive.data import SyntheticPairs  # noqa: E402
from engine.adaptive.infer import load_model, predict_lut  # noqa: E402
from engine.adaptive.model import LossWeights, identity_lut, monotonicity, smoothness, trilinear_lookup  # noqa: E402
from engine.adaptive.synthetic import HELD_OUT_PHOTOS, LOOKS, TRAINING_PHOTOS, bundled_photo  # noqa: E402
from engine.color import psnr  # noqa: E402
from engine.lut import LUT3D, apply_lut  # noqa: E402
from engine.presets import find_preset  # noqa: E402


def fit_static_lut(source: SyntheticPairs, size: int, steps: int, seed: int = 0) -> LUT3D:
    """One LUT for every photo, fitted on the training distribution (the best a static preset can do)."""
    rng = np.random.default_rng(seed)
    lut = torch.nn.Parameter(identity_lut(size).unsqueeze(0))
    optimizer = torch.optim.Adam([lut], lr=2e-3)
    reg = LossWeights()  # the presets' own regularisers
    for _ in range(steps):
        inputs, targets = source.batch(rng, 8)
        out = trilinear_lookup(lut.expand(inputs.shape[0], -1, -1, -1, -1), inputs)
        loss = torch.mean((out - targets) ** 2) + reg.smooth * smoothness(lut) + reg.monotone * monotonicity(lut)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return LUT3D(lut.detach()[0].permute(1, 2, 3, 0).clamp(0, 1).numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=6, help="random faults per held-out photo")
    parser.add_argument("--static-steps", type=int, default=600)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=[], help="preset names to measure (default: every look)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_photos = [bundled_photo(n) for n in TRAINING_PHOTOS]
    held_out = [bundled_photo(n) for n in HELD_OUT_PHOTOS]
    print(f"held-out photos: {', '.join(HELD_OUT_PHOTOS)}; {args.variants} random fault sets each "
          f"(exposure +-1.5 EV, white balance, contrast, saturation); PSNR to the look's target, dB\n")
    header = (f"{'preset':<15} {'identity':>9} {'static LUT':>11} {'adaptive':>9} {'adaptive - static':>18} "
              f"{'ms/photo':>9}")
    print(header)
    print("-" * len(header))
    for look in (look for look in LOOKS if not args.only or look.name in args.only):
        preset = find_preset(look.name)
        model = load_model(preset)
        static = fit_static_lut(SyntheticPairs(train_photos, look.transform, 128), model.config.lut_size,
                                args.static_steps)
        scores = {"identity": [], "static": [], "adaptive": []}
        seconds = []
        for faulty, target in SyntheticPairs(held_out, look.transform).fixed_pairs(seed=2024, variants=args.variants):
            scores["identity"].append(psnr(faulty, target))
            scores["static"].append(psnr(apply_lut(faulty, static), target))
            started = time.perf_counter()
            adapted = apply_lut(faulty, predict_lut(model, faulty))
            seconds.append(time.perf_counter() - started)
            scores["adaptive"].append(psnr(adapted, target))
        mean = {k: float(np.mean(v)) for k, v in scores.items()}
        print(f"{look.name:<15} {mean['identity']:>9.2f} {mean['static']:>11.2f} {mean['adaptive']:>9.2f} "
              f"{mean['adaptive'] - mean['static']:>+18.2f} {1000 * np.median(seconds):>9.0f}")


if __name__ == "__main__":
    main()
