"""`lutlab PHOTO` as a user starts it: a real process opens the editor on the photo, logs to its log file
(the platform's log folder; here $LUTLAB_LOG_DIR) and, with $LUTLAB_QUIT_AFTER, closes itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.image import Photo, save_photo

ROOT = Path(__file__).resolve().parents[2]


def test_lutlab_photo_opens_the_editor_and_logs_to_its_file(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("the editor needs a display (./dev.sh test starts Xvfb)")
    save_photo(Photo(np.full((24, 40, 3), 0.5, np.float32)), tmp_path / "grey.png")
    env = {
        **os.environ,
        "LUTLAB_QUIT_AFTER": "2",
        "LUTLAB_LOG_DIR": str(tmp_path / "logs"),
        "LUTLAB_DATA_DIR": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "grey.png"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "logs" / "lutlab.log").read_text()
    assert "opened grey.png (40 x 24)" in log, log
    if os.environ.get("LUTLAB_REQUIRE_GL") == "1":
        assert "preview: OpenGL" in log and "unavailable" not in log, log
