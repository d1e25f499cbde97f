"""Where LUTLab's files are: what ships with it (package data) and what belongs to the user (platform folders).

Shipped files are found through ``importlib.resources``, never by walking up from a source file, so they are
found the same way from a checkout (an editable install) and from an installed wheel. The repository keeps its
layout (``resources/``, ``shaders/``); pyproject.toml maps those folders to the data packages named here.

User folders follow the platform's rules (``platformdirs``: XDG on Linux, so ``$XDG_DATA_HOME`` and
``$XDG_CACHE_HOME`` are honoured) unless ``$LUTLAB_DATA_DIR``, ``$LUTLAB_CACHE_DIR`` or ``$LUTLAB_LOG_DIR``
points elsewhere (tests and portable set-ups).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

APP_NAME = "lutlab"
RESOURCES_PACKAGE = "lutlab_resources"  # the repository's resources/ folder
SHADERS_PACKAGE = "lutlab_shaders"  # the repository's shaders/ folder


def _package_folder(package: str) -> Path:
    """The folder of a data package. LUTLab is installed unpacked (pip always does), so it is a real folder."""
    try:
        folder = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"LUTLab's data package {package!r} is missing: install LUTLab (pip install . or "
            f"./dev.sh setup) instead of running it from an uninstalled checkout"
        ) from exc
    if not isinstance(folder, Path):
        raise RuntimeError(f"LUTLab's data package {package!r} is not a folder ({folder!r}); install it unpacked")
    return folder


def resources_dir() -> Path:
    """Shipped data: models/, presets/, icons/, corpus.json, the desktop entry."""
    return _package_folder(RESOURCES_PACKAGE)


def shipped_models_dir() -> Path:
    return resources_dir() / "models"


def shipped_presets_dir() -> Path:
    return resources_dir() / "presets"


def icon_path() -> Path:
    """The application icon (SVG), used by the window and the desktop entry."""
    return resources_dir() / "icons" / "lutlab.svg"


def shader_path(name: str) -> Path:
    """A GLSL source file shipped in shaders/."""
    return _package_folder(SHADERS_PACKAGE) / name


def _platformdirs():  # imported on first use: the CLI's start-up stays small
    import platformdirs

    return platformdirs


def user_data_dir() -> Path:
    """The user's own models and presets: $LUTLAB_DATA_DIR, else the platform's data folder (~/.local/share/lutlab)."""
    if os.environ.get("LUTLAB_DATA_DIR"):
        return Path(os.environ["LUTLAB_DATA_DIR"])
    return Path(_platformdirs().user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """Rebuildable files (the photo corpus): $LUTLAB_CACHE_DIR, else the platform's cache folder (~/.cache/lutlab)."""
    if os.environ.get("LUTLAB_CACHE_DIR"):
        return Path(os.environ["LUTLAB_CACHE_DIR"])
    return Path(_platformdirs().user_cache_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    """The editor's log file: $LUTLAB_LOG_DIR, else the platform's log folder (~/.local/state/lutlab/log)."""
    if os.environ.get("LUTLAB_LOG_DIR"):
        return Path(os.environ["LUTLAB_LOG_DIR"])
    return Path(_platformdirs().user_log_dir(APP_NAME, appauthor=False))
