"""Preset registry: shipped adaptive presets (resources/presets/) and the user's own (per-user data folder).

A preset is two files with one stem: ``STEM.safetensors`` (the weights) and ``STEM.json`` (kind, version,
name, model shape, training data, metrics). Nothing else is ever read as a preset, and the weights file's
header is checked here -- without torch -- before any tensor library opens it: safetensors holds raw
numbers only, so a file from a stranger cannot run code, and a pickle renamed to ``.safetensors`` is
refused because its first bytes are not a safetensors header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import locations, modelfile
from engine.errors import InputError

SHIPPED_DIR = locations.shipped_presets_dir()
PRESET_FORMAT = "lutlab-preset"
LOOK_KIND = "adaptive-look"  # a base adaptive preset followed by a static LUT (see engine.adaptive.infer)
SUPPORTED_KINDS = ("adaptive-lut", LOOK_KIND)
MAX_HEADER_BYTES = 16 << 20
# What the listing, the editor and `engine.adaptive.model.ModelConfig` rely on, checked before use.
PRESET_FIELDS = {
    "name": modelfile.text(200),
    "model": modelfile.mapping(
        {
            "n_luts": modelfile.integer(0, 64),
            "lut_size": modelfile.integer(2, 65),
            "compressed": modelfile.boolean(),
            "rank_strong": modelfile.integer(1, 256),
            "rank_weak": modelfile.integer(1, 256),
            "predictor_size": modelfile.integer(32, 1024),
            "physical": modelfile.boolean(),
            "cnn_width": modelfile.integer(0, 1024),
            "hidden": modelfile.integer(0, 4096),
            "stretch": modelfile.boolean(),
            "levels": modelfile.boolean(),
            "range_size": modelfile.integer(0, 1024),
            "levels_from": modelfile.number(0.0, 1.0),
            "levels_full": modelfile.number(0.0, 1.0),
            "levels_low": modelfile.number(0.0, 1.0),
            "levels_high": modelfile.number(0.0, 1.0),
            "white_patch": modelfile.boolean(),
            "shelf_from": modelfile.number(0.0, 1.0),
            "shelf_to": modelfile.number(0.0, 1.0),
            "unflatten": modelfile.boolean(),
            "apply_size": modelfile.integer(0, 65),
        }
    ),
}
# A look preset: a base adaptive preset (by stem) followed by the look's own static LUT (`engine.adaptive.infer`)
LOOK_FIELDS = {
    "name": modelfile.text(200),
    "base": modelfile.text(200),
    "look_size": modelfile.integer(2, 65),
}
OPTIONAL_PRESET_FIELDS = {"description": modelfile.text(2000)}  # format, version, metrics: modelfile.SIDECAR


class PresetError(modelfile.ModelFileError):
    """A preset file is missing, malformed, or not a safetensors + JSON pair (a model-file error like any other)."""


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
    """Where the user's trained presets live: `presets` in the user's data folder (engine.locations)."""
    return modelfile.user_models_dir("adaptive")


def check_safetensors(path: Path) -> dict:
    """Parse and sanity-check a safetensors header (8-byte little-endian length + JSON); returns it."""
    return modelfile.check_safetensors(path, PresetError, max_header_bytes=MAX_HEADER_BYTES)


def read_preset(json_path: Path, shipped: bool = False) -> Preset:
    """Read STEM.json, check it describes a supported preset and that STEM.safetensors is one."""
    json_path = Path(json_path)
    meta = modelfile.read_sidecar(json_path, PresetError)  # the schema every model's sidecar shares
    if meta.get("format") != PRESET_FORMAT:
        raise PresetError(f'{json_path}: not a LUTLab preset (missing "format": "{PRESET_FORMAT}")')
    if meta.get("kind") not in SUPPORTED_KINDS or not isinstance(meta.get("name"), str):
        raise PresetError(f"{json_path}: unsupported preset kind {modelfile.show(meta.get('kind'))} or missing name")
    required = LOOK_FIELDS if meta.get("kind") == LOOK_KIND else PRESET_FIELDS
    modelfile.check_fields(meta, json_path, PresetError, required=required, optional=OPTIONAL_PRESET_FIELDS)
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
        except InputError as exc:  # one bad file is reported and skipped; the others still load
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


# ---------------------------------------------------------------------------------------------- user presets


def _require_user(preset: Preset, action: str) -> None:
    if preset.shipped:
        raise PresetError(f"{preset.name} ships with LUTLab and cannot be {action}")


def rename_user_preset(preset: Preset, name: str) -> Preset:
    """Give a user preset a new display name (its files keep their stem); the JSON is rewritten atomically."""
    import json

    from engine.fsutil import atomic_path

    _require_user(preset, "renamed")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise PresetError("a preset name must have 1 to 200 characters")
    meta = dict(preset.meta, name=name)
    with atomic_path(preset.json_path) as tmp:
        tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return read_preset(preset.json_path)


def delete_user_preset(preset: Preset) -> None:
    """Remove a user preset's two files (the weights first: a half-deleted preset is not listed)."""
    _require_user(preset, "deleted")
    preset.weights_path.unlink(missing_ok=True)
    preset.json_path.unlink(missing_ok=True)


def import_preset(json_path: Path) -> Preset:
    """Copy a preset (STEM.json + STEM.safetensors, checked first) into the user's folder under a stem no other
    preset has (stems identify presets in the editor and in sidecars)."""
    import shutil

    from engine.fsutil import atomic_path

    source = read_preset(Path(json_path))
    folder = user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    taken = {preset.stem for preset in list_presets()}  # shipped stems too: a stem names one preset
    stem, number = source.stem, 1
    while stem in taken or (folder / f"{stem}.json").exists() or (folder / f"{stem}.safetensors").exists():
        number += 1
        stem = f"{source.stem}-{number}"
    for src, suffix in ((source.weights_path, ".safetensors"), (source.json_path, ".json")):  # JSON last
        with atomic_path(folder / f"{stem}{suffix}") as tmp:
            shutil.copyfile(src, tmp)
    return read_preset(folder / f"{stem}.json")
