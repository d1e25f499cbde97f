"""The PairLIE nets as an optional denoiser of the low-light pipeline, and their validation scores.

`engine.lowlight.pipeline.enhance` is the low-light rescue (no torch). There, the small image is denoised
by a classical wavelet shrinkage under the photo's own noise model. With `net_denoiser(model)` the
PairLIE denoiser N does that step instead (X = N(image), run in tiles); the rest is the same: the
brightening is the same linear gain on X, so the reflectance is X / L (never the R net, whose colours
drifted: hue errors of 50 degrees were measured with it).

`score_validation` measures both on the corpus validation split; the shipped weights' JSON keeps the
figures, so whether the net or the classical stage is better is on record (see the README).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from engine.jobs import CancelToken, ProgressFn, check, no_progress
from engine.lowlight import SHIPPED_WEIGHTS
from engine.lowlight.model import RECEPTIVE_RADIUS, PairLIE, load_model
from engine.lowlight.pipeline import Denoiser

NET_TILE = 384


@functools.lru_cache(maxsize=2)
def shipped_model(path: Path = SHIPPED_WEIGHTS) -> PairLIE:
    """The shipped weights, loaded once per process."""
    return load_model(path)[0]


def _to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


def run_nets_tiled(
    model: PairLIE,
    image: torch.Tensor,
    *,
    tile: int = NET_TILE,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, R, X) of a 1 x 3 x H x W image, computed in overlapping tiles so activations stay bounded."""
    _, _, height, width = image.shape
    halo = RECEPTIVE_RADIUS + 6
    maps = (torch.empty(1, 1, height, width), torch.empty(1, 3, height, width), torch.empty(1, 3, height, width))
    boxes = [(top, left) for top in range(0, height, tile) for left in range(0, width, tile)]
    with torch.inference_mode():
        for index, (top, left) in enumerate(boxes):
            check(cancel)
            bottom, right = min(top + tile, height), min(left + tile, width)
            t0, l0 = max(top - halo, 0), max(left - halo, 0)
            t1, l1 = min(bottom + halo, height), min(right + halo, width)
            outputs = model(image[:, :, t0:t1, l0:l1])
            inner = (slice(None), slice(None), slice(top - t0, bottom - t0), slice(left - l0, right - l0))
            for whole, part in zip(maps, outputs, strict=True):
                whole[:, :, top:bottom, left:right] = part[inner]
            progress((index + 1) / len(boxes), "low-light nets")
    return maps


def net_denoiser(model: PairLIE) -> Denoiser:
    """The PairLIE denoiser N as the pipeline's small-image denoiser (sRGB in, sRGB out)."""

    def denoise(small_srgb: np.ndarray) -> np.ndarray:
        _, _, denoised = run_nets_tiled(model, _to_tensor(np.ascontiguousarray(small_srgb, np.float32)))
        return denoised[0].clamp(0, 1).permute(1, 2, 0).numpy().copy()

    return denoise


def score_validation(weights: str | Path) -> dict[str, float]:
    """Mean PSNR / CIEDE2000 / hue error on the corpus validation split (dim and dark shots, automatic
    exposure): the classical pipeline and the same pipeline with these weights' denoiser N."""
    from engine.lowlight.data import corpus_cases
    from engine.lowlight.pipeline import enhance
    from engine.lowlight.quality import lab, score

    denoisers: dict[str, Denoiser | None] = {"classical": None, "net": net_denoiser(load_model(weights)[0])}
    totals: dict[str, list[dict[str, float]]] = {name: [] for name in denoisers}
    for case in corpus_cases("validation"):
        clean_lab = lab(case.clean)
        for name, denoiser in denoisers.items():
            totals[name].append(score(enhance(case.dark, denoiser=denoiser), case.clean, clean_lab))
    metrics = {}
    for name, rows in totals.items():
        for key in ("psnr", "de2000", "hue", "texture"):
            metrics[f"validation_{key}_{name}"] = round(float(np.mean([row[key] for row in rows])), 3)
    return metrics
