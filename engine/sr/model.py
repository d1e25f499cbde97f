"""The look-up-table SR nets, written so every output is a function of a few 8-bit pixels.

All nets see one channel (R, G and B go through the same net one by one) and predict a residual
over nearest-neighbour upscaling of the pixel itself, in 1/255 units, as a sum of clamped int8-scaled
branch outputs. That is exactly what the tables store, so the table is the net sampled on a lattice.
A branch is a small point-wise net over the pixels of one sampling pattern (`engine.sr.infer.PATTERNS`),
gathered as channels, so a pattern's inputs can lie anywhere around the pixel:

* **SR-LUT-S** (Jo & Kim 2021): a 2x2 window -> r*r sub-pixels. Rotation ensemble: the net runs on the
  image rotated by 0/90/180/270 degrees (each window then reaches a different side of the pixel) and
  the four rotated-back outputs are averaged. Residual = sum over rotations / (4 * 255).
* **MuLUT** (Li et al. 2022, complementary indexing): three 4-input branches with different patterns
  over the 3x3 neighbourhood -- "S" (2x2 block), "D" (dilated corners), "Y" -- trained jointly, each
  with the rotation ensemble; the 12 terms are averaged, so each output sees a 5x5 window.
  Residual = sum / (12 * 255).
* **EC-LUT** (AAAI 2024): a 2x1 window (the pixel and the one below) -> 9 groups of r*r sub-pixels.
  The expanded convolution adds group g of every pixel to its neighbour at offset g in {-1,0,1}^2, so
  each output sees a 4x3 window through a 2-input (256x256) table. Alpha scaling: the 36 summed
  int8 terms (4 rotations x 9 groups) are multiplied by ``EC_ALPHA`` = 1/16, so each table entry has
  a 1/16-level step and the accumulated rounding error stays well below one level.

Borders: the low-resolution image is reflect-padded (1 px for SR-LUT, 2 px for MuLUT and EC-LUT) on
all sides, which is what the tiled numpy inference in `infer.py` does too.

**Cascade** (MuLUT's second stage, ``stages=2``): a first net of the same kind at scale 1 refines the
low-resolution image itself (one output per pixel, a residual over the pixel), its output is rounded to
8 bits as the table pipeline will round it (straight-through gradient), and the upscaling net runs on
that. Each output then sees twice the context (MuLUT: 9x9) for the price of one more small table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.sr.spec import EC_ALPHA_SHIFT, EC_OFFSETS, GROUPS, INT8_SCALE, PADDING, PATTERNS

KINDS = ("srlut", "mulut", "eclut")


def gather(padded: torch.Tensor, offsets, start: int, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, H, W) padded image -> (B, len(offsets), h, w): channel i holds the pixel at offsets[i]
    from each of the h x w positions whose first pixel sits at padded index `start`."""
    h, w = size
    return torch.cat([padded[:, :, start + dy : start + dy + h, start + dx : start + dx + w] for dy, dx in offsets], 1)


class Branch(nn.Module):
    """One table: point-wise convs over the gathered pattern pixels, ReLU in between, int8-scaled output."""

    def __init__(self, inputs: int, outputs: int, width: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(inputs, width, 1)
        self.body = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(4))
        self.head = nn.Conv2d(width, outputs, 1)
        for conv in [self.first, *self.body, self.head]:
            nn.init.kaiming_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.head.weight, std=1e-3)  # start at nearest-neighbour upscaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, inputs, H, W) in [0, 1] -> (B, outputs, H, W) table values, int8 scale (clamped to +-127)."""
        x = self.first(x.contiguous(memory_format=torch.channels_last))  # 2x faster 1x1 convs on CPU
        for conv in self.body:
            x = conv(F.relu(x))
        return torch.clamp(self.head(F.relu(x)), -1.0, 1.0) * INT8_SCALE


