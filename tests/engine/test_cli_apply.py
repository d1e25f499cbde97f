"""`python main.py apply` as a user runs it: a real process, real files, exit codes and `error:` lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.image import Photo, load_photo, save_photo
from engine.lut import LUT3D, write_cube

ROOT = Path(__file__).resolve().parents[2]
MATRIX = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.6, 0.0, 0.4]])  # rows sum to 1: stays in [0, 1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def photo_path(tmp_path) -> Path:
    pixels = np.random.default_rng(1).random((40, 60, 3), dtype=np.float32)
    path = tmp_path / "in.png"
    save_photo(Photo(pixels, bit_depth=16), path)
    return path


@pytest.fixture
def cube_path(tmp_path) -> Path:
    lut = LUT3D.identity(9)
    path = tmp_path / "mix.cube"
    write_cube(LUT3D(lut.table.astype(np.float64) @ MATRIX.T, "channel mix"), path)
    return path


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_apply_produces_the_graded_photo(tmp_path, photo_path, cube_path, interp):
    result = run_cli(
        "apply",
        "--lut",
        str(cube_path),
        "--interp",
        interp,
        "--strength",
        "0.75",
        str(photo_path),
        str(tmp_path / "out.png"),
    )
    assert result.returncode == 0, result.stderr
    source = load_photo(photo_path).pixels.astype(np.float64)
    expected = source + 0.75 * (source @ MATRIX.T - source)
    out = load_photo(tmp_path / "out.png")
    assert out.bit_depth == 16
    np.testing.assert_allclose(out.pixels, expected, atol=2e-5)


def test_apply_imports_no_torch(tmp_path, photo_path, cube_path):
    code = (
        "import sys; from engine.cli import main; "
        f"code = main(['apply', '--lut', {str(cube_path)!r}, {str(photo_path)!r}, {str(tmp_path / 'o.jpg')!r}]); "
        "assert code == 0; assert 'torch' not in sys.modules, 'apply imported torch'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d, p, c: ["--lut", str(d / "bad.cube"), str(p), str(d / "o.png")], r"bad\.cube: line 2: malformed"),
        (lambda d, p, c: ["--lut", str(c), str(d / "missing.png"), str(d / "o.png")], r"missing\.png: no such file"),
        (lambda d, p, c: ["--lut", str(c), str(p), str(d / "nodir" / "o.png")], "does not exist"),
        (lambda d, p, c: ["--lut", str(c), str(p), str(d / "o.webm")], "unsupported output format"),
        (lambda d, p, c: ["--lut", str(c), "--strength", "2", str(p), str(d / "o.png")], "--strength"),
        (lambda d, p, c: ["--lut", str(c), "--interp", "cubic", str(p), str(d / "o.png")], "invalid choice"),
        (lambda d, p, c: [str(p), str(d / "o.png")], "--lut"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(tmp_path, photo_path, cube_path, make_args, message):
    (tmp_path / "bad.cube").write_text("LUT_3D_SIZE 2\n0 0\n")
    result = run_cli("apply", *make_args(tmp_path, photo_path, cube_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("o")) == []
