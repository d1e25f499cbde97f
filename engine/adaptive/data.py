"""Training data for adaptive presets: folder validation and the two batch sources.

A user's data is a folder of before/after pairs: ``DIR/input/*`` and ``DIR/target/*`` matched by file
stem (or two folders picked separately). `validate_pairs` reads every file once and reports what is
usable before any training starts. Batches are made on the fly at reduced resolution:

* `FolderPairs`: the paper's augmentation -- random crop of 0.6-1.0 of each side, horizontal flip,
  and an input-only brightness and saturation jitter x U(0.8, 1.2).
* `SyntheticPairs`: clean photos (the real-photo corpus, or a folder of the user's own good photos)
  with random capture faults against a look: crops at several scales (down to `min_crop` of each side),
  flips, and a mix of fault kinds with a share of untouched inputs (Auto and `train --photos`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.image import PHOTO_SUFFIXES, shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn, check, no_progress

MIN_PAIRS = 2  # one to train on, one to hold out
WORKING_SIDE = 384  # training resolution: the long side of every loaded pair


class TrainingDataError(InputError):
    """The chosen folder(s) hold no usable before/after pairs; the message carries the report."""


@dataclass(frozen=True)
class PairReport:
    """What a folder of pairs holds: usable pairs and every reason a file was left out."""

    input_dir: Path
    target_dir: Path
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    unmatched_inputs: list[str] = field(default_factory=list)
    unmatched_targets: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "name: reason"
    size_mismatches: list[str] = field(default_factory=list)  # "stem: WxH vs WxH"

    @property
    def usable(self) -> bool:
        return len(self.pairs) >= MIN_PAIRS

    def text(self) -> str:
        """A human-readable report (shown in the Train dialog and printed by the CLI)."""
        lines = [f"{len(self.pairs)} usable pair(s) in {self.input_dir} -> {self.target_dir}"]
        for title, items in (
            ("inputs without a target", self.unmatched_inputs),
            ("targets without an input", self.unmatched_targets),
            ("unreadable files", self.unreadable),
            ("size mismatches", self.size_mismatches),
        ):
            if items:
                shown = ", ".join(items[:8]) + (f", ... ({len(items) - 8} more)" if len(items) > 8 else "")
                lines.append(f"{len(items)} {title}: {shown}")
        if not self.usable:
            lines.append(f"too few pairs: at least {MIN_PAIRS} are needed (one is held out for validation)")
        return "\n".join(lines)

    def require_usable(self) -> None:
        if not self.usable:
            raise TrainingDataError("cannot train: " + self.text().replace("\n", "; "))


def resolve_folders(data: Path, target: Path | None = None) -> tuple[Path, Path]:
    """(input folder, target folder) from either DIR (with input/ and target/) or two folders."""
    data = Path(data)
    if target is not None:
        folders = (data, Path(target))
    else:
        folders = (data / "input", data / "target")
        if not data.is_dir():
            raise TrainingDataError(f"{data}: no such folder")
        if not all(f.is_dir() for f in folders):
            raise TrainingDataError(
                f"{data}: expected sub-folders 'input' and 'target' (before/after photos "
                "matched by file name), or pick the two folders separately"
            )
    for folder in folders:
        if not folder.is_dir():
            raise TrainingDataError(f"{folder}: no such folder")
    return folders


def _images_by_stem(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES}


def validate_pairs(
    data: Path, target: Path | None = None, *, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
) -> PairReport:
    """Match inputs to targets by stem and open every file once (sizes must agree)."""
    from engine.image import load_photo

    input_dir, target_dir = resolve_folders(data, target)
    inputs, targets = _images_by_stem(input_dir), _images_by_stem(target_dir)
    report = PairReport(
        input_dir,
        target_dir,
        unmatched_inputs=sorted(inputs.keys() - targets.keys()),
        unmatched_targets=sorted(targets.keys() - inputs.keys()),
    )
    common = sorted(inputs.keys() & targets.keys())
    for index, stem in enumerate(common):
        check(cancel)
        sizes = []
        for path in (inputs[stem], targets[stem]):
            try:
                sizes.append(load_photo(path).pixels.shape[:2])
            except InputError as exc:
                report.unreadable.append(f"{path.name}: {exc}")
        if len(sizes) == 2:
            if sizes[0] == sizes[1]:
                report.pairs.append((inputs[stem], targets[stem]))
            else:
                (h1, w1), (h2, w2) = sizes
                report.size_mismatches.append(f"{stem}: {w1}x{h1} vs {w2}x{h2}")
        progress((index + 1) / max(len(common), 1), f"checking {stem}")
    return report


def load_pairs(
    report: PairReport,
    max_side: int = WORKING_SIDE,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every usable pair at training resolution (float32 H x W x 3)."""
    from engine.image import load_photo

    report.require_usable()
    loaded = []
    for index, (inp, tgt) in enumerate(report.pairs):
        check(cancel)
        loaded.append(
            (shrink_by_blocks(load_photo(inp).pixels, max_side), shrink_by_blocks(load_photo(tgt).pixels, max_side))
        )
        progress((index + 1) / len(report.pairs), f"loading {inp.stem}")
    return loaded


