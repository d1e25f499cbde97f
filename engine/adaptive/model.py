"""Image-adaptive 3D LUTs (Zeng et al., TPAMI 2020) and the compressed form of CLUT-Net (ACM MM 2022).

A small CNN looks at a 256 x 256 downsample of the photo and predicts one weight per basis LUT; the
weighted sum of the basis LUTs is that photo's own LUT, which is then applied once (fuse first, then
one trilinear pass: the lookup is linear in the table, so this equals blending N looked-up images).
The fused table is an ordinary `LUT3D`, so the GPU preview shows it and `.cube` export writes it.

Torch layout: a LUT is (3, N, N, N) = ``LUT3D.table.transpose(3, 0, 1, 2)``, i.e. indexed
``[channel, b, g, r]``. ``F.grid_sample`` on a 5-D input reads the grid's last axis as (x, y, z) =
(W, H, D) = (r, g, b), which with ``align_corners=True`` maps 0 -> lattice index 0 and 1 -> N-1 exactly.

Variants:
  * plain (Zeng): K basis LUTs of N^3, LUT0 initialised to identity, the others to zero;
    output = sum_k w_k LUT_k.
  * compressed (CLUT-Net): each basis LUT is S x W numbers per channel, expanded by two shared
    matrices ``Ms (N x S) @ C @ Mw (W x N^2)``; the expanded axis of size N is the output channel's own
    input axis (the strongly correlated one). Output is residual: identity + sum_k w_k R_k.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

PREDICTOR_SIZE = 256


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the shape of an adaptive-LUT model (stored in the preset's JSON)."""

    n_luts: int = 3
    lut_size: int = 33
    compressed: bool = False
    rank_strong: int = 5  # S in CLUT-Net
    rank_weak: int = 20  # W in CLUT-Net
    predictor_size: int = PREDICTOR_SIZE  # the predictor's input side; a multiple of 32 (tests use 64 for speed)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        fields = cls.__dataclass_fields__
        return cls(**{k: data[k] for k in fields if k in data})


def identity_lut(size: int) -> torch.Tensor:
    """Identity lattice in torch layout (3, N, N, N): lut[c, b, g, r] = (r, g, b)[c] / (N - 1)."""
    ramp = torch.linspace(0.0, 1.0, size)
    b, g, r = torch.meshgrid(ramp, ramp, ramp, indexing="ij")
    return torch.stack([r, g, b])


