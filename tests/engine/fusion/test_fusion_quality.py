import numpy as np
import pytest

from engine.fusion.quality import mef_ssim


def brute_force_mef_ssim(sources, fused):
    """Patch-by-patch loops after the authors' released MATLAB code (grey images in [0, 255])."""
    window = np.outer(*[np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))] * 2)
    window /= window.sum()
    eps = np.finfo(float).eps
    scores = []
    seq, f = np.stack(sources, axis=2), fused
    for level in range(3):
        if level:
            pad = lambda x: np.pad(x, [(0, x.shape[0] % 2), (0, x.shape[1] % 2)] + [(0, 0)] * (x.ndim - 2), "symmetric")  # noqa: E731
            seq, f = pad(seq), pad(f)
            seq = 0.25 * (seq[0::2, 0::2] + seq[1::2, 0::2] + seq[0::2, 1::2] + seq[1::2, 1::2])
            f = 0.25 * (f[0::2, 0::2] + f[1::2, 0::2] + f[0::2, 1::2] + f[1::2, 1::2])
        h, w, n = seq.shape
        qmap = []
        for i in range(h - 10):
            for j in range(w - 10):
                patches = seq[i : i + 11, j : j + 11, :].reshape(121, n)
                mu = patches.mean(axis=0)
                ed = np.linalg.norm(patches - mu, axis=0) + 0.001
                r = (np.linalg.norm(patches.sum(1) - patches.sum(1).mean()) + eps) / (
                    np.linalg.norm(patches - mu, axis=0).sum() + eps
                )
                r = min(max(r, eps), 1 - eps)
                p = min(np.tan(np.pi / 2 * r), 10)
                wmap = (ed / 11) ** p + eps
                wmap /= wmap.sum()
                block = ((patches - mu) / ed * wmap).sum(axis=1)
                if np.linalg.norm(block) > 0:
                    block = block / np.linalg.norm(block) * ed.max()
                fb = f[i : i + 11, j : j + 11].reshape(121)
                g = window.reshape(121)
                m1, m2 = g @ block, g @ fb
                s1, s2 = g @ (block - m1) ** 2, g @ (fb - m2) ** 2
                s12 = g @ ((block - m1) * (fb - m2))
                qmap.append((2 * s12 + (0.03 * 255) ** 2) / (s1 + s2 + (0.03 * 255) ** 2))
        scores.append(np.mean(qmap))
    weights = np.array([0.0448, 0.2856, 0.3001])
    return float(np.prod(np.array(scores) ** (weights / weights.sum()))), scores


def test_matches_a_patch_by_patch_reference(bracket):
    frames = bracket([-2.0, 0.0, 2.0], [(0, 0)] * 3, size=(46, 49))
    fused = np.mean(frames, axis=0)
    grey = [f @ np.array([0.298936, 0.587043, 0.114021]) * 255 for f in (*frames, fused)]
    expected, expected_scales = brute_force_mef_ssim(grey[:3], grey[3])
    result = mef_ssim(frames, fused)
    assert result.scales == pytest.approx(expected_scales, abs=1e-6)
    assert result.score == pytest.approx(expected, abs=1e-6)


def test_on_a_high_dynamic_range_scene_the_fusion_beats_every_source_and_identical_inputs_score_one():
    from engine.color import linear_to_srgb, srgb_to_linear
    from engine.fusion.merge import merge_photos
    from engine.image import Photo, sample_photo

    scene = srgb_to_linear(sample_photo("chelsea").pixels[:120, :160])
    scene = scene * np.geomspace(1 / 16, 4, 160, dtype=np.float32)[None, :, None]  # light falls off 6 stops
    frames = [np.round(linear_to_srgb(np.clip(scene * 2.0**ev, 0, 1)) * 255) / 255 for ev in (-2.0, 0.0, 2.0)]
    assert mef_ssim([frames[1]] * 3, frames[1]).score == pytest.approx(1.0, abs=1e-9)
    fused = merge_photos([Photo(f) for f in frames]).photo.pixels
    assert mef_ssim(frames, fused).score > max(mef_ssim(frames, f).score for f in frames)
