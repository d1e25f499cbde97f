"""Image-adaptive 3D LUTs (Zeng et al., TPAMI 2020) and the compressed form of CLUT-Net (ACM MM 2022).

A small predictor looks at a square downsample of the photo (256 x 256 for the plain and compressed
variants, 64 x 64 for the physical one) and predicts one weight per basis LUT; the
weighted sum of the basis LUTs is that photo's own LUT, which is then applied once (fuse first, then
one tetrahedral pass: the lookup is linear in the table, so this equals blending N looked-up images).
The fused table is an ordinary `LUT3D`, so the GPU preview shows it and `.cube` export writes it.

Torch layout: a LUT is (3, N, N, N) = ``LUT3D.table.transpose(3, 0, 1, 2)``, i.e. indexed
``[channel, b, g, r]``. ``F.grid_sample`` on a 5-D input reads the grid's last axis as (x, y, z) =
(W, H, D) = (r, g, b), which with ``align_corners=True`` maps 0 -> lattice index 0 and 1 -> N-1 exactly.

Variants:
  * physical (the default for new presets): the first 7 weights are the amounts of an analytic correction
    along physical directions (`engine.lut.adjust`: saturation, contrast, black and white point, then
    exposure, temperature and tint in linear light: the order that undoes a capture), applied to the
    identity lattice; the remaining `n_luts` weights mix learned residual LUTs on top. Zero weights are
    exactly the identity, so "leave a good photo alone" is the easiest thing to predict, and every
    single-direction correction is expressible exactly (`expressible_share` measures it). The predictor
    sees global statistics of the photo (channel means in linear light, luminance and channel percentiles,
    chroma, clipping) beside the CNN's pooled features.
  * plain (Zeng): K basis LUTs of N^3, LUT0 initialised to identity, the others to zero;
    output = sum_k w_k LUT_k.
  * compressed (CLUT-Net): each basis LUT is S x W numbers per channel, expanded by two shared
    matrices ``Ms (N x S) @ C @ Mw (W x N^2)``; the expanded axis of size N is the output channel's own
    input axis (the strongly correlated one). Output is residual: identity + sum_k w_k R_k.

One module because the predictors, the bases, the lookups and the losses are one model: the fused LUT a
preset file stores (`engine.adaptive.infer` uses it, `engine.adaptive.train` fits it).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.adaptive.synthetic import to_linear, to_srgb
from engine.lut.adjust import MID_GREY

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
    physical: bool = False  # analytic correction + n_luts learned residuals; predictor with global statistics
    cnn_width: int = 128  # physical: channels of the predictor CNN's last layers (0: global statistics only)
    cnn_dropout: float = 0.0  # physical: dropout on the pooled CNN features (they see scenes, which can be memorised)
    hidden: int = 128  # physical: width of the predictor's hidden layer (0: linear in the features)
    stretch: bool = False  # physical: one more weight, the strength of a per-channel stretch to the photo's own range
    levels: bool = False  # physical: one more weight, a stretch of all channels together to the photo's own range
    range_size: int = 0  # physical: the side of the view the photo's range is read from (0: the predictor's view)
    # physical levels: trusted from none to fully as the dimmest channel's high end goes from levels_from to
    # levels_full times the brightest's (see `highlight_trust`)
    levels_from: float = 0.5
    levels_full: float = 0.8
    # physical levels leave a photo whose range already reaches these ends alone (see `_stretch`)
    levels_low: float = 0.0
    levels_high: float = 1.0
    # physical: first restore the black and white that clipped shelves prove (see `clipped_shelves`); a shelf
    # counts when it covers shelf_from..shelf_to of the photo
    white_patch: bool = False
    shelf_from: float = 5e-4
    shelf_to: float = 0.1
    unflatten: bool = False  # physical white patch: also undo a flattening both of the photo's ends prove
    # physical, no learned LUTs: the lattice a photo's LUT is built on outside training (0: lut_size). The
    # correction is analytic, so a finer lattice follows its steep curves (restored exposures, unflattened
    # contrast) more closely; training keeps lut_size (8x cheaper per batch at 33 than at 65)
    apply_size: int = 0

    def __post_init__(self) -> None:
        if self.apply_size not in (0, self.lut_size) and (self.n_luts or not self.physical):
            raise ValueError("apply_size needs a physical model without learned LUTs (they live on lut_size)")

    @property
    def applied_size(self) -> int:
        """The lattice side of the LUTs the model gives outside training."""
        return self.apply_size or self.lut_size

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


def tetrahedral_lookup(luts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Tetrahedral lookup of images (B, 3, H, W) in per-image LUTs (B, 3, N, N, N); differentiable in both.

    The same interpolation as `engine.lut.apply_lut`'s default and ffmpeg's lut3d default: the cell is cut
    into six tetrahedra by the order of the fractions, so a LUT trained here is applied exactly as trained.
    """
    batch, _, height, width = images.shape
    n = luts.shape[-1]
    pos = images.clamp(0.0, 1.0) * (n - 1)
    corner = pos.detach().floor().clamp(max=n - 2)
    fraction = pos - corner  # (B, 3, H, W), channel order r, g, b
    strides = torch.tensor([1, n, n * n], device=images.device)  # r fastest in the flat [b, g, r] layout
    base = (corner.long() * strides.reshape(1, 3, 1, 1)).sum(1)  # (B, H, W)
    # the axes from the largest fraction to the smallest (ties: any order gives the same value); three
    # comparisons instead of a sort, which is slow on a size-3 axis
    largest = fraction.argmax(dim=1)  # (B, H, W), first of equal maxima
    smallest = 2 - fraction.flip(1).argmin(dim=1)  # last of equal minima: never the same axis as `largest`
    middle = 3 - largest - smallest
    first = base + strides[largest]
    second = first + strides[middle]
    last = base + (1 + n + n * n)
    flat = luts.reshape(batch, 3, -1)

    def fetch(index: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, index.reshape(batch, 1, -1).expand(batch, 3, -1)).reshape(batch, 3, height, width)

    f1 = fraction.gather(1, largest.unsqueeze(1))
    f2 = fraction.gather(1, middle.unsqueeze(1))
    f3 = fraction.gather(1, smallest.unsqueeze(1))
    return (1 - f1) * fetch(base) + (f1 - f2) * fetch(first) + (f2 - f3) * fetch(second) + f3 * fetch(last)


