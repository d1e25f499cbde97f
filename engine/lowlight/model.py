"""PairLIE nets (Fu et al., CVPR 2023), its losses, and safetensors + JSON weight files.

Three small fully convolutional nets: N removes noise (X = N(im)), L predicts a one-channel
illumination from X, R a three-channel reflectance. The enhanced photo is I = L**gamma * R: a gamma
below 1 lifts the illumination while the reflectance (the scene's colours and texture) stays put.

The paper uses 64 channels; LUTLab ships 32 (``DEFAULT_CHANNELS``): a quarter of the multiply-adds,
which is what makes CPU training in minutes and the fast path in seconds possible (see notes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine import modelfile
from engine.fsutil import atomic_path
from engine.modelfile import ModelFileError  # the one error of every model file

KIND = "lowlight"
VERSION = 2  # 2: N with the input skip (see PairLIE)
DEFAULT_CHANNELS = 32
DEFAULT_GAMMA = 0.2
# Loss weights from the paper's code: C + R + 500 P.
WEIGHT_CONSISTENCY, WEIGHT_RETINEX, WEIGHT_FIDELITY = 1.0, 1.0, 500.0
# Each net is five 3x3 convolutions, so the three in sequence (N then L/R) see 2 * 5 = 10 pixels around.
RECEPTIVE_RADIUS = 10


def _five_conv_net(in_channels: int, channels: int, out_channels: int, *, sigmoid: bool = True) -> nn.Sequential:
    """ReflectionPad(1) + Conv3x3 five times, ReLU between, sigmoid output (the paper's block)."""
    layers: list[nn.Module] = []
    widths = [in_channels, channels, channels, channels, channels, out_channels]
    for index in range(5):
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(widths[index], widths[index + 1], 3)]
        if index < 4:
            layers.append(nn.ReLU(inplace=True))
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class PairLIE(nn.Module):
    """Denoiser N, illumination L and reflectance R nets; forward returns (L, R, X).

    One change to the paper: N adds its output to the input's logit before the sigmoid, and its last
    convolution starts at zero, so X = N(im) starts as exactly im. The paper's N must learn the identity
    from scratch; in a CPU-sized training run it did not get there (X stayed ~34 dB from the input, an
    error the brightening then multiplies), while the skip leaves all training to the denoising.
    """

    def __init__(self, channels: int = DEFAULT_CHANNELS) -> None:
        super().__init__()
        self.channels = channels
        self.N_net = _five_conv_net(3, channels, 3, sigmoid=False)
        self.L_net = _five_conv_net(3, channels, 1)
        self.R_net = _five_conv_net(3, channels, 3)
        last = self.N_net[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None  # N starts as the identity
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        denoised = torch.sigmoid(self.N_net(image) + torch.logit(image, eps=1e-3))
        return self.L_net(denoised), self.R_net(denoised), denoised


def enhance_from_maps(
    illumination: torch.Tensor, reflectance: torch.Tensor, gamma: float, exposure: float = 1.0
) -> torch.Tensor:
    """I = min(1, exposure * L**gamma) * R: lift the illumination, keep the reflectance.

    exposure 1 is the paper's I = L**gamma * R. A gamma below 1 lifts shadows more than highlights (a local
    tone map); the exposure scales the lifted illumination like a camera's exposure, clipping at white.
    """
    return (illumination.clamp_min(1e-6).pow(gamma) * exposure).clamp_(max=1.0) * reflectance


# ---- losses (each takes N x C x H x W tensors in [0, 1]) ----


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute central difference (two pixels apart) along rows plus along columns, as in the paper."""
    rows = (image[:, :, 2:, :] - image[:, :, :-2, :]).abs().mean()
    cols = (image[:, :, :, 2:] - image[:, :, :, :-2]).abs().mean()
    return rows + cols


def consistency_loss(reflectance_1: torch.Tensor, reflectance_2: torch.Tensor) -> torch.Tensor:
    """C: two exposures of one scene share their reflectance."""
    return torch.mean((reflectance_1 - reflectance_2) ** 2)


def retinex_loss(
    illumination: torch.Tensor, reflectance: torch.Tensor, image: torch.Tensor, denoised: torch.Tensor
) -> torch.Tensor:
    """R: L*R rebuilds X, R matches X / L, L stays near max over channels of the input and smooth."""
    reconstruction = torch.mean((illumination * reflectance - denoised) ** 2)
    reflectance_fit = torch.mean((reflectance - denoised / illumination.detach().clamp_min(1e-3)) ** 2)
    prior = torch.mean((illumination - image.amax(dim=1, keepdim=True)) ** 2)
    return reconstruction + reflectance_fit + prior + total_variation(illumination)


def fidelity_loss(image: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """P: the denoised X stays close to the input."""
    return torch.mean((image - denoised) ** 2)


@dataclass
class LossTerms:
    consistency: torch.Tensor
    retinex: torch.Tensor
    fidelity: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return WEIGHT_CONSISTENCY * self.consistency + WEIGHT_RETINEX * self.retinex + WEIGHT_FIDELITY * self.fidelity


def pair_loss(model: PairLIE, first: torch.Tensor, second: torch.Tensor) -> LossTerms:
    """The paper's loss on a batch of aligned exposure pairs, with R and P averaged over both exposures.

    The maps are taken as float32, so under bfloat16 autocast only the convolutions lose precision.
    """
    l1, r1, x1 = (part.float() for part in model(first))
    l2, r2, x2 = (part.float() for part in model(second))
    return LossTerms(
        consistency=consistency_loss(r1, r2),
        retinex=0.5 * (retinex_loss(l1, r1, first, x1) + retinex_loss(l2, r2, second, x2)),
        fidelity=0.5 * (fidelity_loss(first, x1) + fidelity_loss(second, x2)),
    )


# ---- weight files ----


@dataclass
class ModelInfo:
    """The JSON sidecar: what the weights are and how they were made."""

    channels: int = DEFAULT_CHANNELS
    data: str | dict = ""  # a folder path, or (shipped) the corpus description
    steps: int = 0
    seed: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND
    version: int = VERSION


def sidecar_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def save_model(model: PairLIE, path: str | Path, info: ModelInfo) -> None:
    """Write `path` (safetensors) and its `.json` sidecar, each atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {name: value.detach().contiguous().cpu() for name, value in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"kind": KIND, "version": str(VERSION)})
    write_sidecar(path, info)


