"""The SICE-style folder validator: every problem of a broken folder reported at once, good folders train."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from engine.lowlight.data import DatasetError, validate_folder
from engine.lowlight.model import load_model
from engine.lowlight.train import TrainConfig, train_lowlight


def _write(path, height=80, width=96, value=0.2, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    iio.imwrite(path, (np.clip(value + 0.05 * rng.random((height, width, 3)), 0, 1) * 255).astype(np.uint8))


def _good_scene(root, name, exposures=(0.1, 0.3)):
    for index, value in enumerate(exposures):
        _write(root / name / f"{index}.png", value=value, seed=index)


def test_a_good_folder_lists_its_scenes(tmp_path):
    _good_scene(tmp_path, "1")
    _good_scene(tmp_path, "2", (0.05, 0.1, 0.2))
    (tmp_path / "notes.txt").write_text("loose files beside the scenes are ignored")
    report = validate_folder(tmp_path)
    assert sorted(report.scenes) == ["1", "2"]
    assert len(report.scenes["2"]) == 3 and not report.problems


def test_every_problem_is_reported_with_its_scene(tmp_path):
    _good_scene(tmp_path, "ok")
    _write(tmp_path / "single" / "a.png")
    _write(tmp_path / "sizes" / "a.png", 80, 96)
    _write(tmp_path / "sizes" / "b.png", 60, 96)
    _write(tmp_path / "broken" / "a.png")
    (tmp_path / "broken" / "b.png").write_bytes(b"\x89PNG truncated")
    _write(tmp_path / "tiny" / "a.png", 20, 20)
    _write(tmp_path / "tiny" / "b.png", 20, 20)
    with pytest.raises(DatasetError) as caught:
        validate_folder(tmp_path)
    message = str(caught.value)
    assert "1 usable scene(s), 4 problem(s)" in message
    assert "single: 1 image(s)" in message
    assert "sizes: exposures differ in size" in message and "b.png 60x96" in message
    assert "broken/b.png: unreadable image" in message
    assert "tiny: 20x20 is smaller than 64 px" in message


def test_missing_or_empty_folders_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        validate_folder(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no scene sub-folders"):
        validate_folder(tmp_path)


def test_training_on_a_folder_writes_weights_and_a_broken_one_writes_nothing(tmp_path):
    torch.set_num_threads(1)
    data = tmp_path / "data"
    _good_scene(data, "1")
    _good_scene(data, "2", (0.05, 0.2))
    output = tmp_path / "out.safetensors"
    info = train_lowlight(output, data=data, config=TrainConfig(steps=3, batch=2, crop=48, channels=4))
    assert load_model(output)[1].steps == 3 and info.data.startswith("folder ")

    _write(data / "3" / "only.png")
    broken_output = tmp_path / "broken.safetensors"
    with pytest.raises(DatasetError, match="3: 1 image"):
        train_lowlight(broken_output, data=data, config=TrainConfig(steps=3, batch=2, crop=48, channels=4))
    assert not broken_output.exists()


def test_train_cli_lowlight_kind_reports_the_folder_and_writes_the_model(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    data = tmp_path / "data"
    _good_scene(data, "1")
    _good_scene(data, "2", (0.05, 0.2))
    command = [
        sys.executable,
        "main.py",
        "train",
        "--kind",
        "lowlight",
        "--data",
        str(data),
        "--name",
        "night",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "models"),
    ]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 usable scene(s), 0 problem(s)" in result.stdout
    assert load_model(tmp_path / "models" / "night.safetensors")[1].steps == 2

    _write(data / "3" / "only.png")
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "3: 1 image(s)" in result.stderr