def downsample_for_predictor(images: torch.Tensor, size: int = PREDICTOR_SIZE) -> torch.Tensor:
    """The predictor's view of a photo: a size x size antialiased bilinear resize (aspect not kept, as in Zeng)."""
    if images.shape[-2:] == (size, size):
        return images
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
            if head.bias is not None:
                head.bias.zero_()
        layers += [nn.Dropout(0.5), head]
        self.body = nn.Sequential(*layers)

    @property
    def head(self) -> nn.Conv2d:
        """The last layer (one output per basis LUT)."""
        layer = self.body[-1]
        assert isinstance(layer, nn.Conv2d)
        return layer

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
    identity: torch.Tensor

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


QUANTILES = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)
CHANNEL_QUANTILES = (0.0, 0.001, 0.01, 0.5, 0.99, 0.999, 1.0)
CHROMA_QUANTILES = (0.5, 0.9, 0.99)
N_STATS = 3 + 2 + 4 + len(QUANTILES) + 3 * len(CHANNEL_QUANTILES) + 1 + len(CHROMA_QUANTILES) + 6 + 2
_LUMA = (0.2126, 0.7152, 0.0722)


def _quantiles(values: torch.Tensor, qs: tuple[float, ...]) -> torch.Tensor:
    """Quantiles along the last axis by one sort (nearest rank): (..., len(qs))."""
    ordered = values.sort(dim=-1).values
    count = values.shape[-1]
    index = torch.tensor([min(count - 1, round(q * (count - 1))) for q in qs], device=values.device)
    return ordered.index_select(-1, index)


