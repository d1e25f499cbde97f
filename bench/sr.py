"""LUT super-resolution benchmark: quality on held-out photos, table sizes, speed and peak memory.

    python bench/sr.py [--repeat 3] [--skip-quality] [--quality-only] [--scales 2 4] [--photos NAME ...]
                       [--speed-models srlut-filter ...] [--uint8-only]

Quality, at x2 and x4: Y-PSNR and SSIM (BT.601 Y, border crop = scale, HR mod-cropped, LR by antialiased
bicubic downscaling, `engine.sr.metrics`) of the baselines -- MATLAB-style bicubic (the reference every
gain is measured against), Pillow's bicubic and Lanczos -- and of each shipped model, on the real-photo
corpus's test split (`engine.corpus`; no table, filter or setting was chosen on it), with the two
photos held out since the first models (chelsea, coffee; both in that split) summarised on their own.
Without a built corpus, or with --photos, scikit-image's photos of those names are scored instead.
Speed: a 750x1000 RGB photo upscaled x4 to 3000x4000, each method in its own subprocess (best of
--repeat runs, wall and CPU seconds (all threads: on a shared machine the wall clock also counts others'
work); peak RSS of that process, and its RSS before the work: interpreter, libraries, input and table),
with Pillow's bicubic resize as the reference in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._measure import rss_mb, run_json  # noqa: E402
from engine.sr.infer import MODEL_NAMES, load_table, shipped_table_path  # noqa: E402

MODELS = MODEL_NAMES  # the default first
OLD_HELD_OUT = ("skimage-chelsea", "skimage-coffee")  # the corpus ids of scikit-image's chelsea and coffee
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

    times, cpu_times = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        out = work()
        times.append(time.perf_counter() - start)
        cpu_times.append(_cpu_seconds() - cpu_start)
        del out
    peak_mb = rss_mb("VmHWM")
    print(
        json.dumps(
            {"seconds": min(times), "cpu_seconds": min(cpu_times), "peak_mb": peak_mb, "baseline_mb": baseline_mb}
        )
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: what the work costs on a shared machine, where the
    wall clock also counts other people's jobs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(method: str, repeat: int, input_path: Path, path: Path | None = None) -> dict:
    command = [__file__, "--child", method, "--repeat", str(repeat), "--path", str(path or "")]
    command += ["--input", str(input_path)]
    return run_json(*command)


def _photos(names: tuple[str, ...] | None) -> tuple[str, dict[str, np.ndarray]]:
    """(what they are, {name: float RGB}): the corpus test split, or scikit-image photos by name."""
    from engine.image import sample_photo

    if names is None:
        from engine.corpus import CorpusError, load_manifest, load_split

        try:
            manifest = load_manifest()
            ids = [photo.id for photo in manifest.split("test")]
            return "real-photo corpus test split", dict(zip(ids, load_split("test", manifest=manifest), strict=True))
        except CorpusError as exc:
            print(f"(corpus not available: {exc}; scoring scikit-image's chelsea and coffee)")
            names = ("chelsea", "coffee")
    return "scikit-image photos", {name: sample_photo(name).pixels for name in names}


def _pillow_upscale(lr: np.ndarray, scale: int, method: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(lr).resize((lr.shape[1] * scale, lr.shape[0] * scale), method))


def quality_table(names: tuple[str, ...] | None, scales: tuple[int, ...] = (2, 4)) -> None:
    from PIL import Image

    from engine.sr.infer import upscale_uint8
    from engine.sr.metrics import bicubic_upscale, make_pair, y_psnr, y_ssim

    what, photos = _photos(names)
    baselines = {
        "bicubic": lambda lr, s: bicubic_upscale(lr, s),
        "PIL bicubic": lambda lr, s: _pillow_upscale(lr, s, Image.BICUBIC),
        "PIL Lanczos": lambda lr, s: _pillow_upscale(lr, s, Image.LANCZOS),
    }
    for scale in scales:
        tables = {m: load_table(shipped_table_path(m, scale)) for m in MODELS if shipped_table_path(m, scale).exists()}
        methods = [*baselines, *tables]
        psnrs: dict[str, list[float]] = {m: [] for m in methods}
        ssims: dict[str, list[float]] = {m: [] for m in methods}
        for photo in photos.values():
            hr, lr = make_pair(photo, scale)
            for method in methods:
                out = baselines[method](lr, scale) if method in baselines else upscale_uint8(lr, tables[method])
                psnrs[method].append(y_psnr(hr, out, scale))
                ssims[method].append(y_ssim(hr, out, scale))
        old = [i for i, name in enumerate(photos) if name in OLD_HELD_OUT]
        _print_scores(
            f"x{scale} Y-PSNR (dB) on the {what}; models as the gain over bicubic", photos, psnrs, old, gains=True
        )
        _print_scores(f"x{scale} SSIM (Y) on the {what}", photos, ssims, old, gains=False)


def _print_scores(title: str, photos: dict, scores: dict[str, list[float]], old: list[int], *, gains: bool) -> None:
    methods = list(scores)
    print(f"\n{title}")
    header = f"{'photo':<20}" + "".join(f" {m:>12}" for m in methods)
    print(header)
    print("-" * len(header))
    base = np.array(scores["bicubic"])

    def row(label: str, pick) -> str:
        text = f"{label:<20}"
        for method in methods:
            values = np.array(scores[method])
            if gains and method not in ("bicubic", "PIL bicubic", "PIL Lanczos"):
                text += f" {pick(values - base):+12.2f}"
            elif gains:
                text += f" {pick(values):12.2f}"
            else:
                text += f" {pick(values):12.4f}"
        return text

    for i, name in enumerate(photos):
        print(row(name, lambda v, i=i: v[i]))
    print(row("mean", np.mean))
    if gains:
        print(row("lowest", np.min))
    if old and len(old) < len(photos):
        print(row("mean chelsea+coffee", lambda v: np.mean(v[old])))
    if gains:  # the strongest simple fix a user has: each model's mean gain over Pillow's Lanczos
        lanczos = np.array(scores["PIL Lanczos"])
        text = f"{'mean vs PIL Lanczos':<20}" + " " * 13 * 3
        text += "".join(f" {np.mean(np.array(scores[m]) - lanczos):+12.2f}" for m in methods[3:])
        print(text)


def size_table() -> None:
    print("\nTables")
    print(f"{'model':<16} {'shape':<28} {'entries':>10} {'raw KiB':>8} {'file KiB':>9}")
    for model in MODELS:
        for scale in (2, 4):
            path = shipped_table_path(model, scale)
            if not path.exists():
                continue
            loaded = load_table(path)
            tables = ([loaded.pre.table] if loaded.pre is not None else []) + [loaded.table]  # int8
            filters = [loaded.refinement.filters] if loaded.refinement else []  # int32
            shape = " + ".join("x".join(map(str, a.shape)) for a in tables + filters)
            entries = sum(a.size for a in tables + filters)
            raw = sum(a.nbytes for a in tables) + 4 * sum(a.size for a in filters)
            print(
                f"{model + f' x{scale}':<16} {shape:<28} {entries:>10,} {raw / 1024:8.0f} "
                f"{path.stat().st_size / 1024:9.0f}"
            )


def speed_table(repeat: int, models: tuple[str, ...] = MODELS, float_path: bool = True) -> None:
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nx4 upscale 1000x750 -> 4000x3000 RGB, best of {repeat}, {os.cpu_count()} cores; own process each")
    print(f"load average before (1 / 5 / 15 min): {load}")
    print("seconds: wall time of the upscale call alone (interpreter start, imports, reading the input and loading")
    print("the table are not counted; CPU s: all threads' CPU time of that call)")
    print(f"{'method':<28} {'seconds':>8} {'CPU s':>6} {'vs Pillow':>10} {'peak MB':>8} {'(before MB)':>11}")
    with tempfile.TemporaryDirectory() as folder:
        input_path = Path(folder) / "input.npy"
        _write_speed_input(input_path)
        pillow = run_child("pillow", repeat, input_path)
        rows = [("Pillow bicubic", pillow)]
        for model in models:
            path = shipped_table_path(model, 4)
            if path.exists():
                rows.append((f"{model} uint8", run_child(model, repeat, input_path, path)))
                if float_path:
                    rows.append((f"{model} Photo float32", run_child(f"{model}-float", repeat, input_path, path)))
    for label, result in rows:
        ratio = result["seconds"] / pillow["seconds"]
        print(
            f"{label:<28} {result['seconds']:8.2f} {result['cpu_seconds']:6.2f} {ratio:9.1f}x {result['peak_mb']:8.0f} "
            f"{result['baseline_mb']:11.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--quality-only", action="store_true", help="only the Y-PSNR table")
    parser.add_argument("--scales", type=int, nargs="+", choices=(2, 4), default=(2, 4), help="quality at these scales")
    parser.add_argument(
        "--photos",
        nargs="+",
        default=None,
        help="scikit-image photos to score (engine.image.SAMPLE_PHOTOS; default: the real-photo corpus's test split)",
    )
    parser.add_argument("--speed-models", nargs="+", choices=MODELS, default=MODELS, help="models timed (default all)")
    parser.add_argument("--uint8-only", action="store_true", help="time only the uint8 path, not Photo float32")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", default="", help=argparse.SUPPRESS)
    parser.add_argument("--input", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat, args.path, args.input)
        return 0
    if not args.skip_quality:
        quality_table(tuple(args.photos) if args.photos else None, tuple(args.scales))
    if args.quality_only:
        return 0
    size_table()
    speed_table(args.repeat, tuple(args.speed_models), not args.uint8_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
