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
    code = main(
        [
            "train",
            "--kind",
            "adaptive",
            "--data",
            str(data),
            "--name",
            "Tiny Warm",
            "--epochs",
            "1",
            "--lut-size",
            "9",
            "--luts",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 usable pair(s)" in out and "1 inputs without a target: extra" in out and "epoch 1/1" in out
    assert (user_data / "tiny-warm.safetensors").is_file() and (user_data / "tiny-warm.json").is_file()

    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split("\t")[0] == "Tiny Warm" and "\tuser" in line for line in lines)

    photo = Photo(sample_photo("chelsea").pixels[::3, ::3])
    save_photo(photo, tmp_path / "in.png", bit_depth=16)
    code = main(
        [
            "enhance",
            "--preset",
            "tiny warm",
            "--strength",
            "0.8",
            "--cube",
            str(tmp_path / "look.cube"),
            str(tmp_path / "in.png"),
            str(tmp_path / "out.png"),
        ]
    )
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


def _tetrahedral_reference(pixels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Textbook tetrahedral interpolation (as ffmpeg's lut3d does by default), written here independently:
    table[b, g, r] = (R, G, B), unit domain."""
    n = table.shape[0]
    rgb = np.clip(pixels.reshape(-1, 3).astype(np.float64), 0, 1) * (n - 1)
    lo = np.minimum(np.floor(rgb).astype(int), n - 2)
    f = rgb - lo
    r0, g0, b0 = lo[:, 0], lo[:, 1], lo[:, 2]
    fr, fg, fb = f[:, 0:1], f[:, 1:2], f[:, 2:3]

    def at(dr, dg, db):
        return table[b0 + db, g0 + dg, r0 + dr].astype(np.float64)

    c000, c111 = at(0, 0, 0), at(1, 1, 1)
    out = np.empty_like(rgb)
    cases = [  # (condition, first corner, second corner, weights)
        ((fr >= fg) & (fg >= fb), at(1, 0, 0), at(1, 1, 0), (fr, fg, fb)),
        ((fr >= fb) & (fb > fg), at(1, 0, 0), at(1, 0, 1), (fr, fb, fg)),
        ((fb > fr) & (fr >= fg), at(0, 0, 1), at(1, 0, 1), (fb, fr, fg)),
        ((fg > fr) & (fr >= fb), at(0, 1, 0), at(1, 1, 0), (fg, fr, fb)),
        ((fg >= fb) & (fb > fr), at(0, 1, 0), at(0, 1, 1), (fg, fb, fr)),
        ((fb > fg) & (fg > fr), at(0, 0, 1), at(0, 1, 1), (fb, fg, fr)),
    ]
    done = np.zeros(len(rgb), bool)
    for condition, first, second, (a, b, c) in cases:
        pick = condition[:, 0] & ~done
        value = (1 - a) * c000 + (a - b) * first + (b - c) * second + c * c111
        out[pick] = value[pick]
        done |= pick
    assert done.all()
    return out.reshape(pixels.shape)


def _physical_preset(folder: Path) -> None:
    import torch

    from engine.adaptive.model import AdaptiveLUT, ModelConfig
    from engine.adaptive.train import write_preset

    torch.manual_seed(3)
    model = AdaptiveLUT(ModelConfig(n_luts=1, lut_size=17, physical=True, predictor_size=64, cnn_width=0, hidden=0))
    with torch.no_grad():
        model.predictor.head[-1].bias.copy_(torch.tensor([0.4, 0.2, -0.05, 0.02, 0.03, 0.2, 0.3, 0.5]))
    write_preset(model, folder, "Cube Check", {"description": "a strong grade, to make interpolation show"})


def _enhance_with_cube(tmp_path, user_data) -> None:
    """`enhance --cube` of a 16-bit astronaut under the strong "Cube Check" preset: in.png, out.png, look.cube."""
    _physical_preset(user_data)
    photo = Photo(sample_photo("astronaut").pixels[::4, ::4])
    save_photo(photo, tmp_path / "in.png", bit_depth=16)
    assert (
        main(
            [
                "enhance",
                "--preset",
                "Cube Check",
                "--cube",
                str(tmp_path / "look.cube"),
                str(tmp_path / "in.png"),
                str(tmp_path / "out.png"),
            ]
        )
        == 0
    )


def test_enhance_cube_reproduces_the_output_under_tetrahedral_interpolation(tmp_path, user_data):
    _enhance_with_cube(tmp_path, user_data)
    output = load_photo(tmp_path / "out.png").pixels
    lut = read_cube(tmp_path / "look.cube")
    reference = _tetrahedral_reference(load_photo(tmp_path / "in.png").pixels, lut.table)
    levels = np.abs(output - reference) * 255
    assert levels.max() < 0.05 and levels.mean() < 0.01  # the same interpolation, not just close
    trilinear = apply_lut(load_photo(tmp_path / "in.png").pixels, lut, "trilinear")
    assert np.abs(trilinear - reference).max() * 255 > 0.1  # the check can tell the two apart


def test_ffmpeg_applies_the_enhance_cube_like_the_app(tmp_path, user_data):
    import shutil

    if shutil.which("ffmpeg") is None:
        import pytest

        pytest.skip("ffmpeg is not installed (the numpy tetrahedral reference test covers the same ground)")
    _enhance_with_cube(tmp_path, user_data)
    result = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(tmp_path / "in.png"),
            "-vf",
            f"lut3d=file={tmp_path / 'look.cube'}",
            "-pix_fmt",
            "rgb48be",
            str(tmp_path / "ffmpeg.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    levels = np.abs(load_photo(tmp_path / "ffmpeg.png").pixels - load_photo(tmp_path / "out.png").pixels) * 255
    assert levels.mean() <= 1.0 and levels.max() <= 2.0, (levels.mean(), levels.max())
