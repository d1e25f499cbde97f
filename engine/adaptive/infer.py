"""Using an adaptive preset: load its weights, predict a photo's own LUT, apply it.

The predictor only sees a small downsample, so a 12 MP photo costs one small CNN pass plus the fusion of
the basis LUTs; the result is a `LUT3D` that the GPU preview or `engine.lut.apply_lut` applies at full
resolution (tetrahedral, like ffmpeg's lut3d) and that `.cube` export writes.

A *look* preset (kind ``adaptive-look``) names a base adaptive preset (the shipped looks: Auto) and
holds one static LUT: the photo's LUT is the base preset's LUT for this photo followed by the look's,
composed into one `LUT3D` (`compose`). So a look adapts to each photo exactly as well as its base does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.adaptive.data import to_tensor
from engine.adaptive.model import AdaptiveLUT, ModelConfig, capture_evidence
from engine.errors import InputError
from engine.image import shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.lut import LUT3D, apply_lut
from engine.presets import LOOK_KIND, Preset, PresetError, find_preset

SHELF_VIEW = 1024  # clipped shelves are read on every n-th pixel of the photo, n = long side / this (rounded up)
_cache: dict[tuple[str, int], AdaptiveLUT] = {}
_look_cache: dict[tuple[str, int], LUT3D] = {}


def load_model(preset: Preset) -> AdaptiveLUT:
    """The preset's model in eval mode (cached per weights file and modification time)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    key = (str(preset.weights_path), preset.weights_path.stat().st_mtime_ns)
    if key in _cache:
        return _cache[key]
    try:
        config = ModelConfig.from_json(preset.meta["model"])
        model = AdaptiveLUT(config)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise PresetError(f"{preset.json_path}: invalid model description ({exc})") from exc
    try:
        tensors = load_file(str(preset.weights_path))
        model.load_state_dict(tensors, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise PresetError(f"{preset.weights_path}: weights do not match the preset ({exc})") from exc
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise PresetError(f"{preset.weights_path}: weights contain NaN or infinite values")
    model.eval()
    _cache[key] = model
    return model


def load_look(preset: Preset) -> LUT3D:
    """A look preset's own static LUT (cached per weights file and modification time)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    key = (str(preset.weights_path), preset.weights_path.stat().st_mtime_ns)
    if key not in _look_cache:
        try:
            table = load_file(str(preset.weights_path))["look"]
            _look_cache[key] = LUT3D(table.astype(np.float32), title=preset.name)
        except (SafetensorError, KeyError, OSError, InputError) as exc:
            raise PresetError(f"{preset.weights_path}: not a look table ({exc})") from exc
    return _look_cache[key]


def base_preset(preset: Preset) -> Preset:
    """The adaptive preset a look is built on: a preset of the same folder with that stem, else by name."""
    stem = str(preset.meta.get("base", ""))
    if not stem:
        raise PresetError(f'{preset.json_path}: a look preset needs a "base" preset')
    from engine.presets import read_preset

    sibling = preset.json_path.with_name(f"{stem}.json")
    base = read_preset(sibling, preset.shipped) if sibling.is_file() else find_preset(stem)
    if base.meta.get("kind") == LOOK_KIND:
        raise PresetError(f"{preset.json_path}: its base {stem!r} is itself a look")
    return base


def compose(first: LUT3D, then: LUT3D) -> LUT3D:
    """One LUT3D for "first, then `then`" on `then`'s lattice: exact wherever tetrahedral lookup is used.

    `first` is resampled onto the finer lattice (a tetrahedral LUT resampled onto a lattice that subdivides
    its own is the same function), then every lattice value is sent through `then`.
    """
    size = max(first.size, then.size)
    if first.size != size and (size - 1) % (first.size - 1) == 0:
        first = first.resampled(size)
    return first.then(then).with_title(then.title or first.title)


def predictor_view(model: AdaptiveLUT, pixels: np.ndarray) -> torch.Tensor:
    """The small block-mean view (1, 3, h, w) of a photo that the model's predictor and range reading see."""
    view = shrink_by_blocks(pixels, max(2 * model.config.predictor_size, model.config.range_size))
    return to_tensor(view).clamp(0.0, 1.0)


@torch.no_grad()
def predict_lut(model: AdaptiveLUT, pixels: np.ndarray, title: str = "") -> LUT3D:
    """This photo's LUT: the predictor runs on a small square downsample of `pixels` (H x W x 3 in [0, 1])."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 image, got shape {pixels.shape}")
    small = predictor_view(model, pixels)
    evidence = None
    if model.config.white_patch:  # from every pixel, or every n-th: a resize would blur the shelves away
        step = max(1, math.ceil(max(pixels.shape[:2]) / SHELF_VIEW))
        evidence = capture_evidence(to_tensor(pixels[::step, ::step]), model.config)
    luts, _ = model.fused_luts(small, evidence=evidence)
    table = luts[0].permute(1, 2, 3, 0).numpy()  # (3, b, g, r) -> (b, g, r, 3)
    return LUT3D(np.clip(table, 0.0, 1.0), title=title)


def preset_lut(preset: Preset, pixels: np.ndarray, title: str = "") -> LUT3D:
    """This photo's LUT under any preset: an adaptive one predicts it; a look composes its base's with its own."""
    title = title or f"{preset.name} (adaptive)"
    if preset.meta.get("kind") == LOOK_KIND:
        base = predict_lut(load_model(base_preset(preset)), pixels)
        return compose(base, load_look(preset)).with_title(title)
    return predict_lut(load_model(preset), pixels, title=title)


def enhance(
    pixels: np.ndarray,
    preset: Preset,
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, LUT3D]:
    """(enhanced pixels, the photo's LUT at `strength`) for a preset."""
    lut = preset_lut(preset, pixels).blended(strength)
    return apply_lut(pixels, lut, progress=progress, cancel=cancel), lut
