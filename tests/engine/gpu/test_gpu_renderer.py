"""The GL LUT pass read back from a float framebuffer, compared with the CPU reference (engine.lut.apply_lut)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gpu.renderer import Compare, Layout, LutRenderer, View
from engine.lut import LUT3D, apply_lut

# llvmpipe filters float textures with float weights; a GPU with 8-bit filter weights stays within 1/255.
TRILINEAR_TOLERANCE = 1.0 / 255.0
FLOAT_TOLERANCE = 2e-5
TOLERANCE = {"trilinear": TRILINEAR_TOLERANCE, "tetrahedral": FLOAT_TOLERANCE}


def render(
    gl, pixels, lut, interpolation="trilinear", strength=1.0, size=None, view=None, compare=None, max_texture_size=None
) -> np.ndarray:
    def job() -> np.ndarray:
        renderer = LutRenderer(max_texture_size=max_texture_size)
        try:
            renderer.set_photo(pixels)
            renderer.set_lut(lut)
            renderer.interpolation = interpolation
            renderer.strength = strength
            target = size or (pixels.shape[1], pixels.shape[0])
            return renderer.render(target, view or View(), compare or Compare())
        finally:
            renderer.release()

    return gl.run(job)


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
@pytest.mark.parametrize("strength", [1.0, 0.35])
def test_after_matches_cpu_reference(gl, photo_pixels, strong_lut, interpolation, strength):
    expected = apply_lut(photo_pixels, strong_lut, interpolation, strength)
    got = render(gl, photo_pixels, strong_lut, interpolation, strength)
    assert got.shape == photo_pixels.shape
    assert np.abs(got - expected).max() <= TOLERANCE[interpolation]
    assert np.abs(got - photo_pixels).mean() > 0.1  # the LUT really changed the photo


def test_tetrahedral_and_trilinear_differ_on_a_curved_lut(gl, photo_pixels, strong_lut):
    """Guards against the interpolation uniform being ignored: the two modes must give different images."""
    tri = render(gl, photo_pixels, strong_lut, "trilinear")
    tet = render(gl, photo_pixels, strong_lut, "tetrahedral")
    assert np.abs(tri - tet).max() > 1e-3


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_lut_domain_is_honoured(gl, photo_pixels, strong_lut, interpolation):
    lut = LUT3D(strong_lut.table, domain_min=(0.1, 0.0, -0.2), domain_max=(0.8, 1.5, 1.0))
    expected = apply_lut(photo_pixels, lut, interpolation)
    got = render(gl, photo_pixels, lut, interpolation)
    assert np.abs(got - expected).max() <= TOLERANCE[interpolation]


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_every_layout_shows_before_and_after_where_it_should(gl, photo_pixels, strong_lut, interpolation):
    height, width = photo_pixels.shape[:2]
    after = apply_lut(photo_pixels, strong_lut, interpolation)
    tol = TOLERANCE[interpolation]

    def close(a, b):
        return np.abs(a - b).max() <= tol

    got = render(gl, photo_pixels, strong_lut, interpolation, compare=Compare(Layout.BEFORE))
    assert close(got, photo_pixels)

    split_x = int(0.3 * width)  # 39: the split lies on a pixel edge
    got = render(
        gl, photo_pixels, strong_lut, interpolation, compare=Compare(Layout.SPLIT_VERTICAL, split=split_x / width)
    )
    assert close(got[:, :split_x], photo_pixels[:, :split_x])
    assert close(got[:, split_x:], after[:, split_x:])

    split_y = int(0.6 * height)
    got = render(
        gl, photo_pixels, strong_lut, interpolation, compare=Compare(Layout.SPLIT_HORIZONTAL, split=split_y / height)
    )
    assert close(got[:split_y], photo_pixels[:split_y])
    assert close(got[split_y:], after[split_y:])

    # Side by side: both halves show the same region (the photo's left part at 1:1).
    half = width // 2
    got = render(
        gl, photo_pixels, strong_lut, interpolation, size=(2 * half, height), compare=Compare(Layout.SIDE_BY_SIDE)
    )
    assert close(got[:, :half], photo_pixels[:, :half])
    assert close(got[:, half:], after[:, :half])


def test_divider_line_is_drawn_at_the_split(gl, photo_pixels, strong_lut):
    width = photo_pixels.shape[1]
    compare = Compare(Layout.SPLIT_VERTICAL, split=50 / width, divider_width=2.0, divider_color=(1.0, 0.0, 1.0, 1.0))
    got = render(gl, photo_pixels, strong_lut, compare=compare)
    assert np.array_equal(got[:, 49:51], np.broadcast_to(np.float32([1, 0, 1]), got[:, 49:51].shape))
    assert not np.allclose(got[:, 48], [1, 0, 1])
    assert not np.allclose(got[:, 51], [1, 0, 1])


@pytest.mark.parametrize("max_texture_size", [None, 32])
def test_zoomed_panned_view_in_tiles_matches_nearest_upsampling(gl, photo_pixels, strong_lut, max_texture_size):
    """Scale 2 and an offset, photo in 32 px tiles: each target pixel shows its photo pixel, background around."""
    scale, offset = 2.0, (10.0, 6.0)
    size = (300, 200)
    background = (0.25, 0.5, 0.75, 1.0)
    got = render(
        gl,
        photo_pixels,
        strong_lut,
        "tetrahedral",
        size=size,
        view=View(scale, offset),
        compare=Compare(background=background),
        max_texture_size=max_texture_size,
    )
    after = apply_lut(photo_pixels, strong_lut, "tetrahedral")
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    img_x = np.floor((xs + 0.5 - offset[0]) / scale).astype(int)
    img_y = np.floor((ys + 0.5 - offset[1]) / scale).astype(int)
    inside = (img_x >= 0) & (img_x < photo_pixels.shape[1]) & (img_y >= 0) & (img_y < photo_pixels.shape[0])
    expected = np.empty((size[1], size[0], 3), np.float32)
    expected[:] = background[:3]
    expected[inside] = after[img_y[inside], img_x[inside]]
    assert np.abs(got - expected).max() <= FLOAT_TOLERANCE


def test_no_lut_shows_the_photo_unchanged(gl, photo_pixels):
    got = render(gl, photo_pixels, None)
    assert np.abs(got - photo_pixels).max() <= 1e-6


@pytest.mark.parametrize("layout", [Layout.SPLIT_VERTICAL, Layout.SPLIT_HORIZONTAL])
def test_split_cache_gives_the_same_frame_while_the_split_moves(gl, photo_pixels, strong_lut, layout):
    """With reuse_graded the split moves over a cached graded frame; a strength change re-grades."""
    size = (photo_pixels.shape[1], photo_pixels.shape[0])

    def job() -> list[tuple[np.ndarray, np.ndarray]]:
        renderer = LutRenderer()
        try:
            renderer.set_photo(photo_pixels)
            renderer.set_lut(strong_lut)
            frames = []
            for split, strength in [(0.3, 1.0), (0.7, 1.0), (0.7, 0.4)]:
                renderer.strength = strength
                compare = Compare(layout, split=split, divider_width=2.0)
                renderer.bind_offscreen(*size)
                renderer.draw(size, View(), compare, rows_down=True, reuse_graded=True)
                cached = renderer._read_back(size, None)
                direct = renderer.render(size, View(), compare)
                frames.append((cached, direct))
            return frames
        finally:
            renderer.release()

    for cached, direct in gl.run(job):
        assert np.abs(cached - direct).max() <= 1e-3  # the cache is half float: exact for an 8-bit display
    (first, _), (second, _), (third, _) = gl.run(job)
    assert np.abs(first - second).max() > 0.05  # the split really moved
    assert np.abs(second - third).max() > 0.05  # the strength change reached the cached frame


def test_before_can_be_the_original_of_an_upscaled_photo(gl, photo_pixels, strong_lut):
    """After a pixel edit (here a 2x enlargement) "before" shows the original, stretched over the photo."""
    height, width = photo_pixels.shape[:2]
    enlarged = np.repeat(np.repeat(photo_pixels, 2, axis=0), 2, axis=1)
    original = 1.0 - photo_pixels  # distinguishable from the photo everywhere

    def job() -> tuple[np.ndarray, np.ndarray]:
        renderer = LutRenderer()
        try:
            renderer.set_photo(enlarged)
            renderer.set_lut(strong_lut)
            renderer.set_before(original)
            split = renderer.render((2 * width, 2 * height), View(), Compare(Layout.SPLIT_VERTICAL, split=0.5))
            renderer.set_before(None)
            plain = renderer.render((2 * width, 2 * height), View(), Compare(Layout.BEFORE))
            return split, plain
        finally:
            renderer.release()

    split, plain = gl.run(job)
    # left half: the original stretched 2x with bilinear filtering (OpenCV's resize: the same pixel-centre
    # convention as GL_LINEAR) -- an independent reference
    import cv2

    stretched = cv2.resize(original, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    assert np.abs(split[:, : width - 1] - stretched[:, : width - 1]).max() < 2e-3
    right = split[:, width + 1 :]
    assert np.abs(right - apply_lut(enlarged, strong_lut)[:, width + 1 :]).max() <= TRILINEAR_TOLERANCE
    assert np.abs(plain - enlarged).max() <= FLOAT_TOLERANCE  # no separate before: the photo itself
