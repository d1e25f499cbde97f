"""`python main.py batch`: many photos, one edit; local processes and a real Dask LocalCluster give the same
bytes; a killed batch resumes; bad photos are named and the others still get done."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.batch import Recipe, Task, plan, process_photo, run_batch
from engine.cli import main
from engine.document import EditDocument, EditState, lut_step
from engine.image import Photo, load_photo, sample_photo, save_photo
from engine.lut import LUT3D, write_cube

ROOT = Path(__file__).resolve().parents[2]
MATRIX = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.6, 0.0, 0.4]])  # affine: every interpolation is exact


def _exif(make: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    return exif.tobytes()


@pytest.fixture
def shoot(tmp_path) -> Path:
    """A folder of small real photos: 8-bit JPEGs with EXIF, a 16-bit PNG, a TIFF and a broken file."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "coffee"):
        photo = sample_photo(name)
        small = Photo(photo.pixels[::4, ::4], exif=_exif(f"cam-{name}"))
        save_photo(small, folder / f"{name}.jpg")
    rng = np.random.default_rng(3)
    save_photo(Photo(rng.random((48, 64, 3), dtype=np.float32), bit_depth=16), folder / "noise16.png")
    save_photo(Photo(rng.random((30, 40, 3), dtype=np.float32)), folder / "noise.tif")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


@pytest.fixture
def cube(tmp_path) -> Path:
    path = tmp_path / "mix.cube"
    write_cube(LUT3D(LUT3D.identity(9).table.astype(np.float64) @ MATRIX.T, "channel mix"), path)
    return path


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_lut_batch_grades_every_photo_keeps_format_and_names_the_bad_one(tmp_path, shoot, cube, capsys):
    out = tmp_path / "new" / "out"  # created by the command
    code = main(
        ["batch", "--lut", str(cube), "--workers", "1", str(shoot), str(shoot / "chelsea.jpg"), "-o", str(out)]
    )  # chelsea is named twice: done once
    captured = capsys.readouterr()
    assert code == 2
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    last = captured.err.splitlines()[-1]  # bench/batch.py reads the start-up and busy share from it
    assert re.search(r"1 worker\(s\) busy \d+% of it, first photo after [\d.]+ s, [\d.]+ CPU s/photo$", last), last
    assert sorted(p.name for p in out.iterdir()) == [
        "astronaut.jpg",
        "chelsea.jpg",
        "coffee.jpg",
        "noise.tif",
        "noise16.png",
    ]
    for name in ("noise16.png", "noise.tif"):  # lossless: the exact channel mix, at the source's bit depth
        source, result = load_photo(shoot / name), load_photo(out / name)
        assert result.bit_depth == source.bit_depth
        step = 1 / (255 if source.bit_depth == 8 else 65535)
        np.testing.assert_allclose(result.pixels, source.pixels.astype(np.float64) @ MATRIX.T, atol=0.51 * step)
    graded = load_photo(out / "chelsea.jpg")
    exif = Image.open(out / "chelsea.jpg").getexif()
    assert exif[0x010F] == "cam-chelsea"
    assert np.abs(graded.pixels - load_photo(shoot / "chelsea.jpg").pixels @ MATRIX.T).mean() < 2 / 255


