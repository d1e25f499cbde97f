"""The edit document: composition into one LUT, undo/redo, stale steps recomputed, sidecars."""

import json

import numpy as np
import pytest

from engine.document import (
    EditDocument,
    SidecarError,
    Step,
    lut_step,
    preset_step,
    read_sidecar,
    sidecar_path,
)
from engine.image import Photo
from engine.jobs import CancelToken, no_progress
from engine.lut import LUT3D, apply_lut, identity_table
from engine.lut.cube import write_cube


def _curve(size: int, power: float, title: str) -> LUT3D:
    unit = identity_table(size)
    return LUT3D((unit**power).astype(np.float32), title=title)


def _twist(size: int) -> LUT3D:
    unit = identity_table(size)
    r, g, b = unit[..., 0], unit[..., 1], unit[..., 2]
    return LUT3D(np.stack([0.8 * r + 0.2 * g, g, 0.1 + 0.8 * b], -1).astype(np.float32), title="twist")


@pytest.fixture
def photo():
    rng = np.random.default_rng(1)
    return Photo(rng.random((24, 32, 3), dtype=np.float32))


def _run_refresh(document):
    work = document.refresh_work()
    assert work is not None
    document.fill(work(no_progress, CancelToken()))


def test_colour_steps_compose_into_one_lut(photo):
    document = EditDocument(photo)
    assert document.look_lut() is None and not document.edited
    imported, look = _curve(33, 0.8, "lift"), _twist(17)
    document.set_step("lut", lut_step(imported, None), "Load LUT")
    document.set_step("preset", preset_step("Mine", "mine", look, document.pixel_state_id), "Preset Mine")
    combined = document.look_lut()
    # numpy reference: the two LUTs one after the other, on the pixels
    sequential = apply_lut(apply_lut(photo.pixels, imported, "tetrahedral"), look, "tetrahedral")
    assert combined.size == 33
    assert np.abs(apply_lut(photo.pixels, combined, "tetrahedral") - sequential).max() < 2e-3
    document.set_strength(0.4)  # the look mixes with the original colours exactly
    mixed = apply_lut(photo.pixels, document.look_lut(), "tetrahedral")
    assert np.abs(mixed - (photo.pixels + 0.4 * (sequential - photo.pixels))).max() < 2e-3
    assert document.look_lut().title == "LUT lift + Preset Mine"


def test_undo_redo_toggle_and_modified(photo):
    document = EditDocument(photo)
    changes = []
    document.listeners.append(lambda: changes.append(len(document.steps)))
    assert not document.modified and not document.can_undo
    document.set_step("lut", lut_step(_twist(9), None), "Load LUT twist")
    assert document.modified and document.undo_text == "Load LUT twist"
    uid = document.steps[0].uid
    document.toggle(uid)
    assert document.look_lut() is None and document.undo_text == "Disable LUT twist"
    document.undo()
    assert document.look_lut() is not None
    document.undo()
    assert document.steps == () and not document.modified and document.redo_text == "Load LUT twist"
    document.redo()
    assert document.steps[0].uid == uid
    document.set_step("lut", None, "Clear LUT")
    assert document.steps == ()
    assert changes == [1, 1, 1, 0, 1, 0]


def test_pixel_steps_go_stale_and_are_recomputed(photo):
    from engine.sr.infer import available_models, load_table, upscale_photo

    model, path = available_models(2)[0]
    document = EditDocument(photo)
    first = Step("upscale", "Upscale x2", {"scale": 2, "model": model})
    document.add_step(first)
    assert document.stale() == [document.steps[0]] and document.photo is photo
    _run_refresh(document)
    twice = upscale_photo(photo, load_table(path))
    assert document.stale() == [] and np.array_equal(document.photo.pixels, twice.pixels)
    document.add_step(Step("upscale", "Upscale x2 again", {"scale": 2, "model": model}))
    _run_refresh(document)
    assert document.photo.pixels.shape == (96, 128, 3)
    document.toggle(document.steps[0].uid)  # the second upscale now sees the source: stale
    assert [s.label for s in document.stale()] == ["Upscale x2 again"]
    assert document.photo is photo  # until recomputed, the view shows the last fresh pixels
    _run_refresh(document)
    assert np.array_equal(document.photo.pixels, twice.pixels)
    document.undo()  # back to both enabled: the cached results are still right, nothing to redo
    assert document.stale() == [] and document.photo.pixels.shape == (96, 128, 3)


def test_preset_lut_is_predicted_for_the_pixels_it_sees(photo):
    from engine.adaptive.infer import load_model, predict_lut
    from engine.presets import find_preset

    preset = find_preset("Auto")
    document = EditDocument(photo)
    document.set_step("preset", preset_step(preset.name, preset.stem), "Preset Auto")
    assert [s.kind for s in document.stale()] == ["preset"]
    _run_refresh(document)
    expected = predict_lut(load_model(preset), photo.pixels)
    assert np.allclose(document.look_lut().table, expected.table, atol=1e-6)
    darker = photo.with_pixels(photo.pixels * 0.3)
    document = EditDocument(darker, state=document.state)  # the same edits on another photo
    assert [s.kind for s in document.stale()] == ["preset"]  # never the first photo's LUT
    _run_refresh(document)
    assert np.allclose(document.look_lut().table, predict_lut(load_model(preset), darker.pixels).table, atol=1e-6)


def test_sidecar_round_trip(tmp_path, photo):
    from engine.sr.infer import available_models

    cube = tmp_path / "look.cube"
    write_cube(_twist(9), cube)
    document = EditDocument(photo, tmp_path / "photo.png")
    document.add_step(Step("upscale", "Upscale x2", {"scale": 2, "model": available_models(2)[0][0]}))
    _run_refresh(document)
    document.set_step("lut", lut_step(_twist(9), cube), "Load LUT")
    document.set_strength(0.5)
    written = document.save_sidecar()
    assert written == sidecar_path(tmp_path / "photo.png") and not document.modified
    state = read_sidecar(written)
    assert [s.kind for s in state.steps] == ["upscale", "lut"] and state.strength == 0.5
    reopened = EditDocument(photo, tmp_path / "photo.png", state)
    assert [s.kind for s in reopened.stale()] == ["upscale"]
    _run_refresh(reopened)
    assert np.array_equal(reopened.photo.pixels, document.photo.pixels)
    assert np.allclose(reopened.look_lut().table, document.look_lut().table, atol=1e-6)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000, "nested"),
        ('{"format": "lutlab-edit", "version": 1, "steps": [{"kind": "rm -rf", "params": {}}]}', "step 1"),
        ('{"format": "lutlab-edit", "version": 1, "strength": NaN, "steps": []}', "NaN"),
        ('{"format": "lutlab-edit", "version": 1, "strength": 7, "steps": []}', "strength"),
        (
            '{"format": "lutlab-edit", "version": 1, "steps": [{"kind": "lut", "params": {"path": "/no/such.cube"}}]}',
            "no/such.cube",
        ),
        ('{"format": "other"}', "not a LUTLab edit sidecar"),
    ],
)
def test_bad_sidecars_are_refused_by_name(tmp_path, content, message):
    path = tmp_path / "photo.jpg.lutlab.json"
    path.write_text(content)
    with pytest.raises(SidecarError, match=message) as error:
        read_sidecar(path)
    assert str(path) in str(error.value)
    json.dumps(str(error.value))  # a plain one-line message