def global_statistics(small: torch.Tensor) -> torch.Tensor:
    """(B, N_STATS) numbers that describe a photo's exposure, colour balance, tone range and colourfulness.

    Log channel means in linear light and the log chroma ratios R/G, B/G of those means (grey world); the
    same ratios for the brightest and the darkest 2 % of pixels (white patch, neutral shadows); Rec.709 luma
    quantiles from the minimum to the maximum (exposure, contrast, black and white points); per-channel
    quantiles; mean and 50/90/99 % chroma (saturation); per channel the shares of clipped-white and
    crushed-black pixels, and the shares where all channels clip or crush.
    """
    x = small.detach().float().clamp(0.0, 1.0)
    batch = x.shape[0]
    linear = to_linear(x)
    log_means = (linear.mean(dim=(2, 3)) + 1e-4).log()
    flat = x.reshape(batch, 3, -1)
    flat_linear = linear.reshape(batch, 3, -1)
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).reshape(1, 3, 1)
    y = (flat * weights).sum(1)  # (B, P)
    order = y.argsort(dim=1)
    share = max(1, y.shape[1] // 50)

    def log_ratios(index: torch.Tensor) -> torch.Tensor:
        picked = flat_linear.gather(2, index.unsqueeze(1).expand(-1, 3, -1)).mean(2) + 1e-4
        logs = picked.log()
        return torch.stack([logs[:, 0] - logs[:, 1], logs[:, 2] - logs[:, 1]], 1)

    ratios = torch.stack([log_means[:, 0] - log_means[:, 1], log_means[:, 2] - log_means[:, 1]], dim=1)
    patches = torch.cat([log_ratios(order[:, -share:]), log_ratios(order[:, :share])], 1)
    chroma = (flat - y.unsqueeze(1)).abs().amax(1)  # (B, P)
    chroma_stats = torch.cat([chroma.mean(1, keepdim=True), _quantiles(chroma, CHROMA_QUANTILES)], 1)
    clipped = torch.cat([(flat >= 0.995).float().mean(2), (flat <= 0.005).float().mean(2)], 1)
    all_clipped = torch.stack([(flat.amin(1) >= 0.995).float().mean(1), (flat.amax(1) <= 0.005).float().mean(1)], 1)
    return torch.cat(
        [
            log_means / 4.0,
            ratios,
            patches,
            _quantiles(y, QUANTILES),
            _quantiles(flat, CHANNEL_QUANTILES).reshape(batch, -1),
            chroma_stats * 2.0,
            clipped * 4.0,
            all_clipped * 4.0,
        ],
        dim=1,
    )


class StatsPredictor(nn.Module):
    """CNN features (globally pooled) beside `global_statistics`, then a small MLP to one weight per LUT.

    The CNN (five stride-2 convs 3->16->32->64->128->128) sees the scene; the statistics carry the exact
    colour balance and tone range that instance normalisation hides from it. The last layer starts at zero,
    so an untrained model predicts zero weights: the identity.
    """

    def __init__(self, n_luts: int, cnn_width: int = 128, cnn_dropout: float = 0.0, hidden: int = 128) -> None:
        super().__init__()
        self.body: nn.Module | None = None
        if cnn_width:
            widths = [3, max(1, cnn_width // 8), max(1, cnn_width // 4), max(1, cnn_width // 2), cnn_width, cnn_width]
            layers: list[nn.Module] = []
            for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
                layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
                if index < 4:
                    layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cnn_dropout)]
            self.body = nn.Sequential(*layers)
        last = nn.Linear(hidden or cnn_width + N_STATS, n_luts)  # one weight per output, starting at zero
        if hidden:
            self.stats: nn.Module = nn.Sequential(nn.Linear(N_STATS, 64), nn.LeakyReLU(0.2))
            self.head = nn.Sequential(nn.Linear(cnn_width + 64, hidden), nn.LeakyReLU(0.2), last)
        else:
            self.stats = nn.Identity()
            self.head = nn.Sequential(last)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()

    @property
    def last(self) -> nn.Linear:
        """The layer whose outputs are the weights (training freezes some of its rows)."""
        layer = self.head[-1]
        assert isinstance(layer, nn.Linear)
        return layer

    def forward(self, small: torch.Tensor) -> torch.Tensor:
        features = self.stats(global_statistics(small))
        if self.body is not None:
            features = torch.cat([self.body(small), features], dim=1)
        return self.head(features)


def correct(x: torch.Tensor, amounts: torch.Tensor) -> torch.Tensor:
    """`engine.lut.adjust.Adjustments.apply_reversed` in torch, differentiable in both arguments.

    x: (B, 3, ...) sRGB values; amounts: (B, 7) in `DIRECTIONS` order (exposure, temperature, tint, black, white,
    contrast, saturation). Saturation, contrast, levels, then the light gains: the order that undoes a capture.
    """
    shape = (x.shape[0], 1, *([1] * (x.ndim - 2)))
    exposure, temperature, tint, black, white, slope, chroma = (amounts[:, i].reshape(shape) for i in range(7))
    x = x.clamp(0.0, 1.0)
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).reshape(1, 3, *([1] * (x.ndim - 2)))
    y = (x * weights).sum(1, keepdim=True)
    x = (y + chroma.exp() * (x - y)).clamp(0.0, 1.0)
    x = (0.5 + slope.exp() * (x - 0.5)).clamp(0.0, 1.0)
    x = ((x - black) / (1.0 - white - black)).clamp(0.0, 1.0)
    gains = torch.cat([temperature, tint, -temperature], dim=1).exp() * torch.exp2(exposure)
    return to_srgb((to_linear(x) * gains).clamp(0.0, 1.0))


