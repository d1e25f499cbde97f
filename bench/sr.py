"""LUT super-resolution benchmark: quality on held-out photos, table sizes, speed and peak memory.

    python bench/sr.py [--repeat 3] [--skip-quality]

Quality: Y-PSNR (BT.601, border crop = scale, HR mod-cropped, LR by antialiased bicubic
downscaling) of bicubic, SR-LUT, SR-LUT + filter refinement, MuLUT and EC-LUT on the photos held out of
training (chelsea, coffee).
Speed: a 750x1000 RGB photo upscaled x4 to 3000x4000, each method in its own subprocess (best of
--repeat runs; peak RSS of that process, and its RSS before the work: interpreter, libraries,
input and table), with Pillow's bicubic resize as the reference in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._measure import rss_mb, run_json  # noqa: E402
from engine.sr.infer import load_table, shipped_table_path  # noqa: E402

MODELS = ("srlut", "srlut-filter", "mulut", "eclut")
SPEED_SIZE = (750, 1000)  # LR height, width -> 3000 x 4000 at x4


def _write_speed_input(path: Path) -> None:
    """The 1000x750 photo every child reads (made once here, so no child pays for scikit-image/Pillow)."""
    import skimage.data
    from PIL import Image

    image = Image.fromarray(skimage.data.astronaut()).resize(SPEED_SIZE[::-1], Image.BICUBIC)
    np.save(path, np.asarray(image))


def child(method: str, repeat: int, path: str, input_path: str) -> None:
    """Run one method `repeat` times in this process; print seconds (best) and peak RSS as JSON."""
    image = np.load(input_path)
    if method == "pillow":
        from PIL import Image

        def work() -> np.ndarray:
            return np.asarray(Image.fromarray(image).resize((4000, 3000), Image.BICUBIC))

        baseline_mb = rss_mb("VmHWM")
    else:
        from engine.image import Photo
        from engine.sr.infer import load_table, upscale_photo, upscale_uint8

        table = load_table(Path(path))
        _ = table.terms  # the permuted tables are part of the model's memory
        photo = Photo(image / np.float32(255))
        baseline_mb = rss_mb("VmHWM")
        if method.endswith("-float"):

            def work() -> np.ndarray:
                return upscale_photo(photo, table).pixels
        else:

            def work() -> np.ndarray:
                return upscale_uint8(image, table)

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - start)
        del out
    peak_mb = rss_mb("VmHWM")
    print(json.dumps({"seconds": min(times), "peak_mb": peak_mb, "baseline_mb": baseline_mb}))


def run_child(method: str, repeat: int, input_path: Path, path: Path | None = None) -> dict:
    command = [__file__, "--child", method, "--repeat", str(repeat), "--path", str(path or "")]
    command += ["--input", str(input_path)]
    return run_json(*command)


def quality_table(names: tuple[str, ...]) -> None:
    from engine.sr.infer import upscale_uint8
    from engine.sr.metrics import bicubic_upscale, make_pair, y_psnr
    from engine.sr.train import sample_photo_arrays

    photos = dict(zip(names, sample_photo_arrays(names), strict=True))
    print(f"\nY-PSNR (dB) on {', '.join(names)} (BT.601 Y, border = scale)")
    header = f"{'scale':>5} {'photo':<17} {'bicubic':>8}" + "".join(f" {m:>12} {'gain':>6}" for m in MODELS)
    print(header)
    print("-" * len(header))
    for scale in (2, 4):
        tables = {m: load_table(shipped_table_path(m, scale)) for m in MODELS if shipped_table_path(m, scale).exists()}
        sums: dict[str, list[float]] = {"bicubic": [], **{m: [] for m in tables}}
        for name, photo in photos.items():
            hr, lr = make_pair(photo, scale)
            base = y_psnr(hr, bicubic_upscale(lr, scale), scale)
            sums["bicubic"].append(base)
            row = f"{scale:>5} {name:<17} {base:8.2f}"
            for model in MODELS:
                if model not in tables:
                    row += f" {'-':>12} {'-':>6}"
                    continue
                value = y_psnr(hr, upscale_uint8(lr, tables[model]), scale)
                sums[model].append(value)
                row += f" {value:12.2f} {value - base:+6.2f}"
            print(row)
        mean = np.mean(sums["bicubic"])
        row = f"{scale:>5} {'mean':<17} {mean:8.2f}"
        for model in MODELS:
            row += f" {np.mean(sums[model]):12.2f} {np.mean(sums[model]) - mean:+6.2f}" if model in tables else ""
        print(row)


def size_table() -> None:
    print("\nTables")
    print(f"{'model':<16} {'shape':<18} {'entries':>10} {'raw KiB':>8} {'file KiB':>9}")
    for model in MODELS:
        for scale in (2, 4):
            path = shipped_table_path(model, scale)
            if not path.exists():
                continue
            loaded = load_table(path)
            arrays = [loaded.table] + ([loaded.refinement.filters] if loaded.refinement else [])
            shape = " + ".join("x".join(map(str, a.shape)) for a in arrays)
            entries, raw = sum(a.size for a in arrays), loaded.table.nbytes + 4 * sum(a.size for a in arrays[1:])
            print(
                f"{model + f' x{scale}':<16} {shape:<18} {entries:>10,} {raw / 1024:8.0f} "
                f"{path.stat().st_size / 1024:9.0f}"
            )


def speed_table(repeat: int) -> None:
    print(f"\nx4 upscale 1000x750 -> 4000x3000 RGB, best of {repeat}, {os.cpu_count()} cores; own process each")
    print(f"{'method':<28} {'seconds':>8} {'vs Pillow':>10} {'peak MB':>8} {'(before MB)':>11}")
    with tempfile.TemporaryDirectory() as folder:
        input_path = Path(folder) / "input.npy"
        _write_speed_input(input_path)
        pillow = run_child("pillow", repeat, input_path)
        rows = [("Pillow bicubic", pillow)]
        for model in MODELS:
            path = shipped_table_path(model, 4)
            if path.exists():
                rows.append((f"{model} uint8", run_child(model, repeat, input_path, path)))
                rows.append((f"{model} Photo float32", run_child(f"{model}-float", repeat, input_path, path)))
    for label, result in rows:
        ratio = result["seconds"] / pillow["seconds"]
        print(
            f"{label:<28} {result['seconds']:8.2f} {ratio:9.1f}x {result['peak_mb']:8.0f} {result['baseline_mb']:11.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--quality-only", action="store_true", help="only the Y-PSNR table")
    parser.add_argument("--photos", nargs="+", default=None,
                        help="scikit-image photos to score (default: the held-out ones, chelsea and coffee)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", default="", help=argparse.SUPPRESS)
    parser.add_argument("--input", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat, args.path, args.input)
        return 0
    if not args.skip_quality:
        from engine.sr.train import HELD_OUT

        quality_table(tuple(args.photos or HELD_OUT))
    if args.quality_only:
        return 0
    size_table()
    speed_table(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
