"""The SR-paper evaluation: Y-PSNR and SSIM (BT.601 luma, border crop = scale) against a bicubic baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.color import bt601_luma, psnr
from engine.sr.infer import SRTable, upscale_uint8
from engine.sr.resize import downscale, resize_bicubic


def y_psnr(reference: np.ndarray, test: np.ndarray, border: int) -> float:
    """PSNR (peak 255) of BT.601 Y between two 8-bit RGB images, `border` pixels cropped on every side."""
    crop = (slice(border, -border or None), slice(border, -border or None))
    ref_y, test_y = (bt601_luma(np.asarray(im, np.float64)[crop] / 255.0) for im in (reference, test))
    return psnr(ref_y, test_y, peak=255.0)


def y_ssim(reference: np.ndarray, test: np.ndarray, border: int) -> float:
    """SSIM of BT.601 Y (0..255) between two 8-bit RGB images, `border` cropped: the SR papers' setting
    (Gaussian window sigma 1.5, K1 0.01, K2 0.03, population covariance)."""
    from skimage.metrics import structural_similarity

    crop = (slice(border, -border or None), slice(border, -border or None))
    ref_y, test_y = (bt601_luma(np.asarray(im, np.float64)[crop] / 255.0) for im in (reference, test))
    return float(
        structural_similarity(
            ref_y, test_y, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
    )


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def make_pair(photo: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) 8-bit RGB: HR mod-cropped to a multiple of `scale`, LR by antialiased bicubic downscaling."""
    photo = np.asarray(photo, np.float32)
    photo = np.repeat(photo[:, :, None], 3, axis=2) if photo.ndim == 2 else photo[:, :, :3]
    h, w = (photo.shape[0] // scale) * scale, (photo.shape[1] // scale) * scale
    hr = photo[:h, :w]
    return to_uint8(hr), to_uint8(downscale(hr, scale))


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The baseline: MATLAB-style bicubic upscaling of an 8-bit image, back to 8 bits."""
    h, w = lr.shape[:2]
    return to_uint8(resize_bicubic(lr / 255.0, h * scale, w * scale))


def y_psnr_pair(table: SRTable, photo: np.ndarray) -> tuple[float, float]:
    """(bicubic, table) Y-PSNR on one photo at the table's scale."""
    hr, lr = make_pair(photo, table.scale)
    return (
        y_psnr(hr, bicubic_upscale(lr, table.scale), table.scale),
        y_psnr(hr, upscale_uint8(lr, table), table.scale),
    )


def evaluate_table(table, photos: Sequence[np.ndarray], names: Sequence[str] = ()) -> dict:
    """Mean Y-PSNR of bicubic and of the table on `photos` (SR-paper convention); with `names`, also each
    photo's pair under ``per_photo``."""
    bicubic, model = zip(*(y_psnr_pair(table, photo) for photo in photos), strict=True)
    scores: dict[str, Any] = {"bicubic_y_psnr": float(np.mean(bicubic)), "table_y_psnr": float(np.mean(model))}
    if names:
        pairs = zip(names, bicubic, model, strict=True)
        scores["per_photo"] = {name: [round(b, 3), round(m, 3)] for name, b, m in pairs}
    return scores


def validation_scorer(photos: Sequence[np.ndarray], scale: int) -> Callable[[object], float]:
    """net -> mean Y-PSNR gain over bicubic of its table on `photos` (the pairs are made once)."""
    from engine.sr.transfer import net_to_table  # torch, only when training

    pairs = []
    for photo in photos:
        hr, lr = make_pair(photo, scale)
        pairs.append((hr, lr, y_psnr(hr, bicubic_upscale(lr, scale), scale)))

    def score(net) -> float:
        table = net_to_table(net)
        return float(np.mean([y_psnr(hr, upscale_uint8(lr, table), scale) - base for hr, lr, base in pairs]))

    return score


def gain(scores: dict) -> float:
    """Mean Y-PSNR gain over bicubic of an `evaluate_table` result."""
    return scores["table_y_psnr"] - scores["bicubic_y_psnr"]
