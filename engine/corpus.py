"""The real-photo corpus every learned model trains on, built reproducibly and offline after one fetch.

Why: models trained on a handful of scikit-image images (some of them microscopy or astronomy) memorised
their scenes. The corpus is a hand-curated list (``resources/corpus.json``: one line of note per photo)
of photographs from three Debian packages plus scikit-image's natural photos, split *by photo* into
train / validation / test. The test split is for reporting only: no epoch, setting or threshold may be
chosen on it.

Building needs no root: ``apt-get download PKG`` fetches the ``.deb`` into the cache and
``dpkg-deb --fsys-tarfile | tar -x`` unpacks only the listed files. Each photo is then area-downscaled to
``max_side`` (DIV2K-like 2K photos; also softens the JPEG blocks of the big wallpapers) and stored as an
8-bit PNG named by its id. ``python -m engine.corpus`` builds it and prints what it holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import locations
from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.logsetup import configure_cli_logging

SPLITS = ("train", "validation", "test")
SKIMAGE = "scikit-image"

log = logging.getLogger(__name__)


class CorpusError(InputError):
    """The corpus is not built, its manifest is malformed, or a package could not be fetched."""


@dataclass(frozen=True)
class CorpusPhoto:
    """One curated photo: where it comes from, which split it belongs to, and why it was chosen."""

    id: str
    source: str  # a Debian package name, or "scikit-image"
    path: str  # path inside the package, or the scikit-image data function name
    split: str
    note: str


@dataclass(frozen=True)
class Manifest:
    max_side: int
    packages: dict[str, str]  # package -> the version the list was curated on
    photos: tuple[CorpusPhoto, ...]

    def split(self, name: str) -> list[CorpusPhoto]:
        if name not in SPLITS:
            raise CorpusError(f"unknown corpus split {name!r}; choose one of {', '.join(SPLITS)}")
        return [photo for photo in self.photos if photo.split == name]


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the curated list (ids unique, splits known, sources declared); default: the shipped one."""
    path = path or locations.resources_dir() / "corpus.json"
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        packages = {str(k): str(v) for k, v in raw["packages"].items()}
        photos = tuple(
            CorpusPhoto(str(p["id"]), str(p["source"]), str(p["path"]), str(p["split"]), str(p["note"]))
            for p in raw["photos"]
        )
        max_side = int(raw["max_side"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"{path}: not a valid corpus manifest ({exc})") from exc
    ids = [photo.id for photo in photos]
    if len(set(ids)) != len(ids):
        raise CorpusError(f"{path}: photo ids repeat")
    for photo in photos:
        if photo.split not in SPLITS:
            raise CorpusError(f"{path}: {photo.id}: unknown split {photo.split!r}")
        if photo.source != SKIMAGE and photo.source not in packages:
            raise CorpusError(f"{path}: {photo.id}: source {photo.source!r} is not a listed package")
    if max_side < 64:
        raise CorpusError(f"{path}: max_side {max_side} is too small")
    return Manifest(max_side, packages, photos)


def corpus_dir() -> Path:
    """Where the built corpus lives: $LUTLAB_CORPUS_DIR, else `corpus` in the user's cache folder (engine.locations)."""
    if os.environ.get("LUTLAB_CORPUS_DIR"):
        return Path(os.environ["LUTLAB_CORPUS_DIR"])
    return locations.user_cache_dir() / "corpus"


def photo_path(photo: CorpusPhoto, root: Path | None = None) -> Path:
    return (root or corpus_dir()) / "photos" / f"{photo.id}.png"


def corpus_paths(split: str, root: Path | None = None, manifest: Manifest | None = None) -> list[Path]:
    """The built photo files of one split, in manifest order; a clear error if the corpus is not built."""
    manifest = manifest or load_manifest()
    paths = [photo_path(photo, root) for photo in manifest.split(split)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise CorpusError(
            f"the real-photo corpus is not built in {root or corpus_dir()} ({len(missing)} of "
            f"{len(paths)} {split} photos missing, e.g. {missing[0]}); run: python -m engine.corpus"
        )
    return paths


def load_split(split: str, root: Path | None = None, manifest: Manifest | None = None) -> list[np.ndarray]:
    """The photos of one split as float32 H x W x 3 arrays in [0, 1]."""
    from engine.image import load_photo

    return [load_photo(path).pixels for path in corpus_paths(split, root, manifest)]


# ------------------------------------------------------------------------------------------------ building


def build_corpus(
    root: Path | None = None,
    *,
    manifest: Manifest | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Fetch, unpack, downscale and store every listed photo that is not stored yet; return all paths."""
    manifest = manifest or load_manifest()
    root = Path(root or corpus_dir())
    (root / "photos").mkdir(parents=True, exist_ok=True)
    todo = [photo for photo in manifest.photos if not photo_path(photo, root).is_file()]
    by_package: dict[str, list[CorpusPhoto]] = {}
    for photo in todo:
        by_package.setdefault(photo.source, []).append(photo)
    done = 0
    for source, photos in by_package.items():
        check(cancel)
        if source == SKIMAGE:
            arrays = {photo.id: _skimage_photo(photo.path) for photo in photos}
        else:
            unpacked = _unpack(root, source, manifest.packages[source], [photo.path for photo in photos])
            arrays = {photo.id: _read_unpacked(unpacked / photo.path) for photo in photos}
        for photo in photos:
            check(cancel)
            _store(arrays[photo.id], photo_path(photo, root), manifest.max_side)
            done += 1
            progress(done / max(len(todo), 1), f"stored {photo.id}")
    return [photo_path(photo, root) for photo in manifest.photos]


def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    try:
        image = getattr(skimage.data, name)()
    except AttributeError as exc:
        raise CorpusError(f"scikit-image has no photo {name!r}") from exc
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle returns (left, right, disp)
    return _rgb_float(np.asarray(image))


def _rgb_float(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return image[:, :, :3].astype(np.float32) / scale


def _read_unpacked(path: Path) -> np.ndarray:
    from engine.image import load_photo

    if not path.is_file():
        raise CorpusError(f"{path}: listed in the corpus manifest but not in its package")
    return load_photo(path).pixels


def _unpack(root: Path, package: str, version: str, members: Sequence[str]) -> Path:
    """Download the package's .deb (unless cached) and extract the listed members; return the folder."""
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
    if deb is None:
        _run(["apt-get", "download", package], debs, f"cannot download Debian package {package}")
        deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
        if deb is None:
            raise CorpusError(f"apt-get download {package} left no .deb in {debs}")
    got = _run(["dpkg-deb", "-f", str(deb), "Version"], debs, f"{deb}: not a Debian package").strip()
    if got != version:
        log.warning("%s is %s, the list was curated on %s", package, got, version)
    target = root / "unpacked" / package
    target.mkdir(parents=True, exist_ok=True)
    wanted = [f"./{m}" for m in members if not (target / m).is_file()]
    if wanted:
        tar_stream = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        untar = subprocess.run(
            ["tar", "-x", "-C", str(target), *wanted], stdin=tar_stream.stdout, capture_output=True, text=True
        )
        tar_stream.wait()
        if untar.returncode != 0 or tar_stream.returncode != 0:
            raise CorpusError(f"{deb}: cannot extract {len(wanted)} file(s): {untar.stderr.strip()[:300]}")
    return target


def _run(command: list[str], cwd: Path, what: str) -> str:
    if shutil.which(command[0]) is None:
        raise CorpusError(f"{what}: {command[0]} is not installed (the corpus is built on Debian/Ubuntu)")
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CorpusError(f"{what}: {' '.join(command)} failed: {result.stderr.strip()[:300]}")
    return result.stdout


def _store(pixels: np.ndarray, path: Path, max_side: int) -> None:
    import cv2

    from engine.image import Photo, save_photo

    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    save_photo(Photo(np.clip(pixels, 0, 1).astype(np.float32)), path, bit_depth=8)


def corpus_digest(root: Path | None = None, manifest: Manifest | None = None) -> str:
    """SHA-256 over the built files in manifest order: recorded beside trained weights."""
    manifest = manifest or load_manifest()
    digest = hashlib.sha256()
    for photo in manifest.photos:
        digest.update(photo.id.encode())
        digest.update(photo_path(photo, root).read_bytes())
    return digest.hexdigest()


def describe(manifest: Manifest | None = None) -> dict:
    """What a trained model's JSON records about its data: manifest, split ids, max side."""
    manifest = manifest or load_manifest()
    return {
        "manifest": "resources/corpus.json",
        "max_side": manifest.max_side,
        "packages": manifest.packages,
        "split": {name: [photo.id for photo in manifest.split(name)] for name in SPLITS},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help=f"where to build (default {corpus_dir()})")
    args = parser.parse_args(argv)
    configure_cli_logging()
    manifest = load_manifest()
    try:
        paths = build_corpus(
            args.root, manifest=manifest, progress=lambda f, m="": print(f"  {f:4.0%} {m}", file=sys.stderr)
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from PIL import Image

    print(f"{'split':<11}{'id':<22}{'size':>11}  note")
    for photo, path in zip(manifest.photos, paths, strict=True):
        with Image.open(path) as image:
            size = f"{image.width}x{image.height}"
        print(f"{photo.split:<11}{photo.id:<22}{size:>11}  {photo.note}")
    counts = {name: len(manifest.split(name)) for name in SPLITS}
    print(f"{len(paths)} photos in {args.root or corpus_dir()}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
