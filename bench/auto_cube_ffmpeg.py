"""Auto's exported .cube under ffmpeg's defaults: `lutlab enhance --cube` beside `ffmpeg -vf lut3d=FILE`.

For each corpus photo (test split by default) with a capture fault (so the photo's LUT is not the identity),
`lutlab enhance --preset Auto --cube` writes the corrected photo and the photo's LUT; ffmpeg applies that
.cube to the same faulty photo with its default lut3d options. The table prints the mean and largest
difference between the two 8-bit results, in levels (1 level = 1/255).

    python bench/auto_cube_ffmpeg.py [--split test] [--side 1024]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("exposure-under", "white-balance", "contrast-low", "combined")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--side", type=int, default=1024, help="long side of the photos")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        sys.exit("ffmpeg is not installed")
    import imageio.v3 as iio
    import torch

    from engine import corpus
    from engine.adaptive.data import to_tensor
    from engine.adaptive.synthetic import apply_faults
    from engine.image import shrink_by_blocks

    rng = np.random.default_rng(args.seed)
    manifest = corpus.load_manifest()
    ids = [photo.id for photo in manifest.split(args.split)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for photo_id, photo in zip(ids, corpus.load_split(args.split, manifest=manifest), strict=True):
            kind = FAULTS[len(rows) % len(FAULTS)]
            with torch.no_grad():
                faulty = (
                    apply_faults(to_tensor(shrink_by_blocks(photo, args.side)), [kind], rng)[0].permute(1, 2, 0).numpy()
                )
            source, ours, theirs, cube = (
                folder / f"{photo_id}.{name}" for name in ("in.png", "ours.png", "ff.png", "cube")
            )
            iio.imwrite(source, np.round(faulty * 255).astype(np.uint8))
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "main.py"),
                    "enhance",
                    "--preset",
                    "Auto",
                    "--cube",
                    str(cube),
                    str(source),
                    str(ours),
                ],
                check=True,
                capture_output=True,
            )
            quiet = ("-nostdin", "-loglevel", "error", "-y")  # ffmpeg's lut3d with every option at its default
            subprocess.run([ffmpeg, *quiet, "-i", str(source), "-vf", f"lut3d={cube}", str(theirs)], check=True)
            a = iio.imread(ours).astype(np.int16)[..., :3]
            b = iio.imread(theirs).astype(np.int16)[..., :3]
            moved = float(np.abs(a - iio.imread(source).astype(np.int16)).mean())
            diff = np.abs(a - b)
            rows.append((photo_id, kind, moved, float(diff.mean()), int(diff.max())))
    print(f"{'photo':<22}{'fault':<16}{'Auto moved':>11}{'mean diff':>11}{'max diff':>10}   (levels of 255)")
    for photo_id, kind, moved, mean, largest in rows:
        print(f"{photo_id:<22}{kind:<16}{moved:>11.2f}{mean:>11.3f}{largest:>10d}")
    means = [row[3] for row in rows]
    print(f"all: mean diff {np.mean(means):.3f} levels (largest photo mean {max(means):.3f}; target <= 1)")


if __name__ == "__main__":
    main()
