"""Hostile preset and model files: each one is a typed error (CLI: exit 2, one `error:` line), never a
traceback, and a bad file in the user's presets folder does not take the other presets down."""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from engine import modelfile
from engine.cli import main
from engine.image import Photo, save_photo
from engine.presets import SHIPPED_DIR, PresetError, all_presets, find_preset, read_preset

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "presets").mkdir(parents=True)
    return tmp_path / "data"


@pytest.fixture
def photo_path(tmp_path):
    path = tmp_path / "in.png"
    save_photo(Photo(np.random.default_rng(0).random((24, 32, 3)).astype(np.float32)), path)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------------------------------ JSON


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (DEEP, "nested 100000 deep"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"a": [1, 2', "invalid JSON"),
        (b'\xff{"a": 1}', "not UTF-8"),
    ],
)
def test_hostile_json_is_a_typed_error(raw, problem):
    with pytest.raises(modelfile.ModelFileError, match=problem):
        modelfile.parse_json(raw, "x.json")


def test_json_depth_ignores_brackets_inside_strings():
    assert modelfile.json_depth(b'{"a": "[[[[\\"[[[", "b": [[1]]}') == 3
    assert modelfile.parse_json(b'{"a": "' + b"[" * 1000 + b'"}', "x.json") == {"a": "[" * 1000}


def test_schema_checks_types_and_ranges():
    checks = {"scale": modelfile.integer(1, 8), "name": modelfile.text(10)}
    modelfile.check_fields({"scale": 2, "name": "a", "extra": [1]}, "x.json", required=checks)
    for bad in (
        {"scale": 2.0, "name": "a"},
        {"scale": True, "name": "a"},
        {"scale": 9, "name": "a"},
        {"scale": 2, "name": ["a"]},
        {"scale": 2},
    ):
        with pytest.raises(modelfile.ModelFileError, match="field"):
            modelfile.check_fields(bad, "x.json", required=checks)


# ------------------------------------------------------------------------------------------ presets


def write_preset(folder, stem, meta, weights: bytes | None = None):
    (folder / f"{stem}.json").write_bytes(meta if isinstance(meta, bytes) else json.dumps(meta).encode())
    if weights is None:
        weights = (SHIPPED_DIR / "auto.safetensors").read_bytes()
    (folder / f"{stem}.safetensors").write_bytes(weights)