def trilinear_lookup(luts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Look up images (B, 3, H, W) in per-image LUTs (B, 3, N, N, N); differentiable in both.

    Inputs are clamped to [0, 1] (the LUT's domain); 0 and 1 land exactly on the lattice's end points.
    """
    batch, _, height, width = images.shape
    grid = images.clamp(0.0, 1.0).permute(0, 2, 3, 1).reshape(batch, 1, height, width, 3) * 2.0 - 1.0
    out = F.grid_sample(luts, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(batch, 3, height, width)


def downsample_for_predictor(images: torch.Tensor, size: int = PREDICTOR_SIZE) -> torch.Tensor:
    """The predictor's view of a photo: a 256 x 256 antialiased bilinear resize (aspect not kept, as in Zeng)."""
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class WeightPredictor(nn.Module):
    """Five stride-2 convs 3->16->32->64->128->128 on 256 x 256, then an 8 x 8 conv to one weight per LUT."""

    def __init__(self, n_luts: int, input_size: int = PREDICTOR_SIZE) -> None:
        super().__init__()
        widths = [3, 16, 32, 64, 128, 128]
        layers: list[nn.Module] = []
        for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if index < 4:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
        head = nn.Conv2d(128, n_luts, input_size // 32)
        with torch.no_grad():  # start near "LUT0 only": w = (1, 0, ...) (plain) or w = 0 (residual)
            head.weight.mul_(0.01)
            head.bias.zero_()
        layers += [nn.Dropout(0.5), head]
        self.body = nn.Sequential(*layers)

    def forward(self, small: torch.Tensor) -> torch.Tensor:
        """small: (B, 3, 256, 256) -> weights (B, n_luts)."""
        return self.body(small).flatten(1)


class PlainBasis(nn.Module):
    """K full basis LUTs (K, 3, N, N, N): LUT0 = identity, the others zero (Zeng's initialisation)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        luts = torch.zeros(config.n_luts, 3, config.lut_size, config.lut_size, config.lut_size)
        luts[0] = identity_lut(config.lut_size)
        self.luts = nn.Parameter(luts)

    def forward(self) -> torch.Tensor:
        return self.luts

    def fuse(self, weights: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bk,kcxyz->bcxyz", weights, self.luts)


class CompressedBasis(nn.Module):
    """CLUT-Net basis: residual LUTs R_k[c] = Ms @ C_k[c] @ Mw, with the size-N axis on input channel c."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        n, s, w = config.lut_size, config.rank_strong, config.rank_weak
        self.size = n
        self.coefficients = nn.Parameter(torch.randn(config.n_luts, 3, s, w) * 1e-3)  # non-zero: gradients flow
        self.strong = nn.Parameter(torch.randn(n, s) / s**0.5)
        self.weak = nn.Parameter(torch.randn(w, n * n) / w**0.5)
        self.register_buffer("identity", identity_lut(n), persistent=False)

    def forward(self) -> torch.Tensor:
        """Expanded residual basis (K, 3, N, N, N) in [channel, b, g, r] layout."""
        n = self.size
        flat = self.strong @ self.coefficients @ self.weak  # (K, 3, N, N*N): axis 2 is the strong one
        channels = []
        for channel in range(3):  # r, g, b: their input axes sit at positions 3, 2, 1 of (K, b, g, r)
            cube = flat[:, channel].reshape(-1, n, n, n)
            channels.append(cube.movedim(1, 3 - channel))
        return torch.stack(channels, dim=1)

    def fuse(self, weights: torch.Tensor) -> torch.Tensor:
        residual = torch.einsum("bk,kcxyz->bcxyz", weights, self.forward())
        return self.identity + residual


class AdaptiveLUT(nn.Module):
    """Weight predictor + basis LUTs; `fused_luts` gives each photo's LUT, `forward` applies it."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.predictor = WeightPredictor(config.n_luts, config.predictor_size)
        if not config.compressed:
            with torch.no_grad():
                self.predictor.body[-1].bias[0] = 1.0
        self.basis: PlainBasis | CompressedBasis = (CompressedBasis if config.compressed else PlainBasis)(config)

    def predict_weights(self, images: torch.Tensor) -> torch.Tensor:
        return self.predictor(downsample_for_predictor(images, self.config.predictor_size))

    def fused_luts(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-image LUTs (B, 3, N, N, N), weights (B, K)) for images (B, 3, H, W) in [0, 1]."""
        weights = self.predict_weights(images)
        return self.basis.fuse(weights), weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(enhanced images, fused LUTs, weights)."""
        luts, weights = self.fused_luts(images)
        return trilinear_lookup(luts, images), luts, weights


def smoothness(luts: torch.Tensor) -> torch.Tensor:
    """Zeng's TV term on (B, 3, N, N, N): squared neighbour differences per axis, edge slices weighted x2."""
    total = luts.new_zeros(())
    for axis in (2, 3, 4):
        diff = luts.narrow(axis, 1, luts.shape[axis] - 1) - luts.narrow(axis, 0, luts.shape[axis] - 1)
        weight = torch.ones(diff.shape[axis], device=luts.device)
        weight[0] = weight[-1] = 2.0
        shape = [1] * diff.ndim
        shape[axis] = -1
        total = total + (diff.square() * weight.reshape(shape)).mean()
    return total


def monotonicity(luts: torch.Tensor) -> torch.Tensor:
    """Penalise each output channel decreasing along its own input axis: mean(ReLU(L[i] - L[i+1])).

    Zeng penalises every channel along every axis; we keep only the own axis because legitimate looks
    (more saturation, a mono mix) make an output fall as *another* input rises.
    """
    total = luts.new_zeros(())
    for channel, axis in ((0, 4), (1, 3), (2, 2)):  # r varies along the last axis, b along the first
        own = luts[:, channel]
        axis -= 1
        drop = own.narrow(axis, 0, own.shape[axis] - 1) - own.narrow(axis, 1, own.shape[axis] - 1)
        total = total + F.relu(drop).mean()
    return total


@dataclass(frozen=True)
class LossWeights:
    smooth: float = 1e-4  # lambda_s (Zeng): TV + mean(w^2)
    monotone: float = 10.0  # lambda_m (Zeng)


def training_loss(
    model: AdaptiveLUT, inputs: torch.Tensor, targets: torch.Tensor, weights: LossWeights = LossWeights()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, mse) = MSE + lambda_s (TV + mean w^2) + lambda_m MN, regularising each fused LUT."""
    outputs, luts, lut_weights = model(inputs)
    mse = F.mse_loss(outputs, targets)
    regular = weights.smooth * (smoothness(luts) + lut_weights.square().mean())
    return mse + regular + weights.monotone * monotonicity(luts), mse
