"""The corpus builder on a real .deb made here with dpkg-deb (no network), plus the shipped manifest."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from engine import corpus
from engine.image import Photo, load_photo, save_photo

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian/Ubuntu)")


def _make_deb(tmp_path, pixels):
    package = tmp_path / "pkg"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN" / "control").write_text(
        "Package: fake-photos\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n"
    )
    folder = package / "usr" / "share" / "photos"
    folder.mkdir(parents=True)
    save_photo(Photo(pixels), folder / "big.png", bit_depth=8)
    save_photo(Photo(pixels[:40, :50]), folder / "other.png", bit_depth=8)
    debs = tmp_path / "root" / "debs"
    debs.mkdir(parents=True)
    subprocess.run(
        ["dpkg-deb", "-b", str(package), str(debs / "fake-photos_1.0-1_all.deb")], check=True, capture_output=True
    )


def _manifest(tmp_path, photos):
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps({"max_side": 64, "packages": {"fake-photos": "1.0-1"}, "photos": photos}))
    return corpus.load_manifest(path)


def test_build_extracts_downscales_and_splits(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.random((96, 128, 3), dtype=np.float32)
    _make_deb(tmp_path, pixels)
    manifest = _manifest(
        tmp_path,
        [
            {"id": "big", "source": "fake-photos", "path": "usr/share/photos/big.png", "split": "train", "note": "n"},
            {
                "id": "other",
                "source": "fake-photos",
                "path": "usr/share/photos/other.png",
                "split": "test",
                "note": "n",
            },
            {"id": "cat", "source": "scikit-image", "path": "chelsea", "split": "validation", "note": "n"},
        ],
    )
    root = tmp_path / "root"
    paths = corpus.build_corpus(root, manifest=manifest)
    assert [p.name for p in paths] == ["big.png", "other.png", "cat.png"]
    big = load_photo(paths[0]).pixels
    assert big.shape == (48, 64, 3)  # long side 128 -> max_side 64, aspect kept
    # area downscale by 2 = the mean of each 2x2 block of the 8-bit source (within one 8-bit level)
    source = np.round(pixels * 255) / 255
    blocks = source.reshape(48, 2, 64, 2, 3).mean(axis=(1, 3))
    assert np.abs(big - blocks).max() <= 1.01 / 255
    assert load_photo(paths[1]).pixels.shape == (40, 50, 3)  # small photos are not enlarged
    assert load_photo(paths[2]).pixels.shape == (64 * 300 // 451 + 1, 64, 3)
    assert corpus.corpus_paths("test", root, manifest) == [paths[1]]
    first = corpus.corpus_digest(root, manifest)
    paths[0].unlink()
    corpus.build_corpus(root, manifest=manifest)  # rebuilds only what is missing, identically
    assert corpus.corpus_digest(root, manifest) == first


def test_missing_member_and_unbuilt_corpus_say_what(tmp_path):
    _make_deb(tmp_path, np.zeros((8, 8, 3), np.float32))
    manifest = _manifest(
        tmp_path,
        [{"id": "gone", "source": "fake-photos", "path": "usr/share/photos/nope.png", "split": "train", "note": "n"}],
    )
    with pytest.raises(corpus.CorpusError, match="nope.png"):
        corpus.build_corpus(tmp_path / "root", manifest=manifest)
    with pytest.raises(corpus.CorpusError, match="python -m engine.corpus"):
        corpus.corpus_paths("train", tmp_path / "empty", manifest)


def test_shipped_manifest_is_curated_and_split_by_photo():
    manifest = corpus.load_manifest()
    counts = {name: len(manifest.split(name)) for name in corpus.SPLITS}
    assert sum(counts.values()) >= 40 and counts["test"] >= 8 and counts["validation"] >= 5
    assert all(photo.note.strip() for photo in manifest.photos)
    assert len({(photo.source, photo.path) for photo in manifest.photos}) == len(manifest.photos)
    # the photos the old models were scored on stay out of training
    assert {p.id for p in manifest.split("test")} >= {"skimage-chelsea", "skimage-coffee"}


def test_malformed_manifest_is_refused(tmp_path):
    bad = tmp_path / "corpus.json"
    bad.write_text(
        json.dumps(
            {
                "max_side": 64,
                "packages": {},
                "photos": [{"id": "a", "source": "unknown-pkg", "path": "x", "split": "train", "note": ""}],
            }
        )
    )
    with pytest.raises(corpus.CorpusError, match="unknown-pkg"):
        corpus.load_manifest(bad)
    bad.write_text("[1, 2")
    with pytest.raises(corpus.CorpusError, match="not a valid corpus manifest"):
        corpus.load_manifest(bad)