STRETCH_QUANTILES = (0.001, 0.999)  # a photo's own range per channel, for the stretch (Pillow's autocontrast
STRETCH_BIAS = -2.0  # uses min and max); the stretch starts at sigmoid(-2) = 12 % (near the identity)


def photo_ranges(small: torch.Tensor) -> torch.Tensor:
    """(B, 3, 2): each channel's robust minimum and maximum (0.1 % and 99.9 % quantiles) of the predictor's view."""
    return _quantiles(small.detach().float().clamp(0.0, 1.0).flatten(2), STRETCH_QUANTILES)


def _stretch(
    lattice: torch.Tensor,
    logit: torch.Tensor,
    gate: torch.Tensor,
    ranges: torch.Tensor,
    keep: tuple[float, float] = (0.0, 1.0),
) -> torch.Tensor:
    """Levels from each photo's range (B, 3 or 1, 2) out to at least `keep` (a range a good photo may keep as
    it is: the photo's low end goes to min(low, keep[0]), its high end to max(high, keep[1])), blended with the
    identity by strength gate * sigmoid(logit)."""
    batch = lattice.shape[0]
    strength = (gate * torch.sigmoid(logit)).reshape(batch, 1, 1)
    low, high = ranges[:, :, 0:1], ranges[:, :, 1:2]
    to_low, to_high = low.clamp_max(keep[0]), high.clamp_min(keep[1])
    gain = (to_high - to_low) / (high - low).clamp_min(0.05)
    scale = strength * gain + (1.0 - strength)
    offset = strength * (to_low - low * gain)
    shape = (batch, -1, *([1] * (lattice.ndim - 2)))
    return (lattice * scale.reshape(shape) + offset.reshape(shape)).clamp(0.0, 1.0)


def highlight_trust(ranges: torch.Tensor, start: float, full: float) -> torch.Tensor:
    """(B,) how far levels may be trusted: 0 when the photo's brightest pixels are strongly coloured (the dimmest
    channel's high end below `start` x the brightest's), 1 when they are near-neutral (above `full` x).

    A dimmed white (under-exposure, flat contrast) keeps its channels together; a night sky, a sunset or a
    candle-lit room has coloured highlights and no white to restore: stretching it would brighten a photo
    that is dark by nature."""
    highs = ranges[:, :, 1]
    ratio = highs.amin(1) / highs.amax(1).clamp_min(1e-3)
    return ((ratio - start) / max(full - start, 1e-3)).clamp(0.0, 1.0)


