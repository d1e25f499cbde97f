"""Benchmark: our bracket merge (align + exposure fusion) against OpenCV's AlignMTB + MergeMertens(1, 1, 1).

    python bench/merge.py [--megapixels 12] [--repeat 1] [--photo coffee] [--rotate DEG]

Makes a 3-frame bracket from a real photo (scikit-image's coffee, upscaled): linearise, scale by -2/0/+2 EV,
clip, sRGB-encode, save as JPEG (quality 95), with the dark and bright frames taken from windows moved by
known amounts (a handheld bracket; `--rotate` also turns the bright frame by DEG degrees about its centre,
which OpenCV's translation-only AlignMTB cannot follow). Each method runs in a fresh subprocess on the same
files: it reads them (we: float32 photos, OpenCV: 8-bit arrays, each its native input), resets the kernel's
peak-RSS mark, then aligns and merges; the table gives that time (best of --repeat), the ratio to OpenCV, the
peak resident memory during the call and the memory held before it. Quality is MEF-SSIM (Ma, Zeng, Wang 2015) of each
output against the unmoved frames (what a tripod would have shot), on the interior both cover; shifts are
compared with the known ones. OpenCV's output is clipped to [0, 1] like ours.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._measure import reset_peak_rss, rss_mb, run_json  # noqa: E402

OUT = ROOT / "bench" / "out" / "merge"
EVS = (-2.0, 0.0, 2.0)
SHIFTS = ((7, -11), (0, 0), (-5, 9))  # (dy, dx) that lays each frame on the middle one
NAMES = ("under", "middle", "over")
MARGIN = 32


def make_bracket(megapixels: float, photo: str, rotate: float = 0.0) -> None:
    """Write the moved bracket (under/middle/over.jpg) and the unmoved one (still_*.jpg) to bench/out/merge."""
    import cv2

    from engine.color import linear_to_srgb, srgb_to_linear
    from engine.image import Photo, sample_photo, save_photo

    source = sample_photo(photo).pixels
    height = int(round((megapixels * 1e6 * source.shape[0] / source.shape[1]) ** 0.5))
    width = int(round(height * source.shape[1] / source.shape[0]))
    scene = cv2.resize(source, (width + 2 * MARGIN, height + 2 * MARGIN), interpolation=cv2.INTER_CUBIC)
    linear = srgb_to_linear(np.clip(scene, 0.0, 1.0))
    del scene
    OUT.mkdir(parents=True, exist_ok=True)
    for name, ev, (dy, dx) in zip(NAMES, EVS, SHIFTS, strict=True):
        encoded = linear_to_srgb(np.clip(linear * np.float32(2.0**ev), 0.0, 1.0))
        still = encoded[MARGIN : MARGIN + height, MARGIN : MARGIN + width]
        if rotate and name == NAMES[-1]:
            centre = (MARGIN + dx + (width - 1) / 2.0, MARGIN + dy + (height - 1) / 2.0)
            turn = cv2.getRotationMatrix2D(centre, rotate, 1.0)
            encoded = cv2.warpAffine(encoded, turn, encoded.shape[1::-1], flags=cv2.INTER_CUBIC)
        moved = encoded[MARGIN + dy : MARGIN + dy + height, MARGIN + dx : MARGIN + dx + width]
        save_photo(Photo(np.ascontiguousarray(moved)), OUT / f"{name}.jpg")
        save_photo(Photo(np.ascontiguousarray(still)), OUT / f"still_{name}.jpg")


def child(method: str, repeat: int) -> dict:
    """In a fresh process: read the bracket, reset the peak-RSS mark, time align + merge, save the result."""
    paths = [OUT / f"{name}.jpg" for name in NAMES]
    if method == "opencv":
        import cv2

        images = [cv2.imread(str(p)) for p in paths]

        def call():
            aligned = [image.copy() for image in images]  # AlignMTB writes into the arrays it is given
            cv2.createAlignMTB().process(images, aligned)
            return np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process(aligned), 0.0, 1.0)[:, :, ::-1]

        def shifts():
            align = cv2.createAlignMTB()
            grey = [cv2.cvtColor(i, cv2.COLOR_BGR2GRAY) for i in images]
            return [tuple(int(v) for v in align.calculateShift(grey[1], g))[::-1] for g in grey]
    else:
        from engine.fusion.merge import MergeOptions, merge_photos
        from engine.image import load_photo

        photos = [load_photo(p) for p in paths]
        options = MergeOptions(deghost=method == "ours-deghost")
        found = []

        def call():
            result = merge_photos(photos, options)
            found[:] = [(s.dy, s.dx, s.angle) for s in result.shifts]
            return result.photo.pixels

        def shifts():
            return found

    reset_peak_rss()  # measure the call, not reading the files
    before = rss_mb("VmRSS")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - start)
    peak = rss_mb("VmHWM")
    np.save(OUT / f"result_{method}.npy", np.ascontiguousarray(output, dtype=np.float32))
    return {"seconds": min(times), "peak_mb": peak, "before_mb": before, "shifts": shifts()}


def measure(method: str, repeat: int) -> dict:
    return run_json(__file__, "--child", method, str(repeat))


def quality(method: str) -> float:
    from engine.fusion.quality import mef_ssim
    from engine.image import load_photo

    sources = [load_photo(OUT / f"still_{name}.jpg").pixels for name in NAMES]
    fused = np.load(OUT / f"result_{method}.npy")
    border = MARGIN  # beyond the largest shift: both methods' edge handling stays out of the score
    inner = (slice(border, -border), slice(border, -border))
    return mef_ssim([s[inner] for s in sources], fused[inner]).score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--photo", default="coffee", help="scikit-image sample photo (default coffee)")
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEG", help="also turn the bright frame")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, repeat = args.child
        print(json.dumps(child(method, int(repeat))))
        return

    make_bracket(args.megapixels, args.photo, args.rotate)
    methods = {"opencv": "OpenCV AlignMTB+Mertens", "ours": "LUTLab merge", "ours-deghost": "LUTLab merge --deghost"}
    rows = {method: measure(method, args.repeat) for method in methods}
    scores = {method: quality(method) for method in methods}
    reference = rows["opencv"]
    from engine.image import load_photo

    size = load_photo(OUT / "middle.jpg").pixels.shape
    print(
        f"3-frame bracket (-2/0/+2 EV, JPEG q95) of {args.photo} at {size[1]} x {size[0]} "
        f"({size[0] * size[1] / 1e6:.1f} MP); known shifts {list(SHIFTS)}"
        f"{f', bright frame turned {args.rotate:g} deg' if args.rotate else ''}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat}"
    )
    print(
        f"{'method':<24} {'time s':>7} {'vs OpenCV':>9} {'peak RSS MB':>11} {'(before)':>9} "
        f"{'MEF-SSIM':>8} {'max shift err px':>16} {'turn deg':>8}"
    )
    for method, title in methods.items():
        row = rows[method]
        error = max(abs(f - k) for pair in zip(row["shifts"], SHIFTS, strict=True) for f, k in zip(*pair, strict=False))
        turn = f"{row['shifts'][-1][2]:.2f}" if len(row["shifts"][-1]) > 2 else "-"
        print(
            f"{title:<24} {row['seconds']:>7.2f} {row['seconds'] / reference['seconds']:>8.2f}x "
            f"{row['peak_mb']:>11.0f} {row['before_mb']:>9.0f} {scores[method]:>8.4f} {error:>16d} {turn:>8}"
        )


if __name__ == "__main__":
    main()
