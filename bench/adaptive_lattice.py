"""Which lattice should Auto build a photo's LUT on? The shipped Auto's correction is analytic (no learned LUTs),
so it can be sampled on any lattice; this prints its PSNR to the clean photo per fault kind with the LUT built on
each side given (training stays on the model's `lut_size`). The validation split by default: the choice of
`ModelConfig.apply_size` was made on it.

    python bench/adaptive_lattice.py [--split validation] [--sizes 33 65 129] [--variants 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[33, 65, 129])
    parser.add_argument("--variants", type=int, default=2, help="random amounts per fault kind and photo")
    parser.add_argument("--side", type=int, default=512, help="long side the photos are scored at")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    import torch

    from engine import corpus
    from engine.adaptive.data import SyntheticPairs
    from engine.adaptive.infer import load_model, predict_lut
    from engine.adaptive.model import AdaptiveLUT
    from engine.adaptive.synthetic import FAULT_KINDS, auto
    from engine.color import psnr
    from engine.image import shrink_by_blocks
    from engine.lut import apply_lut
    from engine.presets import find_preset

    torch.set_num_threads(args.threads)
    shipped = load_model(find_preset("Auto"))
    models = {}
    for size in args.sizes:
        model = AdaptiveLUT(dataclasses.replace(shipped.config, apply_size=size))
        model.load_state_dict(shipped.state_dict())
        models[size] = model.eval()
    photos = [shrink_by_blocks(p, args.side) for p in corpus.load_split(args.split)]
    per_kind = {**{kind: args.variants for kind in FAULT_KINDS}, "clean": 1}
    table: dict[str, dict[int, list[float]]] = {}
    for photo in photos:
        for kind, faulty, clean in SyntheticPairs([photo], auto).fault_set(args.seed, per_kind):
            for size, model in models.items():
                score = min(99.0, psnr(apply_lut(faulty, predict_lut(model, faulty)), clean))  # 99: identical
                table.setdefault(kind, {}).setdefault(size, []).append(score)
    print(f"Auto on the corpus {args.split} photos ({len(photos)}), PSNR to the clean photo (dB) by LUT lattice")
    print(f"{'fault':<18}" + "".join(f"{f'{size}^3':>10}" for size in args.sizes))
    for kind, row in table.items():
        print(f"{kind:<18}" + "".join(f"{np.mean(row[size]):>10.2f}" for size in args.sizes))
    faults = [kind for kind in table if kind != "clean"]
    print(
        f"{'all faults':<18}" + "".join(f"{np.mean([np.mean(table[k][s]) for k in faults]):>10.2f}" for s in args.sizes)
    )


if __name__ == "__main__":
    main()
