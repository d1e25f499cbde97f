"""`python main.py lowlight` as a user runs it: a real process, real files, exit codes and `error:` lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.image import Photo, load_photo, sample_photo, save_photo, shrink_by_blocks
from engine.lowlight.data import LowLight, darken

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_lowlight_brightens_a_dark_photo_and_keeps_its_size(tmp_path):
    clean = shrink_by_blocks(sample_photo("chelsea").pixels, 230)
    dark = darken(clean, LowLight(exposure=1 / 15, photons=6000, read_noise=1e-3), np.random.default_rng(0))
    source, target, exact = tmp_path / "dark.png", tmp_path / "bright.png", tmp_path / "exact.png"
    save_photo(Photo(dark), source)
    result = run_cli("lowlight", str(source), str(target))
    assert result.returncode == 0, result.stderr
    assert "exposure x" in result.stderr  # what automatic exposure chose
    bright = load_photo(target).pixels
    assert bright.shape == dark.shape and bright.mean() > dark.mean() + 0.25
    result = run_cli("lowlight", str(source), str(exact), "--exposure", "15", "--denoise", "0.5")
    assert result.returncode == 0, result.stderr
    assert abs(load_photo(exact).pixels.mean() - clean.mean()) < 0.02 < abs(dark.mean() - clean.mean())


def test_bad_arguments_exit_2_with_one_error_line_and_write_nothing(tmp_path):
    source = tmp_path / "in.png"
    save_photo(Photo(np.full((16, 16, 3), 0.1, np.float32)), source)
    result = run_cli("lowlight", str(source), str(tmp_path / "out.png"), "--gamma", "5")
    assert result.returncode == 2 and result.stderr.startswith("error:") and "gamma 5.0" in result.stderr
    result = run_cli("lowlight", str(source), str(tmp_path / "out.png"), "--exposure", "100")
    assert result.returncode == 2 and "exposure 100.0" in result.stderr
    result = run_cli("lowlight", str(tmp_path / "missing.png"), str(tmp_path / "out.png"))
    assert result.returncode == 2 and "missing.png" in result.stderr
    result = run_cli("lowlight", str(source), str(tmp_path / "out.png"), "--model", str(tmp_path / "w.safetensors"))
    assert result.returncode == 2 and "w.safetensors" in result.stderr
    assert not (tmp_path / "out.png").exists()
