import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.image import Photo, load_photo, save_photo

ROOT = Path(__file__).resolve().parents[3]
RUN_WITHOUT_TORCH = (
    "import sys; from engine.cli import main; code = main(sys.argv[1:]); "
    "assert 'torch' not in sys.modules, 'merge imported torch'; sys.exit(code)"
)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TORCH, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_merge_cli_writes_the_aligned_fusion_without_torch(tmp_path, bracket):
    frames = bracket([-2.0, 0.0, 2.0], [(3, -4), (0, 0), (-2, 5)])
    paths = []
    for name, frame in zip(("dark", "mid", "bright"), frames, strict=True):
        paths.append(str(tmp_path / f"{name}.png"))
        save_photo(Photo(frame), paths[-1])
    out = tmp_path / "merged.png"
    done = run_cli("merge", paths[2], paths[0], paths[1], "-o", str(out), "--deghost")
    assert done.returncode == 0, done.stderr
    assert "mid.png: +0.00 EV, shift dy=+0 dx=+0  (reference)" in done.stdout
    assert "dark.png: -1.9" in done.stdout or "dark.png: -2.0" in done.stdout
    assert "shift dy=+3 dx=-4" in done.stdout and "shift dy=-2 dx=+5" in done.stdout
    merged = load_photo(out).pixels
    assert merged.shape == frames[1].shape and 0.2 < merged.mean() < 0.8
    assert not np.array_equal(merged, frames[1])


def test_merge_cli_reports_bad_input_in_one_line(tmp_path, bracket):
    frame = tmp_path / "one.png"
    save_photo(Photo(bracket([0.0], [(0, 0)])[0]), frame)
    done = run_cli("merge", str(frame), str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "out.png"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path / 'missing.jpg'}: no such file"
    assert not (tmp_path / "out.png").exists()
