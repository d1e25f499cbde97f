"""Sample a trained SR net into its int8 table (the only thing inference needs).

A cascade (`engine.sr.model.CascadeNet`) is sampled stage by stage.
SR-LUT and MuLUT: each of the 4 inputs takes the 17 levels 0, 16, ..., 240, 255 -> 17^4 rows, indexed
((a * 17 + b) * 17 + c) * 17 + d, of r*r values (MuLUT: 3 * r*r, one group per pattern, all three
sampled on the same lattice); inference interpolates between rows (4-simplex).
EC-LUT: both inputs take all 256 levels -> 256^2 rows, indexed p * 256 + q, of 9 * r*r values; no
interpolation. Values are the net's clamped outputs rounded to int8.
"""

from __future__ import annotations

import numpy as np

from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.sr.infer import SRTable
from engine.sr.spec import SIMPLEX_KINDS, SR_LEVELS

CHUNK_ROWS = 8192


def lattice_inputs(kind: str) -> np.ndarray:
    """(rows, window pixels) uint8 lattice in table-row order."""
    levels = SR_LEVELS if kind in SIMPLEX_KINDS else np.arange(256)
    inputs = 4 if kind in SIMPLEX_KINDS else 2
    grid = np.meshgrid(*([levels] * inputs), indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.uint8)


def net_to_table(net, *, progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> SRTable:
    """Evaluate `net` (an `engine.sr.model.LutNet`, or a `CascadeNet` of two) on its lattice -> int8 `SRTable`
    (a cascade's first stage becomes the table's `pre`)."""
    import torch

    if hasattr(net, "pre"):
        pre = net_to_table(net.pre, progress=lambda f, m="": progress(0.25 * f, m), cancel=cancel)
        main = net_to_table(net.main, progress=lambda f, m="": progress(0.25 + 0.75 * f, m), cancel=cancel)
        pre.meta = {}
        return SRTable(kind=main.kind, scale=main.scale, table=main.table, meta=main.meta, pre=pre)

    inputs = lattice_inputs(net.kind)
    table = np.empty((len(inputs), net.outputs), np.int8)
    net.eval()
    with torch.no_grad():
        for start in range(0, len(inputs), CHUNK_ROWS):
            check(cancel)
            chunk = torch.from_numpy(inputs[start : start + CHUNK_ROWS].astype(np.float32) / 255.0)
            values = net.table_values(chunk).numpy()
            table[start : start + len(chunk)] = np.round(values).astype(np.int8)
            progress(min(1.0, (start + len(chunk)) / len(inputs)), "sampling the net")
    return SRTable(kind=net.kind, scale=net.scale, table=table, meta={"kind": net.kind, "scale": net.scale})