SHELF_TOLERANCE = 2e-4  # a pixel this close to its channel's extreme sits on the shelf (clipped data are exact)
SHELF_MAX_EV = 2.5  # the largest brightening a shelf may prove: a darker "shelf" is no evidence (see below)
SHELF_FLOOR = float(to_srgb(torch.tensor(2.0**-SHELF_MAX_EV)))  # the darkest white level that stays that far


def clipped_shelves(images: torch.Tensor, share_from: float, share_to: float) -> torch.Tensor:
    """(B, 3, 2): per channel the black and the white that the photo's clipped shelves prove; (0, 1) where none.

    A clipped highlight (a sensor or a file at its maximum in every channel) was white. A photo darkened,
    colour-cast or flattened after the clip keeps it as a shelf: many pixels sharing exactly each channel's
    maximum. Its level says how far each channel was scaled, so restoring it to white is exact (the white
    patch of Land's retinex, trusted only where the clip proves it). Without a white shelf, the highest shelf of
    any channel (a clipped coloured highlight) gives one level for all channels. Crushed blacks lifted together
    (a flattened photo) are a shelf at the bottom. A shelf under `share_from` of the pixels is chance, one over
    `share_to` a flat field; a photo with no shelf gets (0, 1): Auto does not guess what it cannot see. Nor does
    a shelf more than SHELF_MAX_EV below white count: that is a dark photo's own top (a night scene, a dim
    close-up whose brightest code values tie), not a darkened clip.
    Pass every pixel, or a strided subsample: averaging (a resize) blurs shelves away."""
    x = images.detach().float().clamp(0.0, 1.0).flatten(2)  # (B, 3, P)
    top, bottom = x.amax(2), x.amin(2)  # (B, 3)
    at_top = x >= top.unsqueeze(2) - SHELF_TOLERANCE
    at_bottom = x <= bottom.unsqueeze(2) + SHELF_TOLERANCE

    def proven(share: torch.Tensor) -> torch.Tensor:
        return (share >= share_from) & (share <= share_to)

    black_shelf = proven(at_bottom.all(1).float().mean(1)) & (bottom.amax(1) > 0.01)  # (B,)
    black = torch.where(black_shelf.unsqueeze(1), bottom, torch.zeros_like(bottom))
    white = ((top - black) / (1.0 - black).clamp_min(1e-3)).clamp(0.0, 1.0)
    white_shelf = proven(at_top.all(1).float().mean(1))  # (B,)
    coloured = proven(at_top.float().mean(2))  # (B, 3)
    highest = torch.where(coloured, white, torch.zeros_like(white)).amax(1, keepdim=True).expand_as(white)
    level = torch.where(
        white_shelf.unsqueeze(1), white, torch.where(coloured.any(1, keepdim=True), highest, torch.ones_like(white))
    )
    dark = (level < SHELF_FLOOR).any(1, keepdim=True)  # a "white" this dark is a dark photo's own top, not a clip
    return torch.stack([black, torch.where(dark, torch.ones_like(level), level)], dim=2)


UNFLATTEN_QUANTILE = 5e-4  # a photo's ends: this share of its darkest and brightest channel values
UNFLATTEN_FULL, UNFLATTEN_NONE = 0.85, 0.92  # flattening slopes undone fully / not at all (ramp between)
UNFLATTEN_AGREEMENT = 0.3  # |log| gap between the slopes the two ends say at which they stop agreeing
UNFLATTEN_VETO = 0.03  # how far below the black a white shelf's flattening would leave a photo's black may be
UNFLATTEN_MIN = 0.5  # a photo squeezed further is a flat field (fog, a wall, a grey card), not a flattened photo