def data_fingerprint(report: PairReport) -> list[str]:
    """Names, sizes and modification times of the pairs: a resumed run must see the same data."""
    return [f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for pair in report.pairs for p in pair]


# ------------------------------------------------------------------------------------------- batch sources


def _random_crop(rng: np.random.Generator, images: Sequence, crop: int, min_side: float = 0.6) -> list:
    """The same random crop (min_side-1.0 of each side), resized to crop x crop, and flip of every image (1,3,H,W)."""
    import torch.nn.functional as F

    _, _, height, width = images[0].shape
    ch, cw = (max(1, int(round(side * rng.uniform(min_side, 1.0)))) for side in (height, width))
    top, left = rng.integers(0, height - ch + 1), rng.integers(0, width - cw + 1)
    mirrored = rng.random() < 0.5
    out = []
    for image in images:
        part = image[:, :, top : top + ch, left : left + cw]
        if mirrored:
            part = part.flip(3)
        out.append(F.interpolate(part, size=(crop, crop), mode="bilinear", align_corners=False, antialias=True))
    return out


def to_tensor(pixels: np.ndarray):  # -> torch.Tensor (1, 3, H, W)
    import torch

    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


class FolderPairs:
    """Augmented batches from loaded before/after pairs."""

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], crop: int = 160) -> None:
        self.pairs = [(to_tensor(a), to_tensor(b)) for a, b in pairs]
        self.crop = crop

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, rng: np.random.Generator, size: int):  # -> (inputs, targets) (B, 3, crop, crop)
        import torch

        from engine.adaptive.synthetic import saturate

        inputs, targets = [], []
        for index in rng.integers(0, len(self.pairs), size):
            inp, tgt = _random_crop(rng, self.pairs[index], self.crop)
            inp = saturate(inp * rng.uniform(0.8, 1.2), float(rng.uniform(0.8, 1.2))).clamp(0.0, 1.0)
            inputs.append(inp)
            targets.append(tgt)
        return torch.cat(inputs), torch.cat(targets)


class SyntheticPairs:
    """Batches of clean photos with random capture faults (input) against `look(clean)` (target).

    `mix` says which faults (and what share of untouched inputs) a batch holds; crops take `min_crop` to
    all of each side of a photo, so a batch sees details as well as whole scenes.
    """

    def __init__(
        self, photos: Sequence[np.ndarray], look: Callable, crop: int = 160, mix=None, min_crop: float = 0.6
    ) -> None:
        from engine.adaptive.synthetic import COMBINED_ONLY

        self.photos = [to_tensor(p) for p in photos]
        self.look = look
        self.crop = crop
        self.mix = mix or COMBINED_ONLY
        self.min_crop = min_crop

    def __len__(self) -> int:
        return len(self.photos)

    def batch(self, rng: np.random.Generator, size: int):
        import torch

        from engine.adaptive.synthetic import random_faults

        clean = torch.cat(
            [
                _random_crop(rng, [self.photos[i]], self.crop, self.min_crop)[0]
                for i in rng.integers(0, len(self.photos), size)
            ]
        )
        return random_faults(clean, rng, self.mix), self.look(clean)

    def fixed_pairs(self, seed: int, variants: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Deterministic full-frame (faulty, target) pairs of every photo: a held-out validation set."""
        return [(faulty, target) for _, faulty, target in self.fault_set(seed, {"combined": variants})]

    def fault_set(self, seed: int, per_kind: dict[str, int]) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Deterministic full-frame (kind, faulty, target) triples: `per_kind[kind]` variants of each photo."""
        from engine.adaptive.synthetic import apply_faults

        rng = np.random.default_rng(seed)
        out = []
        for photo in self.photos:
            target = self.look(photo)[0].permute(1, 2, 0).numpy()
            for kind, count in per_kind.items():
                for _ in range(count):
                    faulty = apply_faults(photo, [kind], rng)
                    out.append((kind, faulty[0].permute(1, 2, 0).numpy(), target))
        return out
