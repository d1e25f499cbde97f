"""Does Auto fix real photos, and leave good ones alone? Measured on the corpus *test* photos (never trained on,
never used for any choice), per fault type and on the clean photos, beside simple and oracle baselines.

For every test photo (area-downscaled to --side) and every fault kind of `engine.adaptive.synthetic`
(exposure under/over, white balance incl. green/magenta, contrast low/high, saturation low/high, combined;
--variants random amounts each) plus the clean photo itself, each method's output is scored against the clean
photo by PSNR (dB, higher is closer) and mean CIEDE2000 (lower is closer). For each clean photo it also prints
the amounts Auto's network adds along each physical direction (a good photo should get about 0):

  untouched     the faulty photo itself
  grey-world    channel means equalised in linear light, then exposure set so mean luminance is 18 % grey
  autocontrast  Pillow's ImageOps.autocontrast (per-channel histogram stretch)
  CLAHE         OpenCV CLAHE on the L channel of Lab (clip limit 2, 8 x 8 tiles)
  Auto          the shipped Auto preset, predicted and applied as the app does (tetrahedral)
  oracle LUT    the best 17^3 LUT for that very photo (least squares against the clean photo): an upper bound

Then the basis span (share of each ideal correction that Auto's basis LUTs can express over the whole cube,
for every fault direction at the low, middle and high amount of its range), and the looks: each look preset
against its documented target, beside Auto-then-look applied analytically and the untouched input, with the
mean chroma of the output and of the target (Soft Mono must be monochrome). Last, the issue's pass lines.

Run: python bench/adaptive_quality.py [--variants 2] [--side 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METHODS = ("untouched", "grey-world", "autocontrast", "CLAHE", "Auto", "oracle LUT")


# ------------------------------------------------------------------------------------------------ baselines


def grey_world(pixels: np.ndarray) -> np.ndarray:
    from engine.color import linear_to_srgb, luminance, srgb_to_linear

    linear = srgb_to_linear(pixels)
    means = linear.reshape(-1, 3).mean(0) + 1e-6
    linear = linear * (means.mean() / means)
    linear = linear * (0.18 / max(float(luminance(linear).mean()), 1e-6))
    return linear_to_srgb(np.clip(linear, 0.0, 1.0))


def autocontrast(pixels: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageOps

    image = Image.fromarray(np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8))
    return np.asarray(ImageOps.autocontrast(image), np.float32) / 255.0


def clahe(pixels: np.ndarray) -> np.ndarray:
    import cv2

    rgb8 = np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / 255.0


def tetrahedral_weights(pixels: np.ndarray, size: int):
    """(rows, columns, weights) of the sparse matrix that maps a LUT (N^3 lattice values) to each pixel."""
    rgb = np.clip(pixels.reshape(-1, 3).astype(np.float64), 0, 1) * (size - 1)
    corner = np.minimum(np.floor(rgb), size - 2)
    fraction = rgb - corner
    strides = np.array([1, size, size * size])
    base = (corner.astype(np.int64) * strides).sum(1)
    order = np.argsort(-fraction, axis=1, kind="stable")
    ordered = np.take_along_axis(fraction, order, 1)
    steps = strides[order]
    first = base + steps[:, 0]
    second = first + steps[:, 1]
    last = base + strides.sum()
    f1, f2, f3 = ordered[:, 0], ordered[:, 1], ordered[:, 2]
    rows = np.repeat(np.arange(len(rgb)), 4)
    columns = np.stack([base, first, second, last], 1).reshape(-1)
    weights = np.stack([1 - f1, f1 - f2, f2 - f3, f3], 1).reshape(-1)
    return rows, columns, weights


def oracle_lut(faulty: np.ndarray, clean: np.ndarray, size: int = 17, smooth: float = 1e-4):
    """The 17^3 LUT closest to `clean` when applied (tetrahedral) to `faulty`: sparse least squares with a
    small Laplacian pull towards the identity's shape where no pixel constrains the lattice."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    from engine.lut import LUT3D, identity_table

    rows, columns, weights = tetrahedral_weights(faulty, size)
    n = size**3
    count = faulty.shape[0] * faulty.shape[1]
    a = sp.csr_matrix((weights, (rows, columns)), shape=(count, n))
    one = sp.diags([np.ones(size - 1), -np.ones(size - 1)], [0, 1], shape=(size - 1, size))
    eye = sp.identity(size)
    grads = [sp.kron(sp.kron(eye, eye), one), sp.kron(sp.kron(eye, one), eye), sp.kron(sp.kron(one, eye), eye)]
    laplacian = sum(g.T @ g for g in grads)
    identity = identity_table(size).reshape(-1, 3).astype(np.float64)
    lam = smooth * count
    system = (a.T @ a + lam * laplacian).tocsc()
    target = clean.reshape(-1, 3).astype(np.float64)
    table = np.stack([spsolve(system, a.T @ target[:, c] + lam * (laplacian @ identity[:, c])) for c in range(3)], 1)
    return LUT3D(np.clip(table, 0, 1).reshape(size, size, size, 3).astype(np.float32))


