import numpy as np
import pytest

from engine.fusion.weights import Exponents, contrast, normalised_weights, quality_weights

ONLY_CONTRAST = Exponents(1.0, 0.0, 0.0)
ONLY_SATURATION = Exponents(0.0, 1.0, 0.0)
ONLY_EXPOSEDNESS = Exponents(0.0, 0.0, 1.0)


def test_exposedness_is_a_gaussian_around_mid_grey_per_channel():
    pixels = np.array([[[0.5, 0.5, 0.5], [1.0, 1.0, 1.0], [0.0, 0.5, 0.9]]], dtype=np.float32)
    expected = np.exp(-((pixels - 0.5) ** 2) / (2 * 0.2**2)).prod(axis=2)
    np.testing.assert_allclose(quality_weights(pixels, ONLY_EXPOSEDNESS), expected, rtol=1e-4)
    assert quality_weights(pixels, ONLY_EXPOSEDNESS)[0, 0] == pytest.approx(1.0)


def test_saturation_is_the_channel_standard_deviation_and_exponents_apply():
    rng = np.random.default_rng(1)
    pixels = rng.random((5, 7, 3), dtype=np.float32)
    np.testing.assert_allclose(quality_weights(pixels, ONLY_SATURATION), pixels.std(axis=2), rtol=1e-3, atol=1e-6)
    squared = quality_weights(pixels, Exponents(0.0, 2.0, 0.0))
    np.testing.assert_allclose(squared, pixels.std(axis=2) ** 2, rtol=1e-3, atol=1e-6)


def test_contrast_is_the_absolute_laplacian_of_grey():
    pixels = np.zeros((5, 5, 3), dtype=np.float32)
    pixels[2, 2] = 1.0  # grey 1.0 at the centre
    c = contrast(pixels)
    assert c[2, 2] == pytest.approx(4.0)
    assert c[1, 2] == c[3, 2] == c[2, 1] == c[2, 3] == pytest.approx(1.0)
    assert c[0, 0] == 0.0 and c[1, 1] == 0.0
    np.testing.assert_allclose(quality_weights(pixels, ONLY_CONTRAST), c)


def test_flat_grey_has_zero_weight_and_measures_multiply():
    rng = np.random.default_rng(2)
    pixels = rng.random((6, 6, 3), dtype=np.float32)
    product = (
        quality_weights(pixels, ONLY_CONTRAST)
        * quality_weights(pixels, ONLY_SATURATION)
        * quality_weights(pixels, ONLY_EXPOSEDNESS)
    )
    np.testing.assert_allclose(quality_weights(pixels), product, rtol=1e-4, atol=1e-9)
    assert np.all(quality_weights(np.full((4, 4, 3), 0.5, np.float32)) == 0.0)


def test_normalised_weights_sum_to_one_even_where_all_are_zero():
    a = np.array([[0.0, 1.0, 3.0]], dtype=np.float32)
    b = np.array([[0.0, 1.0, 1.0]], dtype=np.float32)
    na, nb = normalised_weights([a, b])
    np.testing.assert_allclose(na + nb, 1.0, rtol=1e-6)
    np.testing.assert_allclose(na, [[0.5, 0.5, 0.75]], rtol=1e-6)


def test_negative_exponent_is_refused():
    with pytest.raises(ValueError, match="saturation"):
        Exponents(1.0, -1.0, 1.0)
