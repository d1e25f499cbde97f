"""The edit a batch applies: a `Recipe` is the editor's steps as plain, hashable data that pickles to any worker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import InputError

BATCH_KINDS = ("lut", "preset", "adjust", "lowlight", "upscale")  # a merge needs its own bracket per photo
TORCH_KINDS = ("preset", "lowlight")  # steps whose models run in torch
DEFAULT_UPSCALE_MODEL = "srlut-filter"


@dataclass(frozen=True)
class Recipe:
    """The edit: editor steps as (kind, label, params, enabled), the look strength and the interpolation.
    Plain data, so it pickles to any worker; file paths in it must be readable where the workers run."""

    steps: tuple[tuple[str, str, str, bool], ...]  # params as canonical JSON: hashable, one cache entry
    strength: float = 1.0
    interpolation: str = "tetrahedral"

    @classmethod
    def from_steps(cls, steps: Iterable, strength: float = 1.0, interpolation: str = "tetrahedral") -> Recipe:
        """From `engine.document.Step`s (a sidecar's or the editor's current edit)."""
        rows = tuple((s.kind, s.label, json.dumps(dict(s.params), sort_keys=True), bool(s.enabled)) for s in steps)
        recipe = cls(rows, float(strength), interpolation)
        recipe.check()
        return recipe

    @classmethod
    def from_sidecar(cls, path: Path, interpolation: str = "tetrahedral") -> Recipe:
        from engine.document import read_sidecar

        state = read_sidecar(Path(path))
        return cls.from_steps(state.steps, state.strength, interpolation)

    @classmethod
    def for_lut(cls, path: Path, strength: float = 1.0, interpolation: str = "tetrahedral") -> Recipe:
        from engine.lut.files import load_lut

        path = Path(path).resolve()
        load_lut(path)  # refuse a bad LUT before any photo is touched
        return cls((("lut", f"LUT {path.stem}", json.dumps({"path": str(path)}), True),), strength, interpolation)

    @classmethod
    def for_preset(cls, name: str, strength: float = 1.0, interpolation: str = "tetrahedral") -> Recipe:
        from engine.presets import find_preset

        preset = find_preset(name)
        params = json.dumps({"name": preset.name, "stem": preset.stem}, sort_keys=True)
        return cls((("preset", f"Preset {preset.name}", params, True),), strength, interpolation)

    def with_upscale(self, scale: int, model: str = DEFAULT_UPSCALE_MODEL) -> Recipe:
        """The recipe with an upscaling step first (pixel steps run before colour steps anyway)."""
        if scale not in (2, 4):
            raise InputError(f"--upscale must be 2 or 4, got {scale}")
        if any(kind == "upscale" for kind, *_ in self.steps):
            raise InputError("the recipe already upscales")
        step = ("upscale", f"Upscale x{scale}", json.dumps({"model": model, "scale": scale}, sort_keys=True), True)
        return replace(self, steps=(step, *self.steps))

    def with_strength(self, strength: float) -> Recipe:
        return replace(self, strength=float(strength))

    def check(self) -> None:
        from engine.lut.apply import check_interpolation

        if not 0.0 <= self.strength <= 1.0:
            raise InputError(f"strength must be within 0..1, got {self.strength}")
        check_interpolation(self.interpolation)
        for kind, label, params, enabled in self.steps:
            if enabled and kind not in BATCH_KINDS:
                raise InputError(f"the step {label!r} ({kind}) cannot be applied to other photos")
            if enabled and kind == "lut" and not json.loads(params).get("path"):
                raise InputError(f"the LUT of {label!r} was not saved to a file: export it as .cube and import it")