def test_rerun_skips_finished_photos_and_overwrite_redoes_them(tmp_path, shoot, cube):
    out = tmp_path / "out"
    out.mkdir()
    recipe = Recipe.for_lut(cube)
    first = [p for p in shoot.iterdir() if p.suffix == ".jpg" and p.name != "broken.jpg"][:2]
    tasks, _ = plan(first, out)
    run_batch(recipe, tasks)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    tasks, known = plan([shoot], out)
    assert sorted(Path(o.source).name for o in known if o.status == "skipped") == sorted(stamps)
    report = run_batch(recipe, tasks)
    assert report.count("done") == 3 and [Path(o.source).name for o in report.failed] == ["broken.jpg"]
    assert all(out.joinpath(name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())
    tasks, known = plan([shoot], out, overwrite=True)
    assert not [o for o in known if o.status == "skipped"] and len(tasks) == 6


def test_recipe_sidecar_applies_the_editors_edit(tmp_path, shoot, cube):
    """A sidecar with the LUT at strength 0.5 gives the photo mixed halfway to the channel mix."""
    photo_path = shoot / "noise16.png"
    from engine.lut import load_lut

    document = EditDocument(load_photo(photo_path), photo_path, EditState((lut_step(load_lut(cube), cube),), 0.5))
    sidecar = document.save_sidecar(tmp_path / "look.lutlab.json")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["batch", "--recipe", str(sidecar), "--workers", "1", str(photo_path), "-o", str(out)]) == 0
    source = load_photo(photo_path).pixels.astype(np.float64)
    np.testing.assert_allclose(load_photo(out / "noise16.png").pixels, 0.5 * (source + source @ MATRIX.T), atol=2e-5)


def test_preset_predicts_each_photos_own_lut(tmp_path, shoot):
    """Two photos through one adaptive preset: each output is its own photo through the LUT the preset predicts
    for it (not one LUT for all: Auto restores the flattened copy and leaves the full-range one alone)."""
    from engine.adaptive.infer import load_model, predict_lut
    from engine.image import shrink_by_blocks
    from engine.lut import apply_lut
    from engine.presets import find_preset

    out = tmp_path / "out"
    out.mkdir()
    flat = load_photo(shoot / "noise16.png").pixels * 0.6 + 0.2  # contrast flattened to 0.6 about mid grey
    save_photo(Photo(flat, bit_depth=16), shoot / "flat16.png")
    inputs = [shoot / "noise16.png", shoot / "flat16.png"]
    report = run_batch(Recipe.for_preset("auto"), plan(inputs, out)[0])
    assert report.count("done") == 2
    model, luts = load_model(find_preset("auto")), []
    for path in inputs:
        source = load_photo(path)
        lut = predict_lut(model, shrink_by_blocks(source.pixels, 512))
        luts.append(lut.table)
        expected = apply_lut(source.pixels, lut, "tetrahedral")
        np.testing.assert_allclose(load_photo(out / path.name).pixels, expected, atol=0.51 / 255)
    assert np.abs(luts[0] - luts[1]).max() > 0.1


def test_dask_cluster_and_local_pool_write_identical_bytes(tmp_path, shoot, cube):
    import distributed  # a test dependency (pyproject: test extra)

    photos = [p for p in shoot.iterdir() if p.name != "broken.jpg"]
    recipe = Recipe.for_preset("auto").with_strength(0.8)
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    local.mkdir()
    cluster.mkdir()
    assert not run_batch(recipe, plan(photos, local)[0], workers=1).failed
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as dask_cluster:
        report = run_batch(recipe, plan(photos, cluster)[0], scheduler=dask_cluster.scheduler_address)
    assert report.count("done") == len(photos)
    assert _outputs(cluster) == _outputs(local)


def test_pool_of_processes_matches_the_in_process_run(tmp_path, shoot, cube):
    photos = [p for p in shoot.iterdir() if p.name != "broken.jpg"]
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    recipe = Recipe.for_lut(cube, 0.7)
    run_batch(recipe, plan(photos, one)[0], workers=1)
    report = run_batch(recipe, plan(photos, two)[0], workers=2)
    assert report.count("done") == len(photos)
    assert _outputs(two) == _outputs(one)
    # the timing the CLI prints: two worker processes, each busy for part of the batch, after a start-up
    assert report.workers == 2 and 0 < report.efficiency <= 1 and 0 < report.startup_seconds < report.seconds
    busy = sum(outcome.seconds for outcome in report.outcomes)
    assert report.efficiency == pytest.approx(busy / (2 * report.seconds))


