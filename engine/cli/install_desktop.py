"""`lutlab install-desktop [--remove]`: add LUTLab to the Linux desktop's application menu (or take it off).

pip cannot put files in the desktop's folders, so the desktop entry and the icon travel as package data and
this command copies them into the user's XDG data folder (``~/.local/share/applications`` and the hicolor
icon theme). ``Exec`` gets the absolute path of this installation's ``lutlab`` script, so an entry made from a
virtual environment starts that environment's LUTLab.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import atomic_file
from engine.jobs import CancelToken, ProgressFn
from engine.locations import icon_path, resources_dir

NAME = "install-desktop"
HELP = "add LUTLab to the desktop's application menu (Linux: desktop entry + icon in ~/.local/share)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remove", action="store_true", help="take the entry and the icon off again")


def xdg_data_home() -> Path:
    """$XDG_DATA_HOME, else ~/.local/share: where a user's desktop entries and icons go on Linux."""
    import platformdirs

    return Path(platformdirs.user_data_dir(appname=None, appauthor=False))


def lutlab_script() -> Path:
    """The `lutlab` script of this installation (beside the interpreter, else on $PATH)."""
    beside = Path(sys.executable).parent / "lutlab"
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("lutlab")) else None)
    if found is None:
        raise InputError(
            "no `lutlab` script found beside the Python interpreter nor on PATH: install LUTLab first (pip install .)"
        )
    return found.resolve()


def desktop_entry(script: Path) -> str:
    """The shipped entry with `Exec` pointing at `script` (quoted per the Desktop Entry specification)."""
    text = (resources_dir() / "lutlab.desktop").read_text(encoding="utf-8")
    quoted = '"' + str(script).replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$") + '"'
    return text.replace("Exec=lutlab ", f"Exec={quoted} ", 1)


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    if not sys.platform.startswith("linux"):
        raise InputError("install-desktop writes freedesktop.org entries, which only Linux desktops read")
    base = xdg_data_home()
    entry = base / "applications" / "lutlab.desktop"
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / "lutlab.svg"
    if args.remove:
        for path in (entry, icon):
            path.unlink(missing_ok=True)
        sys.stdout.write(f"removed {entry} and {icon}\n")
        return 0
    contents = {entry: desktop_entry(lutlab_script()).encode("utf-8"), icon: icon_path().read_bytes()}
    for path, data in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as out:
            out.write(data)
    sys.stdout.write(f"wrote {entry}\nwrote {icon}\n")
    return 0