def flattened_slope(images: torch.Tensor, shelves: torch.Tensor) -> torch.Tensor:
    """(B,): the contrast slope (<= 1) a flattened photo was squeezed by, about mid grey; 1 where none is proven.

    Flat contrast pulls both ends of a photo towards the pivot by the same slope: its black rises to
    pivot * (1 - k), its white falls to pivot + k * (1 - pivot). A photo whose two ends say the same k was
    flattened; undoing it restores both. Where the ends disagree the photo is dim, hazy or desaturated by
    nature, not flattened: a dim photo keeps its black, a desaturated one lifts its black but not by its
    white's slope. A white shelf below 1 whose slope would leave the black far lower is an exposure, not a
    flattening. Slopes above UNFLATTEN_NONE (what good photos show) are kept; the correction ramps in fully
    by UNFLATTEN_FULL; a slope under UNFLATTEN_MIN is a flat field, whose noise a stretch would only amplify.
    Read on every pixel or a strided subsample, like the shelves."""
    x = images.detach().float().clamp(0.0, 1.0).flatten(2)
    ends = _quantiles(x, (UNFLATTEN_QUANTILE, 1.0 - UNFLATTEN_QUANTILE))  # (B, 3, 2)
    low, high = ends[:, :, 0].amin(1), ends[:, :, 1].amax(1)
    from_low = ((MID_GREY - low) / MID_GREY).clamp(0.05, 1.0)
    from_high = ((high - MID_GREY) / (1.0 - MID_GREY)).clamp(0.05, 1.0)
    slope = torch.maximum(from_low, from_high)
    trust = ((UNFLATTEN_NONE - slope) / (UNFLATTEN_NONE - UNFLATTEN_FULL)).clamp(0.0, 1.0)
    trust = trust * (1.0 - (from_low / from_high).log().abs() / UNFLATTEN_AGREEMENT).clamp(0.0, 1.0)
    trust = torch.where(slope < UNFLATTEN_MIN, torch.zeros_like(trust), trust)
    white = shelves[:, :, 1].amax(1)
    exposed = (white < 1.0) & (low < MID_GREY * (1.0 - (white - MID_GREY) / (1.0 - MID_GREY)) - UNFLATTEN_VETO)
    return torch.where(exposed, torch.ones_like(slope), torch.exp(trust * slope.log()))