# --------------------------------------------------------------------------------------------------- scores


def scores(out: np.ndarray, clean: np.ndarray, clean_lab: np.ndarray) -> tuple[float, float]:
    from skimage.color import deltaE_ciede2000, rgb2lab

    from engine.color import psnr

    return min(psnr(out, clean), 99.0), float(deltaE_ciede2000(clean_lab, rgb2lab(np.clip(out, 0, 1))).mean())


def network_amounts(model, pixels: np.ndarray) -> dict[str, float]:
    """The amounts Auto's network adds for a photo along each physical direction, after the calibration gates
    (the view `predict_lut` predicts from; the shelves and the unflattening are not in them)."""
    import torch

    from engine.adaptive.infer import predictor_view
    from engine.lut.adjust import DIRECTIONS

    with torch.no_grad():
        amounts = model.basis.amounts(model.predict_weights(predictor_view(model, pixels)))[0]
    return {name: float(value) for name, value in zip(DIRECTIONS, amounts, strict=True)}


def chroma(pixels: np.ndarray) -> float:
    """Mean chroma in 8-bit levels: max - min of each pixel's channels (0 for a grey)."""
    return float(np.mean(pixels.max(2) - pixels.min(2))) * 255.0


def ideal_corrections() -> dict[str, list]:
    """For every fault direction, the exact corrections (Adjustments) of its low, middle and high amounts."""
    from engine.adaptive.synthetic import FAULT_RANGES
    from engine.lut.adjust import Adjustments

    out: dict[str, list] = {}
    for kind, ranges in FAULT_RANGES.items():
        if kind == "combined":
            continue
        for name, low, high, signed in ranges:
            for sign in (1.0, -1.0) if signed else (1.0,):
                label = kind if not signed else f"{name} {'+' if sign > 0 else '-'}"
                if name == "tint":
                    label = "tint " + ("green" if sign > 0 else "magenta")
                elif name == "temperature":
                    label = "temperature " + ("warm" if sign > 0 else "cool")
                out[label] = [Adjustments(**{name: -sign * amount}) for amount in (low, (low + high) / 2, high)]
    return out


