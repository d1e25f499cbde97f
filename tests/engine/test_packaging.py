"""The package as pyproject.toml builds it: every code package and shipped file listed, data found through
importlib.resources, user folders where the platform (or the LUTLAB_* variables) says, and the `lutlab`
launcher telling a photo from a sub-command. The installed wheel itself is exercised by .ci/wheel_smoke.sh."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine import locations
from engine.lut import LUT3D

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def run_lutlab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python main.py ARGS` from another folder, as the `lutlab` script runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_every_code_package_is_in_the_wheel():
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("engine", "app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    listed = {name for name in SETUPTOOLS["packages"] if name.split(".")[0] in ("engine", "app")}
    assert on_disk == listed, (
        f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}; remove: {sorted(listed - on_disk)}"
    )


@pytest.mark.parametrize("package", [locations.RESOURCES_PACKAGE, locations.SHADERS_PACKAGE])
def test_every_shipped_file_is_package_data(package):
    folder = ROOT / SETUPTOOLS["package-dir"][package]
    tracked = subprocess.run(["git", "ls-files", "."], cwd=folder, capture_output=True, text=True, check=True)
    files = [name for name in tracked.stdout.split() if name != "__init__.py"]
    patterns = SETUPTOOLS["package-data"][package]
    missing = [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert files and not missing, f"not shipped in the wheel: {missing}"
    assert locations._package_folder(package) == folder  # this checkout's editable install maps it


def test_shipped_files_are_found_through_the_data_packages():
    from engine.gpu.renderer import _shader_source
    from engine.presets import list_presets
    from engine.sr.infer import shipped_table_path

    assert "Auto" in [preset.name for preset in list_presets() if preset.shipped]
    assert shipped_table_path("srlut", 2).is_file()
    assert "void main" in _shader_source("lut_preview.frag", {})
    assert locations.icon_path().read_text().lstrip().startswith("<?xml")


def test_user_folders_follow_the_environment(monkeypatch, tmp_path):
    for name in ("LUTLAB_DATA_DIR", "LUTLAB_CACHE_DIR", "LUTLAB_LOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if sys.platform.startswith("linux"):  # XDG is the Linux convention; other platforms have their own folders
        assert locations.user_data_dir() == tmp_path / "data" / "lutlab"
        assert locations.user_cache_dir() == tmp_path / "cache" / "lutlab"
    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("LUTLAB_LOG_DIR", str(tmp_path / "logs"))
    assert locations.user_data_dir() == tmp_path / "mine"
    assert locations.user_log_dir() == tmp_path / "logs"


def test_sub_commands_run_from_another_folder(tmp_path):
    listed = run_lutlab("presets", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("Auto\tshipped"), listed.stderr
    cube = tmp_path / "warm.cube"
    from engine.lut import write_cube

    write_cube(LUT3D(LUT3D.identity(5).table * [1.0, 1.0, 0.9]), cube)  # outputs r, g, b: blue down
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(tmp_path / "in.png", np.full((4, 6, 3), 200, np.uint8))
    quiet = run_lutlab("apply", "--lut", "warm.cube", "in.png", "out.png", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert iio.imread(tmp_path / "out.png")[0, 0].tolist() == [200, 200, 180]
    verbose = run_lutlab("-v", "presets", cwd=tmp_path)  # -v before the sub-command, beside presets' own -v
    assert verbose.returncode == 0 and verbose.stdout == listed.stdout
    from importlib.metadata import version

    assert run_lutlab("--version", cwd=tmp_path).stdout == f"lutlab {version('lutlab')}\n"
    typo = run_lutlab("presetz", cwd=tmp_path)
    assert typo.returncode == 2 and typo.stderr.startswith("error: argument command: invalid choice: 'presetz'")


def test_command_names_come_from_module_names_without_imports():
    from engine.cli import _commands, command_names

    assert command_names() == sorted(module.NAME for module in _commands())


def test_the_editor_without_a_display_says_so(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("X11/Wayland displays are a Linux thing")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "photo.jpg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: the editor needs a display"), done.stderr


def test_the_launcher_tells_photos_from_commands(monkeypatch):
    from app import launcher

    opened: list[tuple[str | None, int]] = []
    monkeypatch.setattr(launcher, "_editor", lambda path, verbosity: opened.append((path, verbosity)) or 0)
    assert launcher.main([]) == 0 and launcher.main(["-v", "photo.jpg"]) == 0 and launcher.main(["./x"]) == 0
    assert opened == [(None, 0), ("photo.jpg", 1), ("./x", 0)]
    with pytest.raises(SystemExit):
        launcher.main(["--help"])  # argparse's help of the sub-commands, not the editor
    assert len(opened) == 3


def test_cli_logging_levels_to_the_current_stderr(capsys):
    import logging

    from engine.logsetup import configure_cli_logging

    root, log = logging.getLogger(), logging.getLogger("engine.test")
    before = (root.level, list(root.handlers))
    try:
        configure_cli_logging(0)
        log.info("hidden note")
        log.warning("shown warning")
        configure_cli_logging(1)  # replaces its own handler: one line per record, not two
        log.info("shown note")
        log.debug("hidden detail")
        err = capsys.readouterr().err
        assert err.count("shown warning") == 1 and err.count("shown note") == 1 and "hidden" not in err
        others = [h for h in before[1] if not (h.get_name() or "").startswith("lutlab-")]  # e.g. pytest's
        assert [h for h in root.handlers if h.get_name() == "lutlab-stderr"] and all(h in root.handlers for h in others)
    finally:
        root.handlers[:] = before[1]
        root.setLevel(before[0])


def test_install_desktop_writes_an_entry_that_starts_this_lutlab(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("freedesktop.org entries are a Linux thing")
    done = run_lutlab("install-desktop", cwd=tmp_path, env={"XDG_DATA_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    entry = (tmp_path / "applications" / "lutlab.desktop").read_text()
    script = Path(sys.executable).parent / "lutlab"
    assert f'Exec="{script.resolve()}" %f' in entry and "Icon=lutlab" in entry
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "lutlab.svg"
    assert icon.read_bytes() == locations.icon_path().read_bytes()
    assert run_lutlab("install-desktop", "--remove", cwd=tmp_path, env={"XDG_DATA_HOME": str(tmp_path)}).returncode == 0
    assert not icon.exists() and not (tmp_path / "applications" / "lutlab.desktop").exists()