def test_a_lut_file_replaced_at_the_same_path_is_read_again(tmp_path, shoot, cube):
    """A long-lived worker (a Dask worker between batches) keeps the recipes it prepared: a .cube rewritten at
    the same path must grade the next photo, not the table read before (same path, same file size)."""
    other = np.array([[0.5, 0.3, 0.2], [0.3, 0.1, 0.6], [0.1, 0.1, 0.8]])
    recipe, source = Recipe.for_lut(cube), shoot / "noise16.png"
    outcomes = []
    for matrix, name in ((MATRIX, "before.png"), (other, "after.png")):
        size, mtime = (cube.stat().st_size, cube.stat().st_mtime_ns) if name == "after.png" else (None, 0)
        write_cube(LUT3D(LUT3D.identity(9).table.astype(np.float64) @ matrix.T, "channel mix"), cube)
        if size is not None:
            assert cube.stat().st_size == size  # only the time tells the files apart
            os.utime(cube, ns=(mtime + 10**9, mtime + 10**9))  # file systems with coarse time stamps
        outcomes.append(process_photo(recipe, Task(str(source), str(tmp_path / name))))
        pixels = load_photo(source).pixels.astype(np.float64)
        np.testing.assert_allclose(load_photo(tmp_path / name).pixels, pixels @ matrix.T, atol=0.51 / 65535)
    assert [outcome.status for outcome in outcomes] == ["done", "done"]


def test_killed_batch_resumes_without_redoing_finished_photos(tmp_path, cube):
    """SIGKILL a real batch process (2 workers) after its first photos: its workers end too, no partial or
    temporary file is left, and the rerun writes only the rest."""
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    rng = np.random.default_rng(5)
    for index in range(8):
        save_photo(Photo(rng.random((700, 900, 3), dtype=np.float32), bit_depth=16), folder / f"p{index}.png")
    command = [sys.executable, "main.py", "batch", "--lut", str(cube), "--workers", "2", str(folder), "-o", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.iterdir())) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    workers = _descendants(process.pid)  # the fork server and the workers it forked
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers outlived the batch"
    finished = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert 2 <= len(finished) < 8, "the batch should have been killed midway"
    assert all(not p.name.startswith(".") for p in out.iterdir())
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("skipped ") == len(finished) and rerun.stdout.count("done ") == 8 - len(finished)
    assert {p.name for p in out.iterdir()} == {f"p{i}.png" for i in range(8)}
    assert all(out.joinpath(name).stat().st_mtime_ns == stamp for name, stamp in finished.items())
    for index in range(8):  # every output complete and right
        source = load_photo(folder / f"p{index}.png").pixels.astype(np.float64)
        np.testing.assert_allclose(load_photo(out / f"p{index}.png").pixels, source @ MATRIX.T, atol=2e-5)


def _descendants(pid: int) -> list[int]:
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return children + [d for child in children for d in _descendants(child)]


def test_plan_refuses_name_clashes_and_overwriting_originals(tmp_path, shoot):
    other = tmp_path / "other"
    other.mkdir()
    (other / "coffee.jpg").write_bytes((shoot / "coffee.jpg").read_bytes())
    tasks, known = plan([shoot / "coffee.jpg", other / "coffee.jpg", shoot / "noise.tif"], shoot)
    assert tasks == []
    messages = sorted(outcome.message for outcome in known)
    assert all(outcome.status == "failed" for outcome in known) and len(known) == 3
    assert sum("would overwrite the original" in m for m in messages) == 2
    assert sum("another input already writes coffee.jpg" in m for m in messages) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lut", "missing.cube"], "missing.cube"),
        (["--preset", "no-such-preset"], "no preset named"),
        (["--lut", "CUBE", "--strength", "1.5"], "strength"),
        (["--lut", "CUBE", "--workers", "0"], "--workers"),
    ],
)
def test_bad_options_are_one_error_line(tmp_path, shoot, cube, capsys, args, message):
    args = [str(cube) if a == "CUBE" else a for a in args]
    assert main(["batch", *args, str(shoot), "-o", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
