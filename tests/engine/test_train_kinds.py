"""The trainable kinds are described once: the CLI's flags and checks come from the same descriptors."""

from __future__ import annotations

import argparse

import pytest

from engine.errors import InputError
from engine.train_kinds import kinds


def test_descriptor_defaults_are_the_trainers_defaults():
    from engine.adaptive.train import DEFAULT_MODEL, PHOTOS_TRAIN, SHIPPED_MODEL, TrainConfig
    from engine.lowlight.train import DEFAULT_EPOCHS
    from engine.sr.train import TrainConfig as SRConfig
    from engine.train_kinds import sr

    by_key = {kind.key: kind for kind in kinds()}
    assert list(by_key) == ["adaptive", "adaptive-photos", "lowlight", "sr"]
    pairs, photos = by_key["adaptive"].resolve({}), by_key["adaptive-photos"].resolve({})
    assert (pairs["lut_size"], pairs["luts"]) == (DEFAULT_MODEL.lut_size, DEFAULT_MODEL.n_luts)
    assert (photos["lut_size"], photos["luts"]) == (SHIPPED_MODEL.lut_size, SHIPPED_MODEL.n_luts)
    assert by_key["adaptive"].epoch_default == TrainConfig().epochs
    assert by_key["adaptive-photos"].epoch_default == PHOTOS_TRAIN.epochs
    assert by_key["lowlight"].epoch_default == DEFAULT_EPOCHS
    assert sr.CROP == SRConfig().crop and by_key["sr"].epoch_default * sr.STEPS_PER_EPOCH == SRConfig().steps
    options = by_key["sr"].resolve({})
    assert (options["sr_model"], options["scale"]) == (SRConfig().kind, SRConfig().scale)


def test_every_option_is_a_flag_and_out_of_range_values_name_it():
    from engine.cli import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    dests = {action.dest for action in parser._actions}
    assert {option.name for kind in kinds() for option in kind.options} <= dests
    sr = next(kind for kind in kinds() if kind.key == "sr")
    with pytest.raises(InputError, match="--scale must be one of 4, 2"):
        sr.resolve({"scale": 3})
    pairs = next(kind for kind in kinds() if kind.key == "adaptive")
    with pytest.raises(InputError, match=r"--lut-size must be in 2\.\.65, got 99"):
        pairs.resolve({"lut_size": 99})
    assert pairs.resolve({"lut_size": 9, "luts": None})["luts"] == 3


def test_cli_refuses_a_flag_of_another_kind(tmp_path, capsys):
    from engine.cli import main

    (tmp_path / "scenes").mkdir()
    argv = ["train", "--kind", "lowlight", "--data", str(tmp_path / "scenes"), "--name", "x"]
    assert main([*argv, "--sr-model", "mulut"]) == 2
    assert "--sr-model is not an option of --kind lowlight" in capsys.readouterr().err
    assert main([*argv, "--photos", str(tmp_path)]) == 2
    assert "--photos is for --kind adaptive, not --kind lowlight" in capsys.readouterr().err
