"""`main.py train --kind adaptive`, `presets` and `enhance` end to end on a tiny folder."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.cli import main
from engine.image import Photo, load_photo, sample_photo, save_photo
from engine.lut import apply_lut
from engine.lut.cube import read_cube
from tests.engine.adaptive.adaptive_fixtures import make_pair_folder

ROOT = Path(__file__).resolve().parents[3]


def test_train_then_list_then_enhance(tmp_path, user_data, capsys):
    data = make_pair_folder(tmp_path / "pairs", 3)
    (data / "input" / "extra.png").write_bytes(b"\x89PNG broken")
    code = main(["train", "--kind", "adaptive", "--data", str(data), "--name", "Tiny Warm", "--epochs", "1",
                 "--lut-size", "9", "--luts", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 usable pair(s)" in out and "1 inputs without a target: extra" in out and "epoch 1/1" in out
    assert (user_data / "tiny-warm.safetensors").is_file() and (user_data / "tiny-warm.json").is_file()

    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split("\t")[0] == "Tiny Warm" and "\tuser" in line for line in lines)

    photo = Photo(sample_photo("chelsea").pixels[::3, ::3])
    save_photo(photo, tmp_path / "in.png", bit_depth=16)
    code = main(["enhance", "--preset", "tiny warm", "--strength", "0.8", "--cube", str(tmp_path / "look.cube"),
                 str(tmp_path / "in.png"), str(tmp_path / "out.png")])
    assert code == 0
    result = load_photo(tmp_path / "out.png").pixels
    lut = read_cube(tmp_path / "look.cube")
    assert lut.size == 9
    expected = apply_lut(load_photo(tmp_path / "in.png").pixels, lut)
    assert np.abs(result - expected).max() < 2e-4  # the .cube reproduces the output (16-bit rounding aside)


def test_bad_input_is_one_error_line(tmp_path, user_data, capsys):
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir()
    assert main(["train", "--kind", "adaptive", "--data", str(tmp_path / "empty"), "--name", "x"]) == 2
    assert "error: cannot train: 0 usable pair(s)" in capsys.readouterr().err
    assert main(["enhance", "--preset", "no such preset", str(tmp_path / "a.png"), str(tmp_path / "b.png")]) == 2
    assert "no preset named 'no such preset'" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


def test_listing_presets_does_not_import_torch():
    code = "import sys; from engine.cli import main; main(['presets']); assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
