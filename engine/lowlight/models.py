"""The low-light models the editor offers, by name: the classical denoiser (no model), the shipped PairLIE
weights and every model the user trained (`engine.modelfile.user_models("lowlight")`).

A name is what the editor's chooser, the edit sidecar and `enhance(pixels, model=NAME)` here carry: None for the
classical stage, `SHIPPED` for the shipped weights, or the stem of a user's model. Torch is imported only
when a net is used, so the default pipeline stays torch-free.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from engine import modelfile
from engine.lowlight import SHIPPED_WEIGHTS
from engine.lowlight.pipeline import Denoiser
from engine.lowlight.pipeline import enhance as enhance_classical

SHIPPED = "shipped"


def choices() -> list[tuple[str | None, str]]:
    """(name, label) of every model the editor can use, the classical denoiser first."""
    found: list[tuple[str | None, str]] = [(None, "Noise model (classical, no network)")]
    if SHIPPED_WEIGHTS.is_file():
        found.append((SHIPPED, "PairLIE net (shipped)"))
    for model in modelfile.user_models("lowlight"):
        found.append((model.name, f"PairLIE net \u201c{model.name}\u201d (yours)"))
    return found


def weights_path(name: str) -> Path:
    """The weights of a model by name (or a .safetensors file); a typed error listing the known names when
    there is none."""
    if name.endswith(".safetensors"):
        if not Path(name).is_file():
            raise modelfile.ModelFileError(f"{name}: low-light weights not found")
        return Path(name)
    path = SHIPPED_WEIGHTS if name == SHIPPED else modelfile.user_models_dir("lowlight") / f"{name}.safetensors"
    if not path.is_file():
        known = ", ".join(str(model) for model, _ in choices() if model) or "none"
        raise modelfile.ModelFileError(f"no low-light model named {name!r} (available: {known})")
    return path


def denoiser(name: str) -> Denoiser:
    """The PairLIE denoiser of the model `name`, loaded once (again when its file changes)."""
    path = weights_path(name)
    return _load(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Denoiser:
    from engine.lowlight.infer import net_denoiser
    from engine.lowlight.model import load_model

    return net_denoiser(load_model(path)[0])


def enhance(pixels: np.ndarray, *, model: str | None = None, **controls: Any) -> np.ndarray:
    """`engine.lowlight.pipeline.enhance` with the net of the model `model` as its denoiser (None: classical)."""
    return enhance_classical(pixels, **controls, denoiser=denoiser(model) if model else None)
