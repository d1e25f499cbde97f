"""Low-light benchmark: quality on held-out synthetic pairs, then time and peak memory at 12 MP.

    python bench/lowlight.py [--model W.safetensors] [--threads 2] [--skip-12mp]

Quality: PSNR / SSIM to the clean photo on the held-out photos (never trained on), each shot at two
light levels with shot + read noise (engine.lowlight.data.held_out_pairs). Rows: the dark input, two
plain baselines that brighten to the same mean as the model's auto exposure (so they differ in how,
not how much), the nets on every pixel, and the fast path; then the paper's fixed output
I = L**0.2 * R for reference. Once at the photos' own size, once enlarged 3x before darkening.

Speed: each measurement runs in a fresh subprocess on a 4000 x 3000 dark photo and reports the wall
time of the enhancement alone and the process's peak RSS (torch included).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._measure import run_json  # noqa: E402
from engine.color import psnr  # noqa: E402
from engine.lowlight.data import held_out_pairs  # noqa: E402
from engine.lowlight.infer import AUTO_TARGET_MEAN  # noqa: E402


def gamma_to_mean(image: np.ndarray, target: float = AUTO_TARGET_MEAN) -> np.ndarray:
    """Baseline: one global power curve image**g with g chosen (bisection) so the mean hits `target`."""
    low, high = 0.02, 1.0
    for _ in range(40):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if np.mean(image**middle) > target else (low, middle)
    return (image ** (0.5 * (low + high))).astype(np.float32)


def auto_levels(image: np.ndarray) -> np.ndarray:
    """Baseline: stretch the 0.5..99.5 % range of all channels to 0..1, then a gamma to the same mean."""
    low, high = np.percentile(image, [0.5, 99.5])
    return gamma_to_mean(np.clip((image - low) / max(high - low, 1e-6), 0, 1).astype(np.float32))


def enlarged_pairs(factor: int = 3) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The held-out photos enlarged (bicubic) before darkening: 1-2 MP frames with pixel-level noise.

    Closer to what the fast path meets in a large photo: soft content per pixel, noise per pixel, so
    the nets' working copy is a real reduction (here ~2-2.6x per side) of a noisy full-size frame.
    """
    from skimage.transform import rescale

    from engine.lowlight.data import HELD_OUT_LIGHTS, HELD_OUT_PHOTOS, darken, sample_photo_pixels

    rng = np.random.default_rng(2023)
    pairs = []
    for name in HELD_OUT_PHOTOS:
        clean = np.clip(rescale(sample_photo_pixels(name), factor, order=3, channel_axis=2), 0, 1).astype(np.float32)
        for light in HELD_OUT_LIGHTS:
            pairs.append((f"{name}x{factor} 1/{round(1 / light.exposure)}", clean, darken(clean, light, rng)))
    return pairs


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0))


def quality_tables(model_path: Path | None) -> None:
    from engine.lowlight.infer import enhance, enhance_full, shipped_model
    from engine.lowlight.model import load_model

    model = load_model(model_path)[0] if model_path else shipped_model()
    methods = {
        "input (dark)": lambda dark: dark,
        "gamma to mean (baseline)": gamma_to_mean,
        "auto-levels + gamma (baseline)": auto_levels,
        "PairLIE full-res nets, auto exposure": lambda dark: enhance_full(dark, model),
        "PairLIE fast path, auto exposure": lambda dark: enhance(dark, model),
        "paper's I = L^0.2 R, full-res nets": lambda dark: enhance_full(dark, model, gamma=0.2, exposure=1.0),
        "paper's I = L^0.2 R, fast path": lambda dark: enhance(dark, model, gamma=0.2, exposure=1.0),
    }
    print(f"PSNR dB / SSIM to the clean photo; baselines and auto exposure aim at mean {AUTO_TARGET_MEAN}")
    print("\nHeld-out photos at their own size (below the fast path's work size: no reduction happens)")
    quality_table(held_out_pairs(), methods)
    print("\nHeld-out photos enlarged 3x, then darkened (the fast path works on a ~1.7-3x smaller copy)")
    quality_table(enlarged_pairs(), methods)


def quality_table(pairs: list[tuple[str, np.ndarray, np.ndarray]], methods: dict) -> None:
    labels = [label for label, _, _ in pairs]
    header = f"{'method':38s}" + "".join(f"{label:>16s}" for label in labels) + f"{'mean':>16s}"
    print(header)
    print("-" * len(header))
    for name, method in methods.items():
        cells, psnrs, ssims = [], [], []
        for _, clean, dark in pairs:
            out = method(dark)
            psnrs.append(psnr(out, clean))
            ssims.append(ssim(out, clean))
            cells.append(f"{psnrs[-1]:6.2f} / {ssims[-1]:.3f}")
        mean = f"{np.mean(psnrs):6.2f} / {np.mean(ssims):.3f}"
        print(f"{name:38s}" + "".join(f"{cell:>16s}" for cell in cells) + f"{mean:>16s}")


CHILD = """
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads({threads})
from engine.lowlight.data import held_out_pairs
from engine.lowlight.infer import enhance, enhance_full, shipped_model
from engine.lowlight.model import load_model
model = load_model({model!r})[0] if {model!r} else shipped_model()
_, _, dark = held_out_pairs()[0]
reps = (-(-{height} // dark.shape[0]), -(-{width} // dark.shape[1]), 1)
photo = np.ascontiguousarray(np.tile(dark, reps)[:{height}, :{width}])
start, cpu_start = time.perf_counter(), time.process_time()
out = {call}
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_mb}}))
"""


def measure(call: str, height: int, width: int, threads: int, model_path: Path | None) -> dict:
    code = CHILD.format(call=call, height=height, width=width, threads=threads, model=str(model_path or ""))
    return run_json("-c", code)


def speed_table(threads: int, model_path: Path | None) -> None:
    print(f"\nTime of the enhancement alone and peak RSS of the whole process ({threads} torch threads)")
    print("(CPU seconds: summed over threads; on a busy shared machine wall seconds exceed CPU / threads)")
    print(f"{'method':44s}{'size':>12s}{'seconds':>10s}{'CPU s':>10s}{'peak MB':>10s}")
    rows = [
        ("fast path", "enhance(photo, model)", 3000, 4000),
        ("full-res nets (tiled)", "enhance_full(photo, model)", 1000, 1000),
    ]
    results = {}
    for name, call, height, width in rows:
        results[name] = measure(call, height, width, threads, model_path)
        r = results[name]
        print(f"{name:44s}{f'{width}x{height}':>12s}{r['seconds']:10.2f}{r['cpu_seconds']:10.2f}{r['peak_mb']:10.0f}")
    projected = results["full-res nets (tiled)"]["seconds"] * 12
    fast = results["fast path"]["seconds"]
    print(f"{'full-res nets projected to 12 MP (x12)':44s}{'4000x3000':>12s}{projected:10.1f}{'':>10s}")
    print(f"fast path speed-up at 12 MP: {projected / fast:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-12mp", action="store_true", help="quality tables only")
    parser.add_argument("--skip-quality", action="store_true", help="time and memory only")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    if not args.skip_quality:
        quality_tables(args.model)
    if not args.skip_12mp:
        speed_table(args.threads, args.model)
    print(f"\n(bench ran {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
