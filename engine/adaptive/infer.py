"""Using an adaptive preset: load its weights, predict a photo's own LUT, apply it.

The predictor only sees a 256 x 256 downsample, so a 12 MP photo costs one small CNN pass plus the
fusion of the basis LUTs; the result is a `LUT3D` that the GPU preview or `engine.lut.apply_lut` applies
at full resolution and that `.cube` export writes.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.adaptive.data import shrink, to_tensor
from engine.adaptive.model import AdaptiveLUT, ModelConfig
from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.lut import LUT3D, apply_lut
from engine.presets import Preset, PresetError

_cache: dict[tuple[str, int], AdaptiveLUT] = {}


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


@torch.no_grad()
def predict_lut(model: AdaptiveLUT, pixels: np.ndarray, title: str = "") -> LUT3D:
    """This photo's LUT: the predictor runs on a 256 x 256 downsample of `pixels` (H x W x 3 in [0, 1])."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 image, got shape {pixels.shape}")
    small = to_tensor(shrink(pixels, 2 * model.config.predictor_size)).clamp(0.0, 1.0)
    luts, _ = model.fused_luts(small)
    table = luts[0].permute(1, 2, 3, 0).numpy()  # (3, b, g, r) -> (b, g, r, 3)
    return LUT3D(np.clip(table, 0.0, 1.0), title=title)


def enhance(
    pixels: np.ndarray,
    preset: Preset,
    strength: float = 1.0,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, LUT3D]:
    """(enhanced pixels, the photo's LUT at `strength`) for a preset."""
    lut = predict_lut(load_model(preset), pixels, title=f"{preset.name} (adaptive)").blended(strength)
    return apply_lut(pixels, lut, "trilinear", progress=progress, cancel=cancel), lut
