import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from engine.errors import Cancelled, InputError
from engine.fusion.align import grey_levels
from engine.fusion.deghost import ghost_mask
from engine.fusion.exposure import exif_exposure
from engine.fusion.merge import MergeOptions, merge_files, merge_photos
from engine.image import Photo, load_photo, save_photo
from engine.jobs import CancelToken


def exif_block(seconds: tuple[int, int], f_number: float = 8.0, iso: int = 100) -> bytes:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x829A] = IFDRational(*seconds)
    ifd[0x829D] = IFDRational(int(f_number * 10), 10)
    ifd[0x8827] = iso
    return exif.tobytes()


def test_fusing_identical_frames_returns_the_frame(bracket):
    (frame,) = bracket([0.0], [(0, 0)])
    result = merge_photos([Photo(frame)] * 3)
    np.testing.assert_allclose(result.photo.pixels, frame, atol=1e-5)
    assert result.shifts == [result.shifts[0]] * 3 and result.shifts[0].dy == result.shifts[0].dx == 0


def test_merge_aligns_orders_by_brightness_and_beats_every_frame(bracket):
    evs, shifts = [2.0, -2.0, 0.0], [(-4, 6), (5, -3), (0, 0)]
    frames = bracket(evs, shifts)
    result = merge_photos([Photo(f) for f in frames])
    assert result.order == [1, 2, 0] and result.reference == 2 and not result.exif_exposures
    assert [(s.dy, s.dx) for s in result.shifts] == shifts
    assert result.evs == pytest.approx(evs, abs=0.15)
    out = result.photo.pixels
    assert out.shape == frames[0].shape and out.min() >= 0.0 and out.max() <= 1.0
    # the fused photo is in the reference's coordinates: compare with an ideal, unshifted middle frame
    (ideal,) = bracket([0.0], [(0, 0)])
    inner = (slice(8, -8), slice(8, -8))
    assert np.corrcoef(out[inner].ravel(), ideal[inner].ravel())[0, 1] > 0.95
    # well-exposedness: far fewer clipped highlights than the bright frame
    assert (out >= 0.999).mean() < 0.5 * (frames[0] >= 0.999).mean()


def test_crop_keeps_only_what_every_frame_covers(bracket):
    frames = bracket([-1.0, 0.0, 1.0], [(3, -2), (0, 0), (-1, 4)])
    result = merge_photos([Photo(f) for f in frames], MergeOptions(crop=True))
    assert result.photo.pixels.shape == (150 - 4, 220 - 6, 3)


def square_bracket(places) -> list[np.ndarray]:
    """Exposures -1, 0, +1 EV of a grey ramp with a dark square at the given place in each frame."""
    h, w = 96, 128
    ramp = np.linspace(0.05, 0.6, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    frames = []
    for ev, place in zip((-1.0, 0.0, 1.0), places, strict=True):
        linear = ramp.copy()
        linear[place] = 0.004
        frames.append(np.clip(linear * 2.0**ev, 0, 1) ** (1 / 2.2))
    return frames


def test_deghost_keeps_a_moving_square_from_doubling():
    here, there = (slice(20, 44), slice(20, 44)), (slice(50, 74), slice(80, 104))
    moving = [Photo(f) for f in square_bracket([there, here, there])]
    # what a perfect deghost gives: the scene as if the square had stayed where the reference has it
    ideal = merge_photos([Photo(f) for f in square_bracket([here] * 3)], MergeOptions(align=False)).photo.pixels
    ghosted = merge_photos(moving, MergeOptions(align=False)).photo.pixels
    clean = merge_photos(moving, MergeOptions(align=False, deghost=True)).photo.pixels
    assert np.abs(ghosted[there] - ideal[there]).mean() > 0.15  # a second, faint square
    # deghosted, the place the square left is plain background again (taken from the reference, whose
    # tone may differ slightly from the fused tone), and the square is whole where the reference has it
    assert np.abs(clean[there] - ideal[there]).mean() < 0.06
    assert np.abs(clean[here] - ideal[here]).mean() < 0.04
    column_step = np.abs(np.diff(clean[there].mean(axis=(0, 2)))).max()
    assert column_step < 0.02  # no edge of a square inside that region
    assert np.abs(clean - ideal).mean() < 0.02
    mask = ghost_mask(grey_levels(moving[0].pixels), grey_levels(moving[1].pixels))
    assert mask[there].min() > 0.8 and mask[here].min() > 0.8 and mask[:, 58:68].max() < 0.1


def test_exif_orders_frames_and_the_reference_exif_is_kept(tmp_path, bracket):
    frames = bracket([0.0, -1.0, 1.0], [(0, 0)] * 3)
    times = [(1, 60), (1, 125), (1, 30)]
    paths = []
    for index, (frame, seconds) in enumerate(zip(frames, times, strict=True)):
        paths.append(tmp_path / f"shot{index}.jpg")
        save_photo(Photo(frame, exif=exif_block(seconds)), paths[-1])
    result = merge_files(paths)
    assert result.exif_exposures and result.order == [1, 0, 2] and result.reference == 0
    assert result.evs == pytest.approx([0.0, np.log2(60 / 125), np.log2(60 / 30)])
    save_photo(result.photo, tmp_path / "merged.jpg")
    assert exif_exposure(load_photo(tmp_path / "merged.jpg").exif) == pytest.approx(1 / 60 * 100 / 64)


def test_refuses_single_frames_mixed_sizes_and_unreadable_files(tmp_path, bracket):
    frames = bracket([0.0, 1.0], [(0, 0)] * 2)
    with pytest.raises(InputError, match="at least 2"):
        merge_photos([Photo(frames[0])])
    with pytest.raises(InputError, match="at most 9 photos, got 10"):
        merge_files([tmp_path / f"never_read_{i}.jpg" for i in range(10)])
    small = tmp_path / "small.png"
    save_photo(Photo(frames[1][:100]), small)
    good = tmp_path / "good.png"
    save_photo(Photo(frames[0]), good)
    with pytest.raises(InputError, match="small.png: size 220 x 100 differs"):
        merge_files([good, small])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputError, match="broken.jpg"):
        merge_files([good, broken])


def test_cancel_stops_the_merge(bracket):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        merge_photos([Photo(f) for f in bracket([-1.0, 1.0], [(0, 0)] * 2)], cancel=token)


def test_a_turned_frame_is_rotated_onto_the_reference_before_fusing():
    from skimage.transform import rotate

    from engine.color import linear_to_srgb, srgb_to_linear
    from engine.image import sample_photo

    linear = srgb_to_linear(sample_photo("coffee").pixels)

    def exposed(scene, ev):
        return Photo(linear_to_srgb(np.clip(scene * 2.0**ev, 0, 1)).astype(np.float32))

    turned = rotate(linear, -1.0, order=1, mode="edge").astype(np.float32)
    still = merge_photos([exposed(linear, -1.5), exposed(linear, 0.0)], MergeOptions(align=False)).photo.pixels
    moving = [exposed(turned, -1.5), exposed(linear, 0.0)]
    aligned = merge_photos(moving)
    unaligned = merge_photos(moving, MergeOptions(align=False)).photo.pixels
    assert abs(abs(aligned.shifts[0].angle) - 1.0) < 0.06 and aligned.reference == 1
    inner = (slice(30, -30), slice(30, -30))
    error = np.abs(aligned.photo.pixels[inner] - still[inner]).mean()
    assert error < 0.005 and error < 0.4 * np.abs(unaligned[inner] - still[inner]).mean()
