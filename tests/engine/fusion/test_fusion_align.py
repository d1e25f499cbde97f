import numpy as np
import pytest

from engine.fusion.align import Shift, common_window, covered, find_shift, find_shifts, grey_levels, shift_frame


@pytest.mark.parametrize("shift", [(0, 0), (3, -5), (-11, 7), (20, 17)])
def test_recovers_known_shifts_across_exposures(bracket, shift):
    dark, bright = bracket([-2.0, 1.5], [(0, 0), shift])
    assert find_shift(grey_levels(dark), grey_levels(bright)) == Shift(*shift)


def test_find_shifts_reports_every_frame_against_the_reference(bracket):
    frames = bracket([-2.0, 0.0, 2.0], [(4, -6), (0, 0), (-7, 2)])
    assert find_shifts([grey_levels(f) for f in frames], 1) == [Shift(4, -6), Shift(0, 0), Shift(-7, 2)]


def test_shift_frame_moves_content_and_repeats_edges():
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    moved = shift_frame(image, Shift(1, -2))
    np.testing.assert_array_equal(moved[1:, :3], image[:3, 2:])  # aligned[y, x] = frame[y - dy, x - dx]
    np.testing.assert_array_equal(moved[0, :3], image[0, 2:])  # top row repeats the first covered row
    np.testing.assert_array_equal(moved[:, 3], moved[:, 2])  # right columns repeat the last covered column
    assert covered(Shift(1, -2), 4, 5).sum() == 3 * 3
    colour = shift_frame(np.dstack([image, image + 100]), Shift(1, -2))
    np.testing.assert_array_equal(colour[..., 1], moved + 100)


def test_common_window_is_what_every_frame_covers():
    rows, cols = common_window([Shift(2, -3), Shift(0, 0), Shift(-1, 4)], 10, 20)
    assert (rows, cols) == (slice(2, 9), slice(4, 17))


def test_recovers_a_small_rotation_and_resamples_the_frame_onto_the_reference():
    from skimage.transform import rotate

    from engine.color import linear_to_srgb, srgb_to_linear
    from engine.fusion.align import move
    from engine.image import sample_photo

    linear = srgb_to_linear(sample_photo("coffee").pixels)  # 400 x 600

    def exposed(scene, ev):
        return linear_to_srgb(np.clip(scene * 2.0**ev, 0, 1)).astype(np.float32)

    turned = rotate(linear, 0.6, order=1, mode="edge").astype(np.float32)
    reference, frame = exposed(linear, 0.0), shift_frame(exposed(turned, 1.5), Shift(-3, 2))
    found = find_shifts([grey_levels(reference), grey_levels(frame)], 0)[1]
    assert abs(abs(found.angle) - 0.6) < 0.06
    assert abs(found.dy - 3) <= 1 and abs(found.dx + 2) <= 1
    inner = (slice(30, -30), slice(30, -30))
    target = exposed(linear, 1.5)[inner]
    rotated_error = np.abs(move(frame, found)[inner] - target).mean()
    shifted = find_shifts([grey_levels(reference), grey_levels(frame)], 0, rotation=False)[1]
    assert shifted.angle == 0.0
    assert rotated_error < 0.02 < np.abs(move(frame, shifted)[inner] - target).mean()
    assert covered(found, 400, 600)[inner].all() and not covered(found, 400, 600).all()


def test_a_still_frame_gets_no_rotation(bracket):
    frames = bracket([-1.0, 1.0], [(0, 0), (2, -3)], name="coffee", size=(300, 400))
    assert find_shifts([grey_levels(f) for f in frames], 0)[1] == Shift(2, -3)
