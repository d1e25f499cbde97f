"""Low-light data: synthetic dark shots of the real-photo corpus (training, validation, benchmark), or a
SICE-style folder of real exposure pairs.

Synthetic shots follow the camera: decode sRGB to linear light, scale the exposure down (x0.05..0.15),
draw shot noise (Poisson in photons) plus read noise (Gaussian), encode back to sRGB and quantise to
8 bits. Two exposures of the same clean crop, each with its own factor and noise, form one PairLIE
training pair. The photos come from the corpus (`engine.corpus`), split by photo: nets train on its
train split, settings are chosen on its validation split, and the test split is only reported.

A folder holds one sub-folder per scene, each with two or more aligned exposures of that scene.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.color import linear_to_srgb, srgb_to_linear
from engine.errors import InputError
from engine.image import PHOTO_SUFFIXES, ImageError, load_photo, shrink_by_blocks

# Images larger than this (long side) are block-averaged on loading: the fast path runs the nets at
# about this scale anyway, and it keeps a folder of 12 MP brackets in memory.
MAX_TRAIN_SIDE = 768
# Corpus photos (2048 px long side) are halved for PairLIE training: the nets run on a reduced copy.
MAX_CORPUS_TRAIN_SIDE = 1024


@dataclass(frozen=True)
class LowLight:
    """How dark and how noisy a synthetic shot is (linear exposure factor, photons at white, read noise)."""

    exposure: float
    photons: float
    read_noise: float

    @staticmethod
    def random(rng: np.random.Generator) -> LowLight:
        """Exposure 0.05..0.15, 2k..30k photons at white, read noise 0.0002..0.002 (log-uniform)."""
        return LowLight(
            exposure=float(np.exp(rng.uniform(np.log(0.05), np.log(0.15)))),
            photons=float(np.exp(rng.uniform(np.log(2000), np.log(30000)))),
            read_noise=float(np.exp(rng.uniform(np.log(2e-4), np.log(2e-3)))),
        )


def darken(clean: np.ndarray, light: LowLight, rng: np.random.Generator) -> np.ndarray:
    """A low-light, noisy, 8-bit-quantised sRGB version of a clean sRGB float image (H x W x 3)."""
    linear = srgb_to_linear(clean).astype(np.float64) * light.exposure
    shot = rng.poisson(linear * light.photons) / light.photons
    noisy = shot + rng.normal(0.0, light.read_noise, size=linear.shape)
    encoded = linear_to_srgb(np.clip(noisy, 0.0, 1.0).astype(np.float32))
    return (np.round(encoded * 255.0) / 255.0).astype(np.float32)


# The benchmark's and the validation's two cases: dim (x0.15) and dark (x0.05, noisier), both inside the
# training range. Fixed, so every method meets the same noise.
CASES = {
    "dim": LowLight(exposure=0.15, photons=8000, read_noise=1e-3),
    "dark": LowLight(exposure=0.05, photons=4000, read_noise=1.5e-3),
}


@dataclass(frozen=True)
class DarkCase:
    """One corpus photo shot dark: `label` is "photo-id/case"."""

    label: str
    light: LowLight
    clean: np.ndarray
    dark: np.ndarray


def corpus_cases(split: str, seed: int = 2024, root: Path | None = None) -> list[DarkCase]:
    """Every photo of a corpus split in every case of `CASES`; deterministic for a seed (one stream per shot)."""
    from engine.corpus import load_manifest, load_split

    manifest = load_manifest()
    cases = []
    for index, (photo, clean) in enumerate(zip(manifest.split(split), load_split(split, root, manifest), strict=True)):
        for number, (name, light) in enumerate(CASES.items()):
            rng = np.random.default_rng([seed, index, number])
            cases.append(DarkCase(f"{photo.id}/{name}", light, clean, darken(clean, light, rng)))
    return cases


def corpus_training_photos(root: Path | None = None) -> list[np.ndarray]:
    """The corpus train split, block-averaged to at most MAX_CORPUS_TRAIN_SIDE (PairLIE's training photos)."""
    from engine.corpus import load_split

    return [shrink_by_blocks(photo, MAX_CORPUS_TRAIN_SIDE) for photo in load_split("train", root)]


# ---- SICE-style folders ----


class DatasetError(InputError):
    """A training folder is unusable; the message lists every problem found."""


@dataclass
class FolderReport:
    """What `validate_folder` found: usable scenes (lists of exposure files) and the problems."""

    root: Path
    scenes: dict[str, list[Path]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return bool(self.scenes) and not self.problems

    def text(self) -> str:
        lines = [f"{self.root}: {len(self.scenes)} usable scene(s), {len(self.problems)} problem(s)"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def validate_folder(root: str | Path, *, min_side: int = 64) -> FolderReport:
    """`inspect_folder`, raising `DatasetError` with the whole report when any scene is broken or none usable.

    Reporting everything at once lets a user fix the folder in one go instead of one training run at a time.
    """
    report = inspect_folder(root, min_side=min_side)
    if not report.usable:
        raise DatasetError(report.text())
    return report


def inspect_folder(root: str | Path, *, min_side: int = 64) -> FolderReport:
    """Check a folder of scene sub-folders, each with >= 2 readable, same-sized exposures (never raises
    for a broken scene: the report lists it)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (expected one sub-folder per scene, 2+ exposures each)")
    report = FolderReport(root)
    for scene in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in scene.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        if len(files) < 2:
            report.problems.append(f"{scene.name}: {len(files)} image(s), a scene needs 2 or more exposures")
            continue
        sizes: dict[Path, tuple[int, int]] = {}
        for path in files:
            try:
                sizes[path] = load_photo(path).pixels.shape[:2]
            except ImageError as exc:
                report.problems.append(f"{scene.name}/{path.name}: unreadable image ({exc})")
        if len(sizes) != len(files):
            continue
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{p.name} {h}x{w}" for p, (h, w) in sizes.items())
            report.problems.append(f"{scene.name}: exposures differ in size ({listed}); they must be aligned")
            continue
        height, width = next(iter(sizes.values()))
        if min(height, width) < min_side:
            report.problems.append(f"{scene.name}: {height}x{width} is smaller than {min_side} px")
            continue
        report.scenes[scene.name] = files
    if not report.scenes and not report.problems:
        report.problems.append("no scene sub-folders found")
    return report


def load_scene(files: list[Path]) -> np.ndarray:
    """A scene's exposures as one float32 array E x H x W x 3 (sRGB in [0, 1], upright), downscaled for training."""
    return np.stack([shrink_by_blocks(load_photo(path).pixels, MAX_TRAIN_SIDE) for path in files])


# ---- pair samplers: rng -> (first, second) batches of B x 3 x S x S float32 ----

PairSampler = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _random_crop_box(rng: np.random.Generator, height: int, width: int, size: int) -> tuple[int, int]:
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def _augment(rng: np.random.Generator, *images: np.ndarray) -> list[np.ndarray]:
    """The same random flip / 90-degree turn for every image of a pair (H x W x 3 each)."""
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    out = []
    for image in images:
        image = np.rot90(image, turns)
        out.append(np.ascontiguousarray(image[:, ::-1] if flip else image))
    return out


def synthetic_sampler(photos: list[np.ndarray], batch: int, crop: int) -> PairSampler:
    """Pairs from clean photos: one clean crop, two independent low-light shots of it."""

    def sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        firsts, seconds = [], []
        for _ in range(batch):
            photo = photos[int(rng.integers(len(photos)))]
            # Random zoom-out (box average) so the nets also meet the less noisy look of a downscaled photo.
            factor = int(rng.integers(1, 3))
            size = crop * factor
            top, left = _random_crop_box(rng, photo.shape[0], photo.shape[1], size)
            clean = photo[top : top + size, left : left + size]
            first, second = darken(clean, LowLight.random(rng), rng), darken(clean, LowLight.random(rng), rng)
            if factor > 1:
                first, second = shrink_by_blocks(first, crop), shrink_by_blocks(second, crop)
            first, second = _augment(rng, first, second)
            firsts.append(first.transpose(2, 0, 1))
            seconds.append(second.transpose(2, 0, 1))
        return np.stack(firsts), np.stack(seconds)

    return sample


def folder_sampler(scenes: list[np.ndarray], batch: int, crop: int) -> PairSampler:
    """Pairs from real brackets: two different exposures of one scene, cropped at the same place."""
    crop = min([crop] + [min(scene.shape[1], scene.shape[2]) for scene in scenes])

    def sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        firsts, seconds = [], []
        for _ in range(batch):
            scene = scenes[int(rng.integers(len(scenes)))]
            i, j = rng.choice(len(scene), size=2, replace=False)
            top, left = _random_crop_box(rng, scene.shape[1], scene.shape[2], crop)
            first, second = _augment(
                rng, scene[i, top : top + crop, left : left + crop], scene[j, top : top + crop, left : left + crop]
            )
            firsts.append(first.transpose(2, 0, 1))
            seconds.append(second.transpose(2, 0, 1))
        return np.stack(firsts), np.stack(seconds)

    return sample
