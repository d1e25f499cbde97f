"""Model and preset files read as untrusted input: checked before they are trusted, and never unpickled.

Every loader of a weights file or its JSON description (adaptive presets, SR tables, low-light weights)
goes through here, so one hostile file costs a typed error (an InputError subclass the caller chooses:
the CLI prints one ``error:`` line and exits 2) and never a traceback, a hang or gigabytes of memory:

- JSON: at most MAX_JSON_BYTES, nesting at most MAX_JSON_DEPTH (measured before parsing, so no
  RecursionError), no NaN/Infinity/1e999, no integer of more than 30 digits, and a schema of the fields
  the caller relies on (types and ranges; other fields are left to the caller).
- .npz: each member is looked up in the zip directory, its declared uncompressed size and its .npy
  header (dtype, shape) checked before one byte of data is decompressed; object dtypes (pickles) are
  refused, reading stops at the declared size (a zip bomb cannot inflate past it), and floats must be
  finite.
- safetensors: the 8-byte length and the JSON header are checked (dtype, shape, offsets that exactly
  cover the tensor) before a tensor library opens the file; `check_finite` then refuses NaN weights.

One module because it is the one door for model files: reading them within limits, naming them, finding
the user's.
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 4 << 20
MAX_JSON_DEPTH = 32
MAX_INTEGER_DIGITS = 30
MAX_NPZ_MEMBER_BYTES = 256 << 20
MAX_NPZ_MEMBERS = 64
MAX_SAFETENSORS_HEADER = 16 << 20
SAFETENSORS_ITEMSIZE = {
    "F16": 2,
    "BF16": 2,
    "F32": 4,
    "F64": 8,
    "I8": 1,
    "I16": 2,
    "I32": 4,
    "I64": 8,
    "U8": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "BOOL": 1,
}
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear, no nested ambiguity

ErrorType = type[InputError]
Check = Callable[[Any], str | None]  # a problem with the value, or None when it is fine


class ModelFileError(InputError):
    """A model or preset file is missing, malformed or hostile."""


def safe_stem(name: str) -> str:
    """The file stem for a model a user names: lower-case letters, digits and single dashes ("My Look" -> "my-look")."""
    stem = "-".join(
        part for part in "".join(c if c.isalnum() else "-" for c in name.strip().lower()).split("-") if part
    )
    if not stem:
        raise ModelFileError(f"model name {name!r} needs at least one letter or digit")
    return stem


# ------------------------------------------------------------------------------------------ the user's models

USER_FOLDERS = {"adaptive": "presets", "sr": "sr", "lowlight": "lowlight"}  # family -> its folder of user models
WEIGHT_SUFFIXES = {"adaptive": ".safetensors", "sr": ".npz", "lowlight": ".safetensors"}


def user_models_dir(family: str) -> Path:
    """Where the models a user trains for `family` go: one folder per family in the user's data folder."""
    from engine.locations import user_data_dir

    return user_data_dir() / USER_FOLDERS[family]


@dataclass(frozen=True)
class UserModel:
    name: str  # the file stem, as the editor lists it and the CLI takes it
    path: Path  # the weights
    sidecar: dict  # the JSON beside them (checked only for being a JSON object within the limits)


def read_sidecar(
    path: str | Path,
    error: ErrorType = ModelFileError,
    *,
    required: Mapping[str, Check] | None = None,
    optional: Mapping[str, Check] | None = None,
) -> dict:
    """A model's JSON sidecar: the schema every family shares (`SIDECAR`: a kind, and where present a format,
    version, data and metrics of the right types) plus the family's own `required` and `optional` fields."""
    common, own = {"kind": text(80), **(required or {})}, {**SIDECAR, **(optional or {})}
    return read_json(path, error, required=common, optional=own)


def user_models(family: str) -> list[UserModel]:
    """The user's trained models of `family` that have a readable JSON sidecar, by name; a broken one is left
    out of the list (and logged), so one bad file never hides the others."""
    folder = user_models_dir(family)
    found = []
    for path in sorted(folder.glob(f"*{WEIGHT_SUFFIXES[family]}")) if folder.is_dir() else []:
        try:
            found.append(UserModel(path.stem, path, read_sidecar(path.with_suffix(".json"))))
        except ModelFileError as exc:
            log.warning("left out of the %s models: %s", family, exc)
    return found