def write_sidecar(weights: str | Path, info: ModelInfo) -> None:
    """(Re)write the JSON sidecar of `weights`, e.g. after scoring a freshly saved model."""
    with atomic_path(sidecar_path(Path(weights))) as tmp:
        tmp.write_text(json.dumps(info.__dict__, indent=2) + "\n")


def load_model(path: str | Path) -> tuple[PairLIE, ModelInfo]:
    """Read weights written by `save_model` (safetensors: no code runs) into an eval-mode model."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta_path = sidecar_path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: low-light weights not found")
    if not meta_path.is_file():
        raise ModelFileError(f"{meta_path}: JSON sidecar of {path.name} not found")
    try:
        meta = modelfile.read_sidecar(meta_path, ModelFileError, optional={"channels": modelfile.integer(1, 256)})
        info = ModelInfo(**meta)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelFileError(f"{meta_path}: not a low-light model description ({exc})") from exc
    if info.kind != KIND:
        raise ModelFileError(f"{meta_path}: kind is {info.kind!r}, expected {KIND!r}")
    if info.version != VERSION:
        raise ModelFileError(f"{meta_path}: low-light model version {info.version}, this LUTLab reads {VERSION}")
    model = PairLIE(info.channels)
    try:
        modelfile.check_safetensors(path, ModelFileError)
        state = load_file(str(path))
        modelfile.check_finite(state, path, ModelFileError)  # all-NaN weights would give black photos
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ModelFileError(f"{path}: weights do not fit a {info.channels}-channel PairLIE ({exc})") from exc
    return model.eval(), info
