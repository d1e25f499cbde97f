"""An isolated per-user data folder for preset tests."""

from pathlib import Path

import pytest


@pytest.fixture
def user_data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "userdata"
    monkeypatch.setenv("LUTLAB_DATA_DIR", str(folder))
    return folder / "presets"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on a loaded 2-core box two threads run these tiny models 10x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
