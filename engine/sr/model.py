"""The two look-up-table SR nets, written so every output is a function of a few 8-bit pixels.

Both nets see one channel (R, G and B go through the same net one by one) and predict a residual
over nearest-neighbour upscaling of the pixel itself, in 1/255 units, as a sum of clamped int8-scaled
branch outputs. That is exactly what the tables store, so the table is the net sampled on a lattice:

* **SR-LUT-S** (Jo & Kim 2021): a 2x2 window -> r*r sub-pixels. Rotation ensemble: the net runs on the
  image rotated by 0/90/180/270 degrees (each window then reaches a different side of the pixel) and
  the four rotated-back outputs are averaged. Residual = sum over rotations / (4 * 255).
* **EC-LUT** (AAAI 2024): a 2x1 window (the pixel and the one below) -> 9 groups of r*r sub-pixels.
  The expanded convolution adds group g of every pixel to its neighbour at offset g in {-1,0,1}^2, so
  each output sees a 4x3 window through a 2-input (256x256) table. Alpha scaling: the 36 summed
  int8 terms (4 rotations x 9 groups) are multiplied by ``EC_ALPHA`` = 1/16, so each table entry has
  a 1/16-level step and the accumulated rounding error stays well below one level.

Borders: the low-resolution image is reflect-padded (1 px for SR-LUT, 2 px for EC-LUT) on all sides,
which is what the tiled numpy inference in `infer.py` does too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("srlut", "eclut")
INT8_SCALE = 127.0
SR_ROTATION_DIVISOR = 4  # SR-LUT: mean of the four rotations
EC_ALPHA_SHIFT = 4  # EC-LUT: residual = (sum of 36 int8 terms) >> 4
EC_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


class LutNet(nn.Module):
    """Shared body: first conv over the window, four 1x1 convs, 1x1 head, all with ReLU in between."""

    kind: str
    window: tuple[int, int]
    groups: int
    pad: int

    def __init__(self, scale: int, width: int = 64) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, not {scale}")
        self.scale = scale
        self.first = nn.Conv2d(1, width, self.window)
        self.body = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(4))
        self.head = nn.Conv2d(width, self.groups * scale * scale, 1)
        for conv in [self.first, *self.body, self.head]:
            nn.init.kaiming_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.head.weight, std=1e-3)  # start at nearest-neighbour upscaling

    @property
    def outputs(self) -> int:
        return self.groups * self.scale * self.scale

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """Valid convolution over windows -> table values, int8 scale (clamped to +-127)."""
        x = self.first(x.contiguous(memory_format=torch.channels_last))  # 2x faster 1x1 convs on CPU
        for conv in self.body:
            x = conv(F.relu(x))
        return torch.clamp(self.head(F.relu(x)), -1.0, 1.0) * INT8_SCALE

    def table_values(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, window pixels) inputs in [0, 1] -> (N, outputs) table values (before rounding)."""
        h, w = self.window
        return self.branch(windows.reshape(-1, 1, h, w)).reshape(-1, self.outputs)

    def rotated_sum(self, padded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Sum of table values for one rotated padded image -> (B, r*r, H', W') in its own frame."""
        raise NotImplementedError

    def residual_divisor(self) -> float:
        raise NotImplementedError

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) low-resolution values in [0, 1] -> (B, 1, rH, rW) upscaled (unclipped)."""
        padded = F.pad(lr, (self.pad,) * 4, mode="reflect")
        total = torch.zeros(lr.shape[0], 1, lr.shape[2] * self.scale, lr.shape[3] * self.scale, device=lr.device)
        for k in range(4):
            rotated = torch.rot90(padded, k, (2, 3))
            size = (rotated.shape[2] - 2 * self.pad, rotated.shape[3] - 2 * self.pad)
            out = F.pixel_shuffle(self.rotated_sum(rotated, size), self.scale)
            total = total + torch.rot90(out, -k, (2, 3))
        nearest = lr.repeat_interleave(self.scale, dim=2).repeat_interleave(self.scale, dim=3)
        return nearest + total / (self.residual_divisor() * 255.0)


class SRLutNet(LutNet):
    """SR-LUT-S: 2x2 window, four-rotation ensemble; table 17^4 x r^2 (interval 16)."""

    kind = "srlut"
    window = (2, 2)
    groups = 1
    pad = 1

    def rotated_sum(self, padded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        # the window of pixel p (padded index p + 1) starts at p + 1: valid-conv index p + 1
        return self.branch(padded)[:, :, 1 : h + 1, 1 : w + 1]

    def residual_divisor(self) -> float:
        return float(SR_ROTATION_DIVISOR)


class ECLutNet(LutNet):
    """EC-LUT: 2x1 window, expanded convolution over 9 neighbour offsets; table 256^2 x 9r^2."""

    kind = "eclut"
    window = (2, 1)
    groups = 9
    pad = 2

    def rotated_sum(self, padded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        r2 = self.scale * self.scale
        # branch outputs for every pixel of the 1-px ring around the image (padded index q + 1)
        groups = self.branch(padded)[:, :, 1 : h + 3, 1 : w + 3]
        groups = groups.reshape(groups.shape[0], self.groups, r2, h + 2, w + 2)
        total = torch.zeros(groups.shape[0], r2, h, w, device=padded.device)
        for g, (dy, dx) in enumerate(EC_OFFSETS):
            total = total + groups[:, g, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        return total

    def residual_divisor(self) -> float:
        return float(1 << EC_ALPHA_SHIFT)


def build_net(kind: str, scale: int, width: int = 64) -> LutNet:
    """The net of `kind` ('srlut' or 'eclut') for upscale factor `scale`."""
    nets = {"srlut": SRLutNet, "eclut": ECLutNet}
    if kind not in nets:
        raise ValueError(f"unknown SR model kind {kind!r}; expected one of {', '.join(KINDS)}")
    return nets[kind](scale, width)