class LutNet(nn.Module):
    """Shared shape: one `Branch` per sampling pattern of `kind`, rotation ensemble, residual over nearest."""

    kind: str

    def __init__(self, scale: int, width: int = 64) -> None:
        super().__init__()
        if scale not in (1, 2, 3, 4):  # 1: the first stage of a cascade
            raise ValueError(f"scale must be 1, 2, 3 or 4, not {scale}")
        self.scale = scale
        self.patterns = PATTERNS[self.kind]
        self.pad = PADDING[self.kind]
        self.groups = GROUPS[self.kind] // len(self.patterns)  # output groups per branch
        per_branch = self.groups * scale * scale
        self.branches = nn.ModuleList(Branch(len(pattern), per_branch, width) for pattern in self.patterns)

    @property
    def outputs(self) -> int:
        """Table columns: every branch's outputs side by side."""
        return len(self.patterns) * self.groups * self.scale * self.scale

    def table_values(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, pattern pixels) inputs in [0, 1] -> (N, outputs) table values (before rounding)."""
        x = windows.reshape(windows.shape[0], -1, 1, 1)
        return torch.cat([branch(x).reshape(windows.shape[0], -1) for branch in self.branches], 1)

    def rotated_sum(self, padded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Sum of the branches' table values for one rotated padded image -> (B, r*r, h, w) in its own frame."""
        pairs = zip(self.branches, self.patterns, strict=True)
        return sum(branch(gather(padded, pattern, self.pad, size)) for branch, pattern in pairs)

    def residual_divisor(self) -> float:
        """Terms averaged per output: patterns x 4 rotations."""
        return float(4 * len(self.patterns))

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

    @property
    def context(self) -> int:
        """Low-resolution pixels each output reads on every side (the reflect padding)."""
        return self.pad


class SRLutNet(LutNet):
    """SR-LUT-S: 2x2 window, four-rotation ensemble; table 17^4 x r^2 (interval 16)."""

    kind = "srlut"


class MuLutNet(LutNet):
    """MuLUT: S, D and Y patterns over the 3x3 neighbourhood, each with the rotation ensemble; table
    17^4 x 3r^2 (one r*r group per pattern)."""

    kind = "mulut"


class ECLutNet(LutNet):
    """EC-LUT: 2x1 window, expanded convolution over 9 neighbour offsets; table 256^2 x 9r^2."""

    kind = "eclut"

    def rotated_sum(self, padded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        r2 = self.scale * self.scale
        # branch outputs for every pixel of the 1-px ring around the image (padded index q + 1)
        groups = self.branches[0](gather(padded, self.patterns[0], self.pad - 1, (h + 2, w + 2)))
        groups = groups.reshape(groups.shape[0], self.groups, r2, h + 2, w + 2)
        total = torch.zeros(groups.shape[0], r2, h, w, device=padded.device)
        for g, (dy, dx) in enumerate(EC_OFFSETS):
            total = total + groups[:, g, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        return total

    def residual_divisor(self) -> float:
        return float(1 << EC_ALPHA_SHIFT)


class CascadeNet(nn.Module):
    """Two stages (MuLUT's cascade): `pre` (scale 1) refines the low-resolution image, its output rounded
    to 8 bits with a straight-through gradient, then `main` upscales it."""

    def __init__(self, pre: LutNet, main: LutNet) -> None:
        super().__init__()
        self.pre, self.main = pre, main
        self.kind, self.scale = main.kind, main.scale

    @property
    def context(self) -> int:
        return self.pre.pad + self.main.pad

    def first_stage(self, lr: torch.Tensor) -> torch.Tensor:
        """The refined low-resolution image, clipped and rounded to 8 bits as the tables do it."""
        refined = torch.clamp(self.pre(lr).float(), 0.0, 1.0)  # float32 even under bf16 autocast: k/255 exact
        return refined + (torch.round(refined * 255.0) / 255.0 - refined).detach()

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.main(self.first_stage(lr))


def build_net(kind: str, scale: int, width: int = 64, stages: int = 1) -> LutNet | CascadeNet:
    """The net of `kind` (see `KINDS`) for upscale factor `scale`; `stages=2` puts a scale-1 net of the
    same kind in front (`CascadeNet`)."""
    nets = {"srlut": SRLutNet, "mulut": MuLutNet, "eclut": ECLutNet}
    if kind not in nets:
        raise ValueError(f"unknown SR model kind {kind!r}; expected one of {', '.join(KINDS)}")
    if stages not in (1, 2):
        raise ValueError(f"an SR net has 1 or 2 stages, not {stages}")
    if stages == 2:
        return CascadeNet(nets[kind](1, width), nets[kind](scale, width))
    return nets[kind](scale, width)