# ------------------------------------------------------------------------------------------ JSON


def parse_json(
    raw: bytes,
    where: str | Path,
    error: ErrorType = ModelFileError,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Parse untrusted JSON bytes within the size and depth limits; `error` names `where` and the problem."""
    if len(raw) > max_bytes:
        raise error(f"{where}: JSON of {len(raw):,} bytes is over the limit of {max_bytes:,}")
    depth = json_depth(raw)
    if depth > max_depth:
        raise error(f"{where}: JSON nested {depth} deep, more than the limit of {max_depth}")
    try:
        return json.loads(
            raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_short_int
        )
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{where}: invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except (ValueError, RecursionError) as exc:
        raise error(f"{where}: {exc}") from exc


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in JSON text, counted outside strings in linear time."""
    brackets = np.frombuffer(_JSON_STRING.sub(b'""', raw), np.uint8)
    step = np.isin(brackets, (91, 123)).astype(np.int32) - np.isin(brackets, (93, 125)).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"JSON holds {name}, which is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"JSON number {text[:40]} is out of range")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"JSON integer of {len(text)} digits is out of range")
    return int(text)


def read_json(
    path: str | Path,
    error: ErrorType = ModelFileError,
    *,
    required: Mapping[str, Check] | None = None,
    optional: Mapping[str, Check] | None = None,
    max_bytes: int = MAX_JSON_BYTES,
) -> dict:
    """A JSON object from `path`, read within the limits and checked against the given fields."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise error(f"{path}: not found") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    data = parse_json(raw, path, error, max_bytes=max_bytes)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, found {type(data).__name__}")
    check_fields(data, path, error, required=required, optional=optional)
    return data


def check_fields(
    data: Mapping[str, Any],
    where: str | Path,
    error: ErrorType = ModelFileError,
    *,
    required: Mapping[str, Check] | None = None,
    optional: Mapping[str, Check] | None = None,
) -> None:
    """Raise `error` for a missing required field or a field (required or optional) that fails its check."""
    for name in required or {}:
        if name not in data:
            raise error(f"{where}: field {name!r} is missing")
    for name, check in {**(optional or {}), **(required or {})}.items():
        if name in data and (problem := check(data[name])) is not None:
            raise error(f"{where}: field {name!r} {problem}")


def integer(low: int, high: int) -> Check:
    """A JSON integer (not a bool, not 2.0) in low..high."""

    def check(value: Any) -> str | None:
        if type(value) is not int or not low <= value <= high:
            return f"must be an integer in {low}..{high}, not {show(value)}"
        return None

    return check


def number(low: float = -1e30, high: float = 1e30) -> Check:
    def check(value: Any) -> str | None:
        if type(value) not in (int, float) or not low <= value <= high:
            return f"must be a number in {low:g}..{high:g}, not {show(value)}"
        return None

    return check


def text(max_chars: int = 10_000) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) > max_chars:
            return f"must be text of at most {max_chars} characters, not {show(value)}"
        return None

    return check


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> str | None:
        if not any(type(value) is type(c) and value == c for c in choices):
            return f"must be one of {', '.join(map(repr, choices))}, not {show(value)}"
        return None

    return check


def boolean() -> Check:
    return one_of(True, False)


def mapping(fields: Mapping[str, Check] | None = None) -> Check:
    """A JSON object; with `fields`, those of its entries that are present are checked too."""

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object, not {show(value)}"
        for name, inner in (fields or {}).items():
            if name in value and (problem := inner(value[name])) is not None:
                return f"entry {name!r} {problem}"
        return None

    return check


def sequence() -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, list) else f"must be a list, not {show(value)}"

    return check


def show(value: Any) -> str:
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _data_description(value: Any) -> str | None:
    return None if isinstance(value, str | dict) else f"must be text or an object, not {show(value)}"


# The sidecar schema every family shares (`read_sidecar`); each family adds its own fields.
SIDECAR: dict[str, Check] = {
    "format": text(80),  # what reader the file is for, where a family names one ("lutlab-preset")
    "version": integer(0, 1000),
    "data": _data_description,  # what it was trained on: a folder, or the corpus description
    "metrics": mapping(),
}


# ------------------------------------------------------------------------------------------ .npz


class NpzArrays:
    """The arrays of an .npz file, each checked before it is decompressed (use as a context manager).

    ``arrays["name"]`` reads member ``name.npy``: its zip entry must be stored or deflated, declare at most
    `max_member_bytes`, and hold a version 1/2 .npy header whose dtype is a plain number type and whose
    shape fits the declared size; floats must be finite.
    """

    def __init__(
        self, path: str | Path, error: ErrorType = ModelFileError, *, max_member_bytes: int = MAX_NPZ_MEMBER_BYTES
    ) -> None:
        self.path, self.error, self.max_member_bytes = Path(path), error, max_member_bytes
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError as exc:
            raise error(f"{self.path}: not found") from exc
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise error(f"{self.path}: not an .npz file ({exc})") from exc
        if len(self.zip.infolist()) > MAX_NPZ_MEMBERS:
            self.zip.close()
            raise error(f"{self.path}: more than {MAX_NPZ_MEMBERS} arrays")

    def __enter__(self) -> NpzArrays:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.zip.close()

    def __contains__(self, name: str) -> bool:
        return f"{name}.npy" in self.zip.NameToInfo

    def __getitem__(self, name: str) -> np.ndarray:
        where = f"{self.path}: array {name!r}"
        try:
            info = self.zip.getinfo(f"{name}.npy")
        except KeyError:
            raise self.error(f"{where} is missing") from None
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"{where} uses an unsupported compression")
        if info.file_size > self.max_member_bytes:
            raise self.error(f"{where} declares {info.file_size:,} bytes, over the limit of {self.max_member_bytes:,}")
        try:
            with self.zip.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise self.error(f"{where} has an unsupported .npy version {version}")
            if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
                raise self.error(f"{where} has dtype {dtype}; only plain numbers are read (never pickles)")
            count = math.prod(shape)
            if count * dtype.itemsize > info.file_size:
                raise self.error(f"{where} claims shape {shape} ({count:,} values) but stores {info.file_size:,} bytes")
            with self.zip.open(info) as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
        except InputError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, struct.error) as exc:  # also CRC errors
            raise self.error(f"{where} is damaged ({exc})") from exc
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise self.error(f"{where} holds NaN or infinite values")
        return array


# ------------------------------------------------------------------------------------------ safetensors


def check_safetensors(
    path: str | Path, error: ErrorType = ModelFileError, *, max_header_bytes: int = MAX_SAFETENSORS_HEADER
) -> dict:
    """Parse and check a safetensors header (8-byte little-endian length + JSON); returns the header.

    A pickle renamed to .safetensors fails here: its first bytes are not a plausible header length.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise error(f"{path}: not a safetensors file (only {len(head)} bytes)")
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= min(max_header_bytes, size - 8):
                raise error(f"{path}: not a safetensors file (bad header length {length})")
            raw = stream.read(length)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    header = parse_json(raw, path, error, max_bytes=max_header_bytes, max_depth=8)
    if not isinstance(header, dict):
        raise error(f"{path}: not a safetensors file (header is not an object)")
    data_size = size - 8 - length
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise error(f"{path}: safetensors metadata must map names to text")
            continue
        if not _tensor_entry_ok(entry, data_size):
            raise error(f"{path}: tensor {key[:80]!r} has a malformed header entry")
    return header


def _tensor_entry_ok(entry: Any, data_size: int) -> bool:
    if not isinstance(entry, dict) or entry.get("dtype") not in SAFETENSORS_ITEMSIZE:
        return False
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        return False
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        return False
    begin, end = offsets
    return 0 <= begin <= end <= data_size and end - begin == math.prod(shape) * SAFETENSORS_ITEMSIZE[entry["dtype"]]


def check_finite(tensors: Mapping[str, Any], where: str | Path, error: ErrorType = ModelFileError) -> None:
    """Refuse weights holding NaN or infinity (numpy arrays or torch tensors): they only make black photos."""
    for name, value in tensors.items():
        if isinstance(value, np.ndarray):
            bad = value.dtype.kind in "fc" and not np.isfinite(value).all()
        else:  # a torch tensor (torch is imported by the caller, not here)
            bad = value.is_floating_point() and not bool(value.isfinite().all())
        if bad:
            raise error(f"{where}: weights {name[:80]!r} hold NaN or infinite values")