def basis_span(model) -> dict[str, float]:
    """Per fault direction: the least share (over its low/middle/high amount) Auto's basis can express.

    Physical models: the best weights are fitted (`expressible_share`) with every calibration gate open, i.e.
    what the basis can express; the gates (printed beside) say which directions the shipped Auto then uses."""
    import torch

    from engine.adaptive.model import expressible_share
    from engine.lut import identity_table
    from engine.lut.adjust import span_share

    size = model.config.lut_size
    identity = identity_table(size)
    if model.config.physical:
        gates = model.basis.gates.clone()
        model.basis.gates.fill_(1.0)
        try:
            return {
                label: min(
                    expressible_share(
                        model, torch.from_numpy(adj.apply_reversed(identity) - identity).permute(3, 0, 1, 2)
                    )
                    for adj in adjustments
                )
                for label, adjustments in ideal_corrections().items()
            }
        finally:
            model.basis.gates.copy_(gates)
    basis = model.basis.forward().detach().permute(0, 2, 3, 4, 1).numpy()  # (K, b, g, r, 3)
    if not model.config.compressed:  # legacy plain basis: LUTs, not residuals; LUT0 carries the identity
        basis = basis - identity
    return {
        label: min(span_share(basis, adj.apply(identity) - identity) for adj in adjustments)
        for label, adjustments in ideal_corrections().items()
    }


