"""Atomic writes leave no stray files: an unnamed temporary (O_TMPFILE) for exports, our own stale
temporaries cleaned before each write, and the named-temporary fallback still atomic."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import fsutil
from engine.image import Photo, load_photo, save_photo
from engine.lut import LUT3D, read_cube, write_cube

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys, numpy as np
from engine.image import Photo, save_photo
photo = Photo(np.random.default_rng(0).random((700, 900, 3), dtype=np.float32), bit_depth=16)
print("ready", flush=True)
while True:
    for target in sys.argv[1:]:
        save_photo(photo, target)
"""


def test_killed_exports_leave_only_finished_outputs(tmp_path):
    """SIGKILL a process that keeps exporting, at random moments: only whole outputs remain."""
    targets = [tmp_path / "out.png", tmp_path / "out.tif", tmp_path / "out.jpg"]
    rng = random.Random(3)
    for _ in range(5):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, *map(str, targets)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert process.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert {p.name for p in tmp_path.iterdir()} <= {t.name for t in targets}
    for target in tmp_path.iterdir():
        assert load_photo(target).width == 900  # every file there is complete


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    stale = tmp_path / ".out.0123abcd.tmp.png"
    live = tmp_path / ".other.89abcdef.tmp.cube"
    unrelated = tmp_path / ".out.tmp.png"
    for path in (stale, live, unrelated):
        path.write_bytes(b"partial")
    lock = os.open(live, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a writer still at work
    try:
        save_photo(Photo(np.zeros((4, 4, 3), np.float32)), tmp_path / "out.png")
        write_cube(LUT3D.identity(2), tmp_path / "look.cube")
    finally:
        os.close(lock)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, unrelated.name, "look.cube", "out.png"])


def test_named_temporary_fallback_is_atomic_too(tmp_path, monkeypatch):
    monkeypatch.setattr(fsutil, "_unnamed_file", lambda folder: None)
    save_photo(Photo(np.full((4, 4, 3), 0.5, np.float32)), tmp_path / "out.tif")
    write_cube(LUT3D.identity(3), tmp_path / "look.cube")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["look.cube", "out.tif"]
    assert read_cube(tmp_path / "look.cube").size == 3 and load_photo(tmp_path / "out.tif").width == 4


@pytest.mark.parametrize("compression", ["lzw", "zlib", "jpeg", "packbits"])
def test_compressed_tiffs_are_read(tmp_path, compression):
    """LZW/Deflate/JPEG TIFFs (scanners, cameras) decode through imagecodecs, as libtiff decodes them."""
    import tifffile
    from PIL import Image
    from skimage import data

    pixels = data.astronaut()[:96, :128]
    tifffile.imwrite(tmp_path / "a.tif", pixels, photometric="rgb", compression=compression)
    photo = load_photo(tmp_path / "a.tif")
    with Image.open(tmp_path / "a.tif") as image:  # Pillow's libtiff: an independent decoder
        reference = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(np.rint(photo.pixels * 255).astype(np.uint8), reference)
    if compression != "jpeg":
        np.testing.assert_array_equal(reference, pixels)