def test_hostile_user_presets_are_reported_by_name_and_the_rest_still_load(user_data, photo_path, tmp_path, capsys):
    folder = user_data / "presets"
    good = json.loads((SHIPPED_DIR / "auto.json").read_text())
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**6], "data_offsets": [0, 4]}}).encode()
    write_preset(folder, "deep", DEEP)
    write_preset(folder, "metrics", {**good, "name": "Metrics list", "metrics": [1, 2]})
    write_preset(folder, "huge", {**good, "name": "Huge", "model": {**good["model"], "lut_size": 1e300}})
    write_preset(folder, "text", {**good, "name": "Text", "model": {**good["model"], "n_luts": "abc"}})
    write_preset(folder, "deepheader", {**good, "name": "Deep header"}, struct.pack("<Q", len(DEEP)) + DEEP)
    write_preset(folder, "pickle", {**good, "name": "Pickle"}, pickle.dumps({"x": 1}))
    write_preset(folder, "offsets", {**good, "name": "Offsets"}, struct.pack("<Q", len(header)) + header + b"\0" * 4)
    (folder / "mine.json").write_text(json.dumps({**good, "name": "Mine"}))
    shutil.copy(SHIPPED_DIR / "auto.safetensors", folder / "mine.safetensors")

    presets, problems = all_presets()
    names = [p.name for p in presets]
    assert names[:5] == ["Auto", "Soft Mono", "Teal & Orange", "Vivid", "Warm Film"] and names[5:] == ["Mine"]
    refused = sorted(problem.split(":")[0].rsplit("/", 1)[-1] for problem in problems)
    assert refused == sorted(
        [
            "deep.json",
            "metrics.json",
            "huge.json",
            "text.json",
            "deepheader.safetensors",
            "pickle.safetensors",
            "offsets.safetensors",
        ]
    ), problems
    assert all(len(problem) < 300 for problem in problems)

    assert main(["presets"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 6 and captured.err.count("warning: refused") == 7
    assert find_preset("Auto").shipped
    assert main(["enhance", "--preset", "Auto", str(photo_path), str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").is_file()


def test_a_preset_json_over_the_size_limit_is_refused_unread(user_data):
    folder = user_data / "presets"
    padding = b"x" * (modelfile.MAX_JSON_BYTES + 10)
    write_preset(folder, "big", b'{"format": "lutlab-preset", "pad": "' + padding + b'"}')
    with pytest.raises(PresetError, match="over the limit"):
        read_preset(folder / "big.json")


# ------------------------------------------------------------------------------------------ .npz


def npz_with_member(path, name: str, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.npy", payload)


def npy_header(dtype: str, shape: tuple) -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def declare_size(path, size: int) -> None:
    """Rewrite the uncompressed size in the zip's local and central headers (a lying zip bomb)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + offset : at + offset + 4] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def test_npz_members_are_checked_before_they_are_decompressed(tmp_path):
    path = tmp_path / "t.npz"
    np.savez_compressed(path, delta=np.arange(12, dtype=np.int8).reshape(3, 4), f=np.ones(3))
    with modelfile.NpzArrays(path) as arrays:
        np.testing.assert_array_equal(arrays["delta"], np.arange(12).reshape(3, 4))
        assert "f" in arrays and "g" not in arrays
        with pytest.raises(modelfile.ModelFileError, match="'g' is missing"):
            arrays["g"]

    cases = {
        "claims": (npy_header("|i1", (10**12,)) + b"\0" * 100, "claims shape"),
        "pickle": (npy_header("|O", (1,)) + pickle.dumps([1]), "only plain numbers"),
        "nan": (npy_header("<f4", (4,)) + np.full(4, np.nan, np.float32).tobytes(), "NaN"),
        "version": (b"\x93NUMPY\x09\x00" + b"\0" * 64, "version"),
        "short": (npy_header("<f4", (400,)) + b"\0" * 8, "claims shape"),
    }
    for stem, (payload, problem) in cases.items():
        npz_with_member(tmp_path / f"{stem}.npz", "delta", payload)
        with (
            modelfile.NpzArrays(tmp_path / f"{stem}.npz") as arrays,
            pytest.raises(modelfile.ModelFileError, match=problem),
        ):
            arrays["delta"]

    npz_with_member(tmp_path / "bomb.npz", "delta", npy_header("|i1", (2**31 - 200,)) + b"\0" * 1000)
    declare_size(tmp_path / "bomb.npz", 2**31 - 1)
    tracemalloc.start()
    try:
        with (
            modelfile.NpzArrays(tmp_path / "bomb.npz") as arrays,
            pytest.raises(modelfile.ModelFileError, match="over the limit"),
        ):
            arrays["delta"]
        assert tracemalloc.get_traced_memory()[1] < 16 << 20
    finally:
        tracemalloc.stop()
    (tmp_path / "text.npz").write_bytes(b"not a zip")
    with pytest.raises(modelfile.ModelFileError, match="not an .npz"):
        modelfile.NpzArrays(tmp_path / "text.npz")


def shipped_sr_copy(tmp_path, meta_edit=None, npz_member: bytes | None = None):
    from engine.sr.infer import shipped_table_path

    source = shipped_table_path("srlut", 2)
    path = tmp_path / "m.npz"
    meta = json.loads(source.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps(meta_edit(meta) if meta_edit else meta))
    if npz_member is None:
        shutil.copy(source, path)
    else:
        npz_with_member(path, "delta", npz_member)
    return path


@pytest.mark.parametrize("case", ["scale-overflow", "scale-text", "deep-json", "huge-member", "pickle-member", "bomb"])
def test_hostile_sr_tables_exit_2_with_one_error_line(tmp_path, photo_path, capsys, case):
    edits = {"scale-overflow": lambda m: {**m, "scale": 1e300}, "scale-text": lambda m: {**m, "scale": "2"}}
    members = {
        "huge-member": npy_header("|i1", (10**12,)) + b"\0" * 64,
        "pickle-member": npy_header("|O", (1,)) + pickle.dumps([1]),
        "bomb": npy_header("|i1", (2**31 - 200,)) + b"\0" * 64,
    }
    path = shipped_sr_copy(tmp_path, edits.get(case), members.get(case))
    if case == "deep-json":
        path.with_suffix(".json").write_bytes(DEEP)
    if case == "bomb":
        declare_size(path, 2**31 - 1)
    assert main(["upscale", "--scale", "2", "--model", str(path), str(photo_path), str(tmp_path / "o.png")]) == 2
    assert "m." in one_error_line(capsys)
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------------------------------ low-light


@pytest.mark.parametrize(
    "case", ["channels-text", "channels-negative", "channels-overflow", "nan-weights", "deep-json"]
)
def test_hostile_lowlight_models_exit_2_with_one_error_line(tmp_path, photo_path, capsys, case):
    from engine.lowlight.infer import SHIPPED_WEIGHTS

    path = tmp_path / "w.safetensors"
    meta = json.loads(SHIPPED_WEIGHTS.with_suffix(".json").read_text())
    meta_edits = {"channels-text": "abc", "channels-negative": -1, "channels-overflow": 1e300}
    if case in meta_edits:
        meta["channels"] = meta_edits[case]
    path.with_suffix(".json").write_text(json.dumps(meta))
    if case == "deep-json":
        path.with_suffix(".json").write_bytes(DEEP)
    if case == "nan-weights":
        from safetensors.numpy import load_file, save_file

        tensors = {name: np.full_like(value, np.nan) for name, value in load_file(str(SHIPPED_WEIGHTS)).items()}
        save_file(tensors, str(path))
    else:
        shutil.copy(SHIPPED_WEIGHTS, path)
    assert main(["lowlight", "--model", str(path), str(photo_path), str(tmp_path / "o.png")]) == 2
    assert "w." in one_error_line(capsys)
    assert not (tmp_path / "o.png").exists()


def test_every_family_sidecar_shares_one_schema(tmp_path, monkeypatch):
    from engine.locations import resources_dir
    from engine.modelfile import ModelFileError, read_sidecar, user_models, user_models_dir

    path = tmp_path / "m.json"
    path.write_text('{"kind": "srlut", "version": 2, "data": {"folder": "x"}, "metrics": {}, "scale": 2}')
    assert read_sidecar(path)["scale"] == 2
    for broken, field in (('{"version": 2}', "'kind' is missing"), ('{"kind": "a", "data": 5}', "'data' must be")):
        path.write_text(broken)
        with pytest.raises(ModelFileError, match=field):
            read_sidecar(path)
    shipped = sorted(resources_dir().glob("*/*.json"))
    assert len(shipped) >= 10 and all(read_sidecar(path) for path in shipped)  # every shipped model and preset

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "user"))
    folder = user_models_dir("sr")
    folder.mkdir(parents=True)
    for name, sidecar in (("good", '{"kind": "srlut", "scale": 2}'), ("nameless", '{"scale": 2}')):
        (folder / f"{name}.npz").write_bytes(b"")
        (folder / f"{name}.json").write_text(sidecar)
    assert [model.name for model in user_models("sr")] == ["good"]