# ----------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=2, help="random amounts per fault kind and photo")
    parser.add_argument("--side", type=int, default=512, help="long side the test photos are scored at")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle LUT (the slowest column)")
    parser.add_argument(
        "--split",
        default="test",
        choices=("test", "validation"),
        help="corpus split (validation: for choices while developing; the note reports test)",
    )
    args = parser.parse_args()
    import torch
    from skimage.color import rgb2lab

    from engine import corpus
    from engine.adaptive.data import SyntheticPairs, to_tensor
    from engine.adaptive.infer import load_model, preset_lut
    from engine.adaptive.model import capture_evidence
    from engine.adaptive.synthetic import FAULT_KINDS, LOOKS, auto
    from engine.adaptive.train import MAX_PSNR
    from engine.image import shrink_by_blocks
    from engine.lut import apply_lut
    from engine.presets import find_preset

    torch.set_num_threads(args.threads)
    manifest = corpus.load_manifest()
    ids = [photo.id for photo in manifest.split(args.split)]
    photos = [shrink_by_blocks(p, args.side) for p in corpus.load_split(args.split, manifest=manifest)]
    per_kind = {**{kind: args.variants for kind in FAULT_KINDS}, "clean": 1}
    auto_preset = find_preset("Auto")
    unseen = ", never trained on or tuned on" if args.split == "test" else ""
    print(
        f"corpus {args.split} photos ({len(ids)}{unseen}): {', '.join(ids)}; long side {args.side};"
        f" {args.variants} random amount(s) per fault kind; Auto = {auto_preset.json_path}\n"
    )

    methods = [m for m in METHODS if not (args.no_oracle and m == "oracle LUT")]
    table: dict[str, dict[str, list[tuple[float, float]]]] = {}
    clean_by_photo: dict[str, float] = {}
    amounts_by_photo: dict[str, dict[str, float]] = {}
    faults_by_photo: dict[str, dict[str, list[float]]] = {}
    looks = [look for look in LOOKS if look.stem != "auto"]
    look_rows: dict[str, dict[str, list[float]]] = {look.name: {} for look in looks}
    started = time.perf_counter()
    auto_model = load_model(auto_preset)
    auto_config = auto_model.config
    proven: dict[str, list[tuple[bool, bool]]] = {}  # per kind: (a clipped shelf, a flattening) proved a fault?
    for photo_id, photo in zip(ids, photos, strict=True):
        triples = SyntheticPairs([photo], auto).fault_set(args.seed, per_kind)
        clean_lab = rgb2lab(photo)
        for kind, faulty, clean in triples:
            auto_lut = preset_lut(auto_preset, faulty)
            if auto_config.white_patch:
                evidence = capture_evidence(to_tensor(faulty), auto_config)[0]
                shelf = bool((evidence[:, 0] > 0).any() or (evidence[:, 1] < 1).any())
                proven.setdefault(kind, []).append((shelf, bool(evidence[0, 2] < 1)))
            outputs = {
                "untouched": lambda f=faulty: f,
                "grey-world": lambda f=faulty: grey_world(f),
                "autocontrast": lambda f=faulty: autocontrast(f),
                "CLAHE": lambda f=faulty: clahe(f),
                "Auto": lambda f=faulty, lut=auto_lut: apply_lut(f, lut),
                "oracle LUT": lambda f=faulty, c=clean: apply_lut(f, oracle_lut(f, c)),
            }
            for method in methods:
                score = scores(outputs[method](), clean, clean_lab)
                table.setdefault(kind, {}).setdefault(method, []).append(score)
                if kind != "clean":
                    table.setdefault("all faults", {}).setdefault(method, []).append(score)
                    faults_by_photo.setdefault(photo_id, {}).setdefault(method, []).append(score[0])
            if kind == "clean":
                clean_by_photo[photo_id] = table["clean"]["Auto"][-1][0]
                if auto_config.physical:
                    amounts_by_photo[photo_id] = network_amounts(auto_model, clean)
            for look in looks:  # every look on the same faulty photos, against the look of the clean photo
                target = look.transform(to_tensor(clean))[0].permute(1, 2, 0).numpy()
                preset_out = apply_lut(faulty, preset_lut(find_preset(look.name), faulty))
                analytic = look.transform(to_tensor(apply_lut(faulty, auto_lut)))[0].permute(1, 2, 0).numpy()
                row = look_rows[look.name]
                for key, value in (
                    ("preset", scores(preset_out, target, rgb2lab(target))[0]),
                    ("Auto then look", scores(analytic, target, rgb2lab(target))[0]),
                    ("untouched", scores(faulty, target, rgb2lab(target))[0]),
                    ("chroma", chroma(preset_out)),
                    ("target chroma", chroma(target)),
                ):
                    row.setdefault(key, []).append(value)
        print(f"  {photo_id}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    def mean(values, index):
        return float(np.mean([v[index] for v in values]))

    for title, index, fmt in (
        ("PSNR to the clean photo, dB (higher is closer)", 0, "{:>13.2f}"),
        ("mean CIEDE2000 to the clean photo (lower is closer)", 1, "{:>13.2f}"),
    ):
        print(title)
        header = f"{'fault':<17}" + "".join(f"{m:>13}" for m in methods)
        print(header)
        print("-" * len(header))
        for kind in (*FAULT_KINDS, "all faults", "clean"):
            print(f"{kind:<17}" + "".join(fmt.format(mean(table[kind][m], index)) for m in methods))
        print()

    if proven:
        print(
            "where Auto had evidence (a clipped shelf proving a black or white / both ends proving a flattening): "
            + ", ".join(
                f"{kind} {sum(s for s, _ in v)}/{sum(f for _, f in v)} of {len(v)}" for kind, v in proven.items()
            )
            + "\n"
        )
    print("per photo: mean PSNR over its faulted versions (dB)")
    header = f"{'photo':<22}" + "".join(f"{m:>13}" for m in methods)
    print(header)
    print("-" * len(header))
    for photo_id, row in faults_by_photo.items():
        print(f"{photo_id:<22}" + "".join(f"{float(np.mean(row[m])):>13.2f}" for m in methods))
    print()
    print(
        "clean photos through Auto, PSNR to themselves (dB): "
        + ", ".join(f"{k} {v:.1f}" for k, v in clean_by_photo.items())
        + "\n"
    )

    if amounts_by_photo:
        names = list(next(iter(amounts_by_photo.values())))
        print("the network's amounts on each clean photo, after the gates (0: no change; exposure in EV)")
        print(f"{'photo':<22}" + "".join(f"{n:>12}" for n in names))
        for photo_id, amounts in amounts_by_photo.items():
            print(f"{photo_id:<22}" + "".join(f"{amounts[n]:>12.3f}" for n in names))
        print()

    span = basis_span(auto_model)
    print(
        "basis span: share of each ideal correction Auto's basis can express over the cube "
        "(least over the low/middle/high amount)"
    )
    if auto_config.physical:
        print(
            "  calibration gates of the shipped Auto (0: direction not used): "
            + ", ".join(f"{k} {v:g}" for k, v in auto_preset.meta.get("calibration", {}).get("gates", {}).items())
        )
    for label, share in span.items():
        print(f"  {label:<22}{100 * share:6.1f} %")
    print()

    print(
        "looks on the same faulty test photos, PSNR to each look's documented target (dB); mean chroma in 8-bit levels"
    )
    header = f"{'look':<15}{'preset':>9}{'Auto then look':>16}{'untouched':>11}{'chroma':>8}{'target chroma':>15}"
    print(header)
    print("-" * len(header))
    for name, row in look_rows.items():
        m = {k: float(np.mean(v)) for k, v in row.items()}
        print(
            f"{name:<15}{m['preset']:>9.2f}{m['Auto then look']:>16.2f}{m['untouched']:>11.2f}{m['chroma']:>8.2f}"
            f"{m['target chroma']:>15.2f}"
        )

    def capped(values: list[float]) -> float:
        return float(np.mean(np.minimum(values, MAX_PSNR)))

    print(
        f"  each pair capped at {MAX_PSNR:g} dB as the training report scores (past it the difference is under one"
        " 8-bit level), preset minus Auto-then-look: "
        + ", ".join(f"{n} {capped(r['preset']) - capped(r['Auto then look']):+.3f}" for n, r in look_rows.items())
        + " dB"
    )
    print()

    faults = {m: mean(table["all faults"][m], 0) for m in methods}
    worst_kind = min(FAULT_KINDS, key=lambda k: mean(table[k]["Auto"], 0) - mean(table[k]["untouched"], 0))
    worst_gain = mean(table[worst_kind]["Auto"], 0) - mean(table[worst_kind]["untouched"], 0)
    mono = {k: float(np.mean(v)) for k, v in look_rows.get("Soft Mono", {}).items()}
    checks = [
        (
            f"clean photos through Auto >= 30 dB each (least {min(clean_by_photo.values()):.1f})",
            min(clean_by_photo.values()) >= 30.0,
        ),
        (
            f"clean photos through Auto >= 35 dB mean ({np.mean(list(clean_by_photo.values())):.1f})",
            np.mean(list(clean_by_photo.values())) >= 35.0,
        ),
        (
            f"faulted: Auto's mean gain over untouched >= +3 dB ({faults['Auto'] - faults['untouched']:+.2f})",
            faults["Auto"] - faults["untouched"] >= 3.0,
        ),
        (
            f"no fault type worse than untouched on average (least gain {worst_gain:+.2f} dB, {worst_kind})",
            worst_gain >= 0.0,
        ),
        (
            f"Auto beats grey-world ({faults['Auto']:.2f} vs {faults['grey-world']:.2f}) and autocontrast "
            f"({faults['autocontrast']:.2f})",
            faults["Auto"] > max(faults["grey-world"], faults["autocontrast"]),
        ),
        (
            f"basis span >= 80 % for every fault direction (least {100 * min(span.values()):.1f} %)",
            min(span.values()) >= 0.8,
        ),
        (
            "every look at least as close to its target as Auto-then-look analytically ("
            + ", ".join(
                f"{n} {float(np.mean(r['preset'])) - float(np.mean(r['Auto then look'])):+.3f} dB"
                for n, r in look_rows.items()
            )
            + ")",
            all(float(np.mean(r["preset"])) >= float(np.mean(r["Auto then look"])) - 0.005 for r in look_rows.values()),
        ),
    ]
    if mono:
        checks.append(
            (
                f"Soft Mono mean chroma <= target's + 1 ({mono['chroma']:.2f} vs {mono['target chroma']:.2f})",
                mono["chroma"] <= mono["target chroma"] + 1.0,
            )
        )
    for text, ok in checks:
        print(f"[{'pass' if ok else 'FAIL'}] {text}")


if __name__ == "__main__":
    main()
