"""LUT-aware fine-tuning: train the table itself through the exact lookup that inference does.

The net was trained in float; the table adds two errors the net never saw: the 17-level lattice with
4-simplex interpolation (SR-LUT) and the int8 rounding. Here the table entries are the parameters,
read with the same integer indices and simplex weights as `engine.sr.infer` (rotations folded into
permuted tables, reflect padding), so a few hundred cheap steps recover part of that loss. Entries
stay in [-127, 127] and are rounded back to int8 at the end.

A cascade (MuLUT's two stages) is tuned as a whole, as in the MuLUT paper: the first table's output is
rounded to 8 bits with a straight-through gradient, and the second table's simplex weights are
differentiable in their inputs' fractions, so the loss reaches the first table's entries too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.sr.infer import SRTable
from engine.sr.patches import PatchSampler
from engine.sr.spec import EC_ALPHA_SHIFT, EC_OFFSETS, INT8_SCALE, SIMPLEX_KINDS, SIMPLEX_WEIGHT, SR_STRIDES


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 500
    batch: int = 16
    crop: int = 32
    learning_rate: float = 0.5  # in table units (1/127 of full scale) per Adam step
    seed: int = 100


def _residual(weights, table: SRTable, lr):  # torch tensors; lr (B, H, W) int64, or float holding integers
    """Sum of table terms in the original frame (as infer.py computes it), in 1/255 units -> (B, H, W, r*r).
    A float `lr` (a first stage's output) passes gradients through the simplex weights."""
    import torch

    p = table.padding
    padded = torch.nn.functional.pad(lr[:, None].float(), (p,) * 4, mode="reflect")[:, 0]
    padded = padded if lr.is_floating_point() else padded.long()
    b, h, w = lr.shape
    r2 = table.scale**2
    total = torch.zeros(b, h, w, r2)
    for term in table.terms:
        columns = torch.from_numpy(term.columns)
        if table.kind in SIMPLEX_KINDS:
            values = [padded[:, p + dy : p + dy + h, p + dx : p + dx + w] for dy, dx in term.offsets]
            total = total + _simplex(weights, values)[..., columns]
        else:
            (y0, x0), (y1, x1) = term.offsets
            padded = padded.detach().long()  # EC-LUT reads whole rows: no gradient to its inputs
            first = padded[:, p - 1 + y0 : p + 1 + y0 + h, p - 1 + x0 : p + 1 + x0 + w]
            second = padded[:, p - 1 + y1 : p + 1 + y1 + h, p - 1 + x1 : p + 1 + x1 + w]
            rows = _lookup(weights, first * 256 + second)[..., columns].reshape(b, h + 2, w + 2, 9, r2)
            for g, (dy, dx) in enumerate(EC_OFFSETS):
                total = total + rows[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w, g]
    if table.kind in SIMPLEX_KINDS:
        return total / (SIMPLEX_WEIGHT * table.term_count)
    return total / (1 << EC_ALPHA_SHIFT)


def _lookup(weights, index):
    """Table rows at `index` with a sparse gradient (only the rows read are updated)."""
    import torch

    return torch.nn.functional.embedding(index, weights, sparse=True)


def _simplex(weights, values):
    """16 x the 4-simplex interpolation of `weights` (17^4, K) at four int64 tensors (or float tensors
    holding integers, then differentiable in them) -> (..., K)."""
    import torch

    stacked = torch.stack(values, dim=-1)
    whole = stacked.detach().long() if stacked.is_floating_point() else stacked
    _, order = torch.sort(whole & 15, dim=-1, descending=True, stable=True)
    fractions = torch.gather(stacked - ((whole >> 4) << 4), -1, order)  # == whole & 15, sorted
    strides = torch.tensor(SR_STRIDES)
    base = ((whole >> 4) * strides).sum(-1)
    vertices = torch.cat([base[..., None], base[..., None] + torch.cumsum(strides[order], dim=-1)], dim=-1)
    zero, sixteen = torch.zeros_like(fractions[..., :1]), torch.full_like(fractions[..., :1], 16)
    bounds = torch.cat([sixteen, fractions, zero], dim=-1)
    simplex_weights = (bounds[..., :-1] - bounds[..., 1:]).float()  # 16 - f1, f1 - f2, ..., f4
    return (_lookup(weights, vertices) * simplex_weights[..., None]).sum(-2)


def _cascade_output(weights, pre_weights, table: SRTable, lr):
    """(B, H, W) int64 LR -> (B, rH, rW) float output in 0..255 units (before the final rounding)."""
    import torch

    x = lr
    if table.pre is not None:
        first = _residual(pre_weights, table.pre, lr)[..., 0]
        rounded = first + (torch.floor(first + 0.5) - first).detach()  # infer.py: floor(S / 16T + 1/2)
        x = torch.clamp(lr.float() + rounded, 0.0, 255.0)
    residual = _residual(weights, table, x)  # (B, h, w, r*r), 1/255 units
    b, h, w, _ = residual.shape
    r = table.scale
    blocks = residual.reshape(b, h, w, r, r).permute(0, 1, 3, 2, 4).reshape(b, h * r, w * r)
    return x.float().repeat_interleave(r, 1).repeat_interleave(r, 2) + blocks


def finetune_table(
    table: SRTable,
    photos: Sequence[np.ndarray],
    config: FinetuneConfig = FinetuneConfig(),
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[SRTable, list[float]]:
    """A new table (and first stage) trained through the lookup on random crops of `photos`; also the losses."""
    import torch

    context = table.padding + (table.pre.padding if table.pre is not None else 0)
    sampler = PatchSampler(
        photos, scale=table.scale, crop=config.crop, batch=config.batch, seed=config.seed, context=context
    )
    weights = torch.nn.Parameter(torch.from_numpy(table.table.astype(np.float32)))
    parameters = [weights]
    pre_weights = None
    if table.pre is not None:
        pre_weights = torch.nn.Parameter(torch.from_numpy(table.pre.table.astype(np.float32)))
        parameters.append(pre_weights)
    optimizer = torch.optim.SparseAdam(parameters, lr=config.learning_rate)
    edge = context * table.scale
    losses = []
    for step in range(config.steps):
        check(cancel)
        lr, hr = sampler(step)
        lr_int = torch.from_numpy(np.round(lr[:, 0] * 255.0).astype(np.int64))
        out = _cascade_output(weights, pre_weights, table, lr_int)
        out = out[:, edge : out.shape[1] - edge, edge : out.shape[2] - edge]
        loss = torch.nn.functional.mse_loss(out / 255.0, torch.from_numpy(hr[:, 0]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for parameter in parameters:
                parameter.clamp_(-INT8_SCALE, INT8_SCALE)
        losses.append(loss.item())
        progress((step + 1) / config.steps, f"fine-tuning the table, loss {np.mean(losses[-20:]):.6f}")
    tuned = np.round(weights.detach().numpy()).astype(np.int8)
    meta = {**table.meta, "finetune": {"steps": config.steps, "learning_rate": config.learning_rate}}
    pre = None
    if pre_weights is not None and table.pre is not None:
        pre = SRTable(table.pre.kind, 1, np.round(pre_weights.detach().numpy()).astype(np.int8), dict(table.pre.meta))
    return SRTable(table.kind, table.scale, tuned, meta, refinement=table.refinement, pre=pre), losses