def capture_evidence(images: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(B, 3, 3): per channel the proven black and white (`clipped_shelves`) and the photo's flattening slope
    (`flattened_slope`, 1 unless ``config.unflatten``): what `restore_capture` undoes before the network."""
    shelves = clipped_shelves(images, config.shelf_from, config.shelf_to)
    slope = flattened_slope(images, shelves) if config.unflatten else shelves.new_ones(len(shelves))
    return torch.cat([shelves, slope.reshape(-1, 1, 1).expand(-1, 3, 1)], dim=2)


def restore_capture(lattice: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """Undo a proven flattening (contrast about mid grey, on the encoded values, as it was made), then send each
    channel's proven black to 0 (levels on the encoded values) and its proven white to 1 (a gain in linear
    light, as exposure and white balance act). The shelves were read on the flattened photo, so they are
    unflattened first."""
    shape = (lattice.shape[0], 3, *([1] * (lattice.ndim - 2)))
    black, white, slope = (evidence[:, :, i].reshape(shape) for i in range(3))
    low, high = MID_GREY * (1.0 - slope), MID_GREY + slope * (1.0 - MID_GREY)

    def unflatten(values: torch.Tensor) -> torch.Tensor:
        return ((values - low) / (high - low)).clamp(0.0, 1.0)

    x, black, white = unflatten(lattice), unflatten(black), unflatten(white).clamp_min(SHELF_FLOOR)
    x = ((x - black) / (1.0 - black)).clamp(0.0, 1.0)
    return to_srgb((to_linear(x) / to_linear(white)).clamp(0.0, 1.0))


class PhysicalBasis(nn.Module):
    identity: torch.Tensor
    applied_identity: torch.Tensor
    limits: torch.Tensor
    gates: torch.Tensor

    """The identity sent through the analytic correction (`correct`) with 7 predicted amounts, plus learned
    residual LUTs with the remaining weights. Zero weights are exactly the identity.

    With ``stretch``, weight 8 sets how far each channel is first stretched from the photo's own range to the
    full range (per-channel levels, as an auto-contrast does; strength sigmoid(w + STRETCH_BIAS)). With
    ``levels``, the next weight stretches all channels together, from the darkest channel's low end to the
    brightest channel's high end (levels that keep the colour: under-exposure and flat contrast are undone
    without the casts a per-channel stretch gives a photo whose channels do not all span the range), as far as
    `highlight_trust` allows. The
    photo's range comes from a `ModelConfig.range_size` view (area-averaged views lose their extremes).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from engine.lut.adjust import DIRECTIONS, LIMITS

        n = config.lut_size
        self.stretch = config.stretch
        self.levels = config.levels
        self.levels_trust = (config.levels_from, config.levels_full)
        self.levels_keep = (config.levels_low, config.levels_high)
        self.white_patch = config.white_patch
        self.learned = nn.Parameter(torch.randn(config.n_luts, 3, n, n, n) * 1e-3)  # non-zero: gradients flow
        identity = identity_lut(n)
        self.register_buffer("identity", identity, persistent=False)
        applied = identity if config.applied_size == n else identity_lut(config.applied_size)  # shared when equal
        self.register_buffer("applied_identity", applied, persistent=False)
        self.register_buffer("limits", torch.tensor([LIMITS[d] for d in DIRECTIONS]), persistent=False)
        # how much of each predicted weight is used (1: all); set on held-out photos after training (calibration)
        self.register_buffer("gates", torch.ones(n_weights(config)))

    def forward(self) -> torch.Tensor:
        """The learned residual LUTs (n_luts, 3, N, N, N)."""
        return self.learned

    def amounts(self, weights: torch.Tensor) -> torch.Tensor:
        """The correction's amounts (B, 7): the first 7 weights, squashed smoothly into each control's range."""
        k = len(self.limits)
        return self.gates[:k] * self.limits * torch.tanh(weights[:, :k] / self.limits)

    def fuse(
        self, weights: torch.Tensor, ranges: torch.Tensor | None = None, evidence: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, k = weights.shape[0], len(self.limits)
        lattice = (self.identity if self.training else self.applied_identity).expand(batch, -1, -1, -1, -1)
        if self.white_patch and evidence is not None:
            lattice = restore_capture(lattice, evidence)
        if self.stretch:
            if ranges is not None:
                lattice = _stretch(lattice, weights[:, k] + STRETCH_BIAS, self.gates[k], ranges)
            k += 1
        if self.levels:
            if ranges is not None:
                common = torch.stack([ranges[:, :, 0].amin(1), ranges[:, :, 1].amax(1)], 1).unsqueeze(1)
                trust = self.gates[k] * highlight_trust(ranges, *self.levels_trust)
                lattice = _stretch(lattice, weights[:, k] + STRETCH_BIAS, trust, common, self.levels_keep)
            k += 1
        base = correct(lattice, self.amounts(weights))
        if not len(self.learned):
            return base
        return base + torch.einsum("bk,kcxyz->bcxyz", weights[:, k:] * self.gates[k:], self.learned)


def n_weights(config: ModelConfig) -> int:
    """How many weights the predictor outputs (physical: 7 correction amounts, then one per learned LUT)."""
    if config.physical:
        from engine.lut.adjust import DIRECTIONS

        return len(DIRECTIONS) + int(config.stretch) + int(config.levels) + config.n_luts
    return config.n_luts


def expressible_share(model: AdaptiveLUT, residual: torch.Tensor, steps: int = 300) -> float:
    """Share (0..1) of a correction (residual over the identity, (3, N, N, N) on the model's lattice) that the
    model's basis can express with the best possible weights, over the whole cube: 1 - |miss|^2 / |residual|^2.

    Linear bases (plain, compressed): a least-squares projection. Physical: the weights are fitted (L-BFGS).
    """
    n = model.config.lut_size
    identity = identity_lut(n)
    residual = residual.detach().double()
    energy = float(residual.square().sum())
    if energy == 0.0:
        return 1.0
    if model.config.physical:
        weights = torch.zeros(1, n_weights(model.config), dtype=torch.float64, requires_grad=True)
        basis = copy.deepcopy(model.basis).double().train()  # on lut_size, the lattice `residual` is on
        optimizer = torch.optim.LBFGS([weights], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = (basis.fuse(weights)[0] - identity.double() - residual).square().sum() / energy
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            miss = float((basis.fuse(weights)[0] - identity.double() - residual).square().sum())
        return max(0.0, 1.0 - miss / energy)
    luts = model.basis.forward().detach().double()
    luts = luts.reshape(len(luts), -1)
    target = residual.reshape(-1) + (0.0 if model.config.compressed else identity.double().reshape(-1))
    coefficients = torch.linalg.lstsq(luts.T, target.unsqueeze(1)).solution
    miss = float((luts.T @ coefficients).squeeze(1).sub(target).square().sum())
    return max(0.0, 1.0 - miss / energy)


class AdaptiveLUT(nn.Module):
    """Weight predictor + basis LUTs; `fused_luts` gives each photo's LUT, `forward` applies it."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.basis: PlainBasis | CompressedBasis | PhysicalBasis
        if config.physical:
            self.predictor: nn.Module = StatsPredictor(
                n_weights(config), config.cnn_width, config.cnn_dropout, config.hidden
            )
            self.basis = PhysicalBasis(config)
            return
        plain = WeightPredictor(config.n_luts, config.predictor_size)
        if not config.compressed:
            with torch.no_grad():
                bias = plain.head.bias
                assert bias is not None
                bias[0] = 1.0
        self.predictor = plain
        self.basis = (CompressedBasis if config.compressed else PlainBasis)(config)

    def predict_weights(self, images: torch.Tensor) -> torch.Tensor:
        return self.predictor(downsample_for_predictor(images, self.config.predictor_size))

    def fused_luts(
        self, images: torch.Tensor, ranges: torch.Tensor | None = None, evidence: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-image LUTs (B, 3, N, N, N), weights (B, K)) for images (B, 3, H, W) in [0, 1].

        `ranges` (B, 3, 2): the photos' own ranges when the caller has them from a larger view (training on small
        views of larger crops); else they are read from a `range_size` view of `images`. `evidence` (B, 3, 3):
        `capture_evidence` of the full photos when `images` is a resized view; else read from `images`."""
        small = downsample_for_predictor(images, self.config.predictor_size)
        weights = self.predictor(small)
        if not isinstance(self.basis, PhysicalBasis):
            return self.basis.fuse(weights), weights
        if (self.basis.stretch or self.basis.levels) and ranges is None:
            ranges = photo_ranges(
                downsample_for_predictor(images, self.config.range_size) if self.config.range_size else small
            )
        if self.basis.white_patch and evidence is None:
            evidence = capture_evidence(images, self.config)
        return self.basis.fuse(weights, ranges, evidence), weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(enhanced images, fused LUTs, weights); the lookup is tetrahedral, as the app applies it."""
        luts, weights = self.fused_luts(images)
        return tetrahedral_lookup(luts, images), luts, weights


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
    harm: float = 0.0  # extra weight on each image's excess error over its untouched input (Auto: "do no harm")


def training_loss(
    model: AdaptiveLUT, inputs: torch.Tensor, targets: torch.Tensor, weights: LossWeights = LossWeights()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, mse) = MSE + lambda_s (TV + mean w^2) + lambda_m MN, regularising each fused LUT.

    With `weights.harm`, each image whose output is further from its target than its input was adds
    lambda_h times the excess: a clean photo (input = target) is pulled hard to the identity.
    """
    outputs, luts, lut_weights = model(inputs)
    mse = F.mse_loss(outputs, targets)
    regular = weights.smooth * (smoothness(luts) + lut_weights.square().mean())
    total = mse + regular + weights.monotone * monotonicity(luts)
    if weights.harm:
        per_image = (outputs - targets).square().mean(dim=(1, 2, 3))
        untouched = (inputs - targets).square().mean(dim=(1, 2, 3))
        total = total + weights.harm * F.relu(per_image - untouched).mean()
    return total, mse
