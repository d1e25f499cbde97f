"""Preset registry: shipped adaptive presets (resources/presets/) and the user's own (per-user data folder).

A preset is two files with one stem: ``STEM.safetensors`` (the weights) and ``STEM.json`` (kind, version,
name, model shape, training data, metrics). Nothing else is ever read as a preset, and the weights file's
header is checked here -- without torch -- before any tensor library opens it: safetensors holds raw
numbers only, so a file from a stranger cannot run code, and a pickle renamed to ``.safetensors`` is
refused because its first bytes are not a safetensors header.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"
PRESET_FORMAT = "lutlab-preset"
LOOK_KIND = "adaptive-look"  # a base adaptive preset followed by a static LUT (see engine.adaptive.infer)
SUPPORTED_KINDS = ("adaptive-lut", LOOK_KIND)
MAX_HEADER_BYTES = 16 << 20
SAFETENSORS_DTYPES = {"F16", "BF16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL"}


class PresetError(InputError):
    """A preset file is missing, malformed, or not a safetensors + JSON pair."""


@dataclass(frozen=True)
class Preset:
    name: str
    stem: str
    description: str
    json_path: Path
    weights_path: Path
    shipped: bool
    meta: dict


def user_presets_dir() -> Path:
    """Where the user's trained presets live: $LUTLAB_DATA_DIR/presets or $XDG_DATA_HOME/lutlab/presets."""
    if os.environ.get("LUTLAB_DATA_DIR"):
        return Path(os.environ["LUTLAB_DATA_DIR"]) / "presets"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lutlab" / "presets"


def check_safetensors(path: Path) -> dict:
    """Parse and sanity-check a safetensors header (8-byte little-endian length + JSON); returns it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise PresetError(f"{path}: not a safetensors file (only {len(head)} bytes)")
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise PresetError(f"{path}: not a safetensors file (bad header length {length})")
            raw = stream.read(length)
    except OSError as exc:
        raise PresetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"{path}: not a safetensors file (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise PresetError(f"{path}: not a safetensors file (header is not an object)")
    data_size = size - 8 - length
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(entry, dict) and entry.get("dtype") in SAFETENSORS_DTYPES
                and isinstance(entry.get("shape"), list) and isinstance(entry.get("data_offsets"), list)
                and len(entry["data_offsets"]) == 2 and 0 <= entry["data_offsets"][0] <= entry["data_offsets"][1]
                <= data_size):
            raise PresetError(f"{path}: tensor {key!r} has a malformed header entry")
    return header


def read_preset(json_path: Path, shipped: bool = False) -> Preset:
    """Read STEM.json, check it describes a supported preset and that STEM.safetensors is one."""
    json_path = Path(json_path)
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PresetError(f"{json_path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"{json_path}: not a preset description (invalid JSON: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != PRESET_FORMAT:
        raise PresetError(f"{json_path}: not a LUTLab preset (missing \"format\": \"{PRESET_FORMAT}\")")
    if meta.get("kind") not in SUPPORTED_KINDS or not isinstance(meta.get("name"), str):
        raise PresetError(f"{json_path}: unsupported preset kind {meta.get('kind')!r} or missing name")
    weights = json_path.with_suffix(".safetensors")
    if not weights.is_file():
        raise PresetError(f"{json_path}: its weights file {weights.name} is missing")
    check_safetensors(weights)
    return Preset(meta["name"], json_path.stem, str(meta.get("description", "")), json_path, weights, shipped, meta)


def scan(folder: Path, shipped: bool) -> tuple[list[Preset], list[str]]:
    """Presets in one folder, and one line per file that looked like a preset but was refused."""
    if not folder.is_dir():
        return [], []
    presets, problems = [], []
    for json_path in sorted(folder.glob("*.json")):
        try:
            presets.append(read_preset(json_path, shipped))
        except PresetError as exc:
            problems.append(str(exc))
    return presets, problems


def all_presets() -> tuple[list[Preset], list[str]]:
    """Shipped presets then the user's, plus the refused files."""
    shipped, problems = scan(SHIPPED_DIR, True)
    user, user_problems = scan(user_presets_dir(), False)
    return shipped + user, problems + user_problems


def list_presets() -> list[Preset]:
    return all_presets()[0]


def find_preset(name: str) -> Preset:
    """A preset by name or file stem (case-insensitive); a user preset wins over a shipped one."""
    wanted = name.strip().lower()
    presets = list_presets()
    matches = [p for p in presets if wanted in (p.name.lower(), p.stem)]
    if not matches:
        names = ", ".join(p.name for p in presets) or "none"
        raise PresetError(f"no preset named {name!r} (available: {names})")
    return sorted(matches, key=lambda p: p.shipped)[0]
