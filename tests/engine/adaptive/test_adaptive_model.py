"""The adaptive-LUT model: lookup against the CPU LUT core, batching, gradients, regularisers."""

import numpy as np
import pytest
import torch

from engine.adaptive.model import (
    AdaptiveLUT,
    CompressedBasis,
    ModelConfig,
    identity_lut,
    monotonicity,
    smoothness,
    trilinear_lookup,
)
from engine.lut import LUT3D, apply_lut, identity_table


def _random_lut(size: int, seed: int) -> LUT3D:
    rng = np.random.default_rng(seed)
    return LUT3D(np.clip(identity_table(size) + rng.normal(0, 0.1, (size, size, size, 3)), 0, 1).astype(np.float32))


def _torch_lut(lut: LUT3D) -> torch.Tensor:
    return torch.from_numpy(lut.table.transpose(3, 0, 1, 2).copy())


def test_identity_lut_matches_the_lut_core_layout():
    assert np.array_equal(identity_lut(5).permute(1, 2, 3, 0).numpy(), identity_table(5))


def test_trilinear_lookup_matches_cpu_apply_including_the_ends_and_out_of_range():
    lut = _random_lut(9, seed=1)
    rng = np.random.default_rng(2)
    pixels = rng.uniform(0, 1, (6, 7, 3)).astype(np.float32)
    pixels[0, 0] = (0, 0, 0)
    pixels[0, 1] = (1, 1, 1)
    pixels[0, 2] = (0, 1, 0.5)
    pixels[1, 0] = (-0.3, 1.4, 0.5)  # clamped to the domain by both
    expected = apply_lut(pixels, lut, "trilinear")
    image = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
    got = trilinear_lookup(_torch_lut(lut).unsqueeze(0), image)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(got[0, 0], lut.table[0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(got[0, 1], lut.table[-1, -1, -1], atol=1e-7)


def test_batch_uses_each_images_own_lut():
    luts = [_random_lut(5, seed=s) for s in (3, 4, 5)]
    images = torch.rand(3, 3, 8, 9, generator=torch.Generator().manual_seed(0))
    batched = trilinear_lookup(torch.stack([_torch_lut(lut) for lut in luts]), images)
    for index, lut in enumerate(luts):
        expected = apply_lut(images[index].permute(1, 2, 0).numpy(), lut, "trilinear")
        np.testing.assert_allclose(batched[index].permute(1, 2, 0).numpy(), expected, atol=2e-6)


@pytest.mark.parametrize("compressed", [False, True])
def test_model_batch_equals_per_image(compressed):
    torch.manual_seed(0)
    model = AdaptiveLUT(ModelConfig(n_luts=3, lut_size=9, compressed=compressed, predictor_size=64)).eval()
    with torch.no_grad():
        for p in model.basis.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    images = torch.rand(3, 3, 40, 30)
    with torch.no_grad():
        batched, luts, weights = model(images)
        for index in range(3):
            single, single_luts, single_weights = model(images[index : index + 1])
            torch.testing.assert_close(batched[index], single[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(weights[index], single_weights[0], atol=1e-5, rtol=0)
    assert not torch.allclose(weights[0], weights[1])  # different photos, different LUTs


@pytest.mark.parametrize("compressed", [False, True])
def test_gradients_reach_the_luts_and_the_predictor(compressed):
    torch.manual_seed(0)
    model = AdaptiveLUT(ModelConfig(n_luts=3, lut_size=9, compressed=compressed, predictor_size=64))
    images = torch.rand(2, 3, 32, 32)
    out, luts, _ = model(images)
    ((out - images.flip(1)) ** 2).mean().backward()
    first_conv = model.predictor.body[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    basis_grads = [p.grad for p in model.basis.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in basis_grads)


def test_compressed_basis_expands_along_each_channels_own_axis():
    basis = CompressedBasis(ModelConfig(n_luts=1, lut_size=5, compressed=True))
    with torch.no_grad():
        basis.weak.fill_(1.0)  # no dependence on the weak axes
        basis.coefficients.normal_()
    residual = basis()[0]  # (3, b, g, r)
    for channel, own_axis in ((0, 2), (1, 1), (2, 0)):
        cube = residual[channel]
        for axis in range(3):
            spread = (cube - cube.mean(dim=axis, keepdim=True)).abs().max()
            assert (spread > 1e-3) if axis == own_axis else (spread < 1e-5), (channel, axis)


def test_compressed_variant_starts_at_identity_and_is_small():
    model = AdaptiveLUT(ModelConfig(n_luts=20, lut_size=33, compressed=True))
    luts, _ = model.fused_luts(torch.rand(1, 3, 16, 16))
    torch.testing.assert_close(luts[0], identity_lut(33), atol=1e-3, rtol=0)
    basis_params = sum(p.numel() for p in model.basis.parameters())
    assert basis_params == 20 * 3 * 5 * 20 + 33 * 5 + 20 * 33 * 33  # vs 20 * 3 * 33^3 = 2,156,220 uncompressed


def test_regularisers_on_known_luts():
    identity = identity_lut(9).unsqueeze(0)
    constant = torch.full_like(identity, 0.5)
    assert monotonicity(identity) == 0
    assert monotonicity(1.0 - identity) > 0.1  # every channel falls along its own axis
    assert smoothness(constant) == 0
    # identity: only the own-axis differences (1 / (N - 1)) are non-zero, edge slices count twice
    step = 1.0 / 8
    expected = 3 * (step**2 * (8 + 2) / 8) / 3
    assert smoothness(identity).item() == pytest.approx(expected, rel=1e-5)
