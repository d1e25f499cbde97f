"""The edit document: a source photo and an ordered list of edit steps. Qt-free; the editor window is a view.

Why: an editor that only keeps pixels cannot show the true "before", toggle one edit, recompute a preset's
per-photo LUT for the photo it now sees, or reopen a photo with its edits. Here:

* **Pixel steps** (merge, low-light, upscale) change the pixels; each keeps its result and the id of the
  pixel state it was computed from, so a result made from another input is *stale* and recomputed.
* **Colour steps** (an imported LUT, an adaptive preset, adjustments) are each one `LUT3D`; they compose
  into one LUT so the preview stays one GPU pass and a `.cube` export carries them all. A preset's LUT is
  predicted for the pixels it is applied to and goes stale when those change (never carried across photos).
* Before = the source photo; after = every enabled step. Undo/redo is a history of immutable states.
* Edits are saved beside the photo as a small JSON sidecar (like darktable's XMP) and reapplied on open.

Long recomputation runs outside: `refresh_work()` returns a ``fn(progress, cancel)`` over a snapshot, and
`fill()` takes its results back (ignored if the document moved on meanwhile).

One module because the steps, their undo history and how each is recomputed change together (a new step
kind touches all three).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine import modelfile
from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.image import Photo, shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn, check, no_progress, sub_progress
from engine.lut import LUT3D

PIXEL_KINDS = ("merge", "lowlight", "upscale")
LOOK_KINDS = ("lut", "preset")  # mixed with the original colours by the look strength
COLOUR_KINDS = (*LOOK_KINDS, "adjust")
SIDECAR_SUFFIX = ".lutlab.json"
SIDECAR_FORMAT = "lutlab-edit"
SIDECAR_VERSION = 1
MAX_SIDECAR_BYTES = 1 << 20
MAX_HISTORY = 100
MAX_COMPOSED_SIZE = 65
ANY_INPUT = -1  # cache key of steps whose output does not depend on their input
_uids = itertools.count(1)


class SidecarError(InputError):
    """An edit sidecar is unreadable or describes steps LUTLab cannot redo; the message names the file."""


@dataclass(frozen=True, eq=False)
class Step:
    """One edit. `params` is what the sidecar stores; `outputs` caches what it computed (a `Photo` for pixel
    steps, a `LUT3D` for colour steps) per pixel state it was applied to, so undo finds results again.
    Copies of a step (toggled, in other history states) share the cache."""

    kind: str
    label: str
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    uid: int = field(default_factory=lambda: next(_uids))
    outputs: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def is_pixel(self) -> bool:
        return self.kind in PIXEL_KINDS

    @property
    def needs_input(self) -> bool:
        """Whether the output depends on the pixels the step is applied to (otherwise one output serves all)."""
        return self.kind in ("lowlight", "upscale", "preset")

    def output(self, input_id: int) -> Any:
        return self.outputs.get(input_id if self.needs_input else ANY_INPUT)

    def store(self, input_id: int, value: Any) -> None:
        self.outputs[input_id if self.needs_input else ANY_INPUT] = value


@dataclass(frozen=True)
class EditState:
    steps: tuple[Step, ...] = ()
    strength: float = 1.0  # mixes the look (imported LUT + preset) with the original colours


class EditDocument:
    """A photo and its edits, with undo/redo. Every change goes through `push`; listeners are called after."""

    def __init__(self, source: Photo, path: Path | None = None, state: EditState = EditState()) -> None:
        self.source = source
        self.source_id = next(_uids)  # the pixel-state id of the untouched source (unique: per photo opened)
        self.path = Path(path) if path is not None else None
        self._history: list[tuple[str, EditState]] = [("Open", state)]
        self._index = 0
        self._saved: EditState | None = state
        self.listeners: list[Callable[[], None]] = []
        self._look_cache: tuple[Any, LUT3D | None] = (None, None)

    # ------------------------------------------------------------------------------------------ history
    @property
    def state(self) -> EditState:
        return self._history[self._index][1]

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.state.steps

    @property
    def strength(self) -> float:
        return self.state.strength

    def push(self, state: EditState, description: str, coalesce: bool = False) -> None:
        """Make `state` current as an undoable step; `coalesce`: replace the newest step if it has the same
        description (a slider drag is one step, not a hundred)."""
        del self._history[self._index + 1 :]
        if coalesce and self._index > 0 and self._history[-1][0] == description:
            self._history.pop()
        self._history.append((description, state))
        if len(self._history) > MAX_HISTORY:
            del self._history[0]
        self._index = len(self._history) - 1
        self._changed()

    def undo(self) -> None:
        if self.can_undo:
            self._index -= 1
            self._changed()

    def redo(self) -> None:
        if self.can_redo:
            self._index += 1
            self._changed()

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._history) - 1

    @property
    def undo_text(self) -> str:
        return self._history[self._index][0] if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._history[self._index + 1][0] if self.can_redo else ""

    @property
    def modified(self) -> bool:
        """Edits not yet saved to the sidecar (or exported)."""
        return self.state is not self._saved and self.state != self._saved

    def mark_saved(self) -> None:
        self._saved = self.state

    def _changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    # ------------------------------------------------------------------------------------------ editing
    def add_step(self, step: Step) -> None:
        self.push(replace(self.state, steps=(*self.steps, step)), step.label)

    def set_step(self, kind: str, step: Step | None, description: str, coalesce: bool = False) -> None:
        """Replace the one step of `kind` (imported LUT, preset, adjustments) in place, or append it;
        None removes it. `coalesce`: see `push` (a slider drag)."""
        steps = list(self.steps)
        index = next((i for i, s in enumerate(steps) if s.kind == kind), None)
        if step is None:
            if index is None:
                return
            del steps[index]
        elif index is None:
            steps.append(step)
        else:
            steps[index] = step
        self.push(replace(self.state, steps=tuple(steps)), description, coalesce)

    def toggle(self, uid: int) -> None:
        step = self.step(uid)
        steps = tuple(replace(s, enabled=not s.enabled) if s.uid == uid else s for s in self.steps)
        self.push(replace(self.state, steps=steps), f"{'Disable' if step.enabled else 'Enable'} {step.label}")

    def set_strength(self, strength: float) -> None:
        if strength != self.strength:
            self.push(replace(self.state, strength=float(strength)), "Change strength", coalesce=True)

    def step(self, uid: int) -> Step:
        return next(s for s in self.steps if s.uid == uid)

    def find(self, kind: str) -> Step | None:
        return next((s for s in self.steps if s.kind == kind), None)

    # ------------------------------------------------------------------------------------------ evaluation
    def _walk(self) -> list[tuple[Step, int]]:
        """Each enabled step with the pixel state it sees, in the order they apply: pixel steps first (in
        their order), then colour steps, which all see the final pixels. Pixel state ids advance only through
        fresh pixel steps (a stale one passes its input on until it is recomputed)."""
        walked, state_id = [], self.source_id
        for step in self.steps:
            if step.enabled and step.is_pixel:
                walked.append((step, state_id))
                if self._fresh(step, state_id):
                    state_id = step.uid
        return walked + [(step, state_id) for step in self.steps if step.enabled and not step.is_pixel]

    @staticmethod
    def _fresh(step: Step, input_id: int) -> bool:
        return step.output(input_id) is not None

    def stale(self) -> list[Step]:
        """Enabled steps that must be (re)computed before the view is complete."""
        return [step for step, seen in self._walk() if not self._fresh(step, seen)]

    def _tip(self) -> tuple[int, Photo]:
        """(id, pixels) of the pixel state after every fresh enabled pixel step."""
        state_id, photo = self.source_id, self.source
        for step, seen in self._walk():
            if step.is_pixel and self._fresh(step, seen):
                state_id, photo = step.uid, step.output(seen)
        return state_id, photo

    @property
    def photo(self) -> Photo:
        """The pixels after every fresh enabled pixel step (what colour steps apply to)."""
        return self._tip()[1]

    @property
    def pixel_state_id(self) -> int:
        """The id of the pixels colour steps see now (a preset LUT predicted from them records it)."""
        return self._tip()[0]

    def look_lut(self) -> LUT3D | None:
        """Every fresh enabled colour step composed into one LUT: the look (imported LUT, then preset) mixed
        by the strength, then adjustments. None when there is no colour step."""
        fresh_luts = [
            (step, step.output(seen)) for step, seen in self._walk() if not step.is_pixel and self._fresh(step, seen)
        ]
        key = (tuple((step.uid, id(lut)) for step, lut in fresh_luts), self.strength)
        if self._look_cache[0] != key:  # composing costs milliseconds; the view asks on every change
            self._look_cache = (key, self._compose_look(fresh_luts))
        return self._look_cache[1]

    def _compose_look(self, fresh_luts: list[tuple[Step, LUT3D]]) -> LUT3D | None:
        look = _compose([lut for step, lut in fresh_luts if step.kind in LOOK_KINDS])
        if look is not None and self.strength != 1.0:
            look = look.blended(self.strength)
        adjust = _compose([lut for step, lut in fresh_luts if step.kind not in LOOK_KINDS])
        combined = _compose([lut for lut in (look, adjust) if lut is not None])
        if combined is not None:
            combined = combined.with_title(" + ".join(step.label for step, _ in fresh_luts))
        return combined

    @property
    def edited(self) -> bool:
        """Whether "after" can differ from "before" (some enabled step)."""
        return any(step.enabled for step in self.steps)

    # ------------------------------------------------------------------------------------------ recompute
    def refresh_work(self) -> Callable[[ProgressFn, CancelToken], list[tuple[Step, int, Any]]] | None:
        """A worker function recomputing the stale steps in order (None when nothing is stale); its result
        goes to `fill`. It works on a snapshot, so the document may change meanwhile."""
        walked = self._walk()
        todo = [step for step, seen in walked if not self._fresh(step, seen)]
        if not todo:
            return None
        source, source_id = self.source, self.source_id

        def work(progress: ProgressFn, cancel: CancelToken) -> list[tuple[Step, int, Any]]:
            photo, state_id = source, source_id
            filled: list[tuple[Step, int, Any]] = []
            for step, _seen in walked:
                check(cancel)
                value = step.output(state_id)
                if value is None:
                    done = len(filled)
                    part = sub_progress(progress, done / len(todo), (done + 1) / len(todo))
                    value = compute_step(step, photo, part, cancel)
                    filled.append((step, state_id, value))
                if step.is_pixel:
                    photo, state_id = value, step.uid
            return filled

        return work

    def fill(self, filled: Sequence[tuple[Step, int, Any]]) -> None:
        """Store recomputed outputs in their steps' caches (not an edit: no undo entry)."""
        for step, input_id, value in filled:
            step.store(input_id, value)
        self._changed()

    # ------------------------------------------------------------------------------------------ sidecar
    def to_json(self) -> dict[str, Any]:
        return {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "photo": self.path.name if self.path else None,
            "strength": self.strength,
            "steps": [
                {"kind": s.kind, "label": s.label, "enabled": s.enabled, "params": dict(s.params)} for s in self.steps
            ],
        }

    def save_sidecar(self, path: Path | None = None) -> Path:
        """Write the edits beside the photo (atomically); returns the sidecar's path."""
        target = Path(path) if path is not None else sidecar_path(self._require_path())
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        self.mark_saved()
        return target

    def _require_path(self) -> Path:
        if self.path is None:
            raise InputError("this photo has no file yet (a sample or merged photo): export it first")
        return self.path


def sidecar_path(photo_path: Path) -> Path:
    return photo_path.with_name(photo_path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> EditState:
    """The edits a sidecar describes, validated before use; colour steps of imported LUTs and adjustments
    are rebuilt now, the others are left to `refresh_work`."""
    path = Path(path)
    raw = modelfile.read_json(path, SidecarError, max_bytes=MAX_SIDECAR_BYTES)  # size, depth, NaN refused
    if raw.get("format") != SIDECAR_FORMAT or raw.get("version") != SIDECAR_VERSION:
        raise SidecarError(f"{path}: not a LUTLab edit sidecar of version {SIDECAR_VERSION}")
    strength = raw.get("strength", 1.0)
    if not isinstance(strength, int | float) or not math.isfinite(strength) or not 0.0 <= strength <= 1.0:
        raise SidecarError(f"{path}: strength must be a number in 0..1")
    entries = raw.get("steps")
    if not isinstance(entries, list):
        raise SidecarError(f'{path}: "steps" must be a list')
    steps = []
    for number, entry in enumerate(entries, 1):
        if not (
            isinstance(entry, dict)
            and entry.get("kind") in PIXEL_KINDS + COLOUR_KINDS
            and isinstance(entry.get("params"), dict)
            and isinstance(entry.get("label", ""), str)
            and isinstance(entry.get("enabled", True), bool)
        ):
            raise SidecarError(f"{path}: step {number} is not a valid edit step")
        step = Step(entry["kind"], entry.get("label") or entry["kind"], entry["params"], entry.get("enabled", True))
        try:
            if step.kind in ("lut", "adjust"):
                step.store(ANY_INPUT, compute_step(step, None, no_progress, None))
        except (InputError, KeyError, TypeError, ValueError) as exc:
            raise SidecarError(f"{path}: step {number} ({step.label}): {exc}") from exc
        steps.append(step)
    return EditState(tuple(steps), float(strength))


# ---------------------------------------------------------------------------------------------- steps


def _compose(luts: Sequence[LUT3D]) -> LUT3D | None:
    """Apply `luts` in order as one LUT, on the finest lattice among them (at most 65 a side)."""
    if not luts:
        return None
    if len(luts) == 1:
        return luts[0]
    size = min(max(lut.size for lut in luts), MAX_COMPOSED_SIZE)
    combined = luts[0] if luts[0].size == size else luts[0].resampled(size)
    for lut in luts[1:]:
        combined = combined.then(lut)
    return combined


def lut_step(lut: LUT3D, path: Path | None) -> Step:
    """An imported LUT (.cube or Hald); the sidecar keeps the file's path."""
    step = Step("lut", f"LUT {lut.title or (path.stem if path else 'untitled')}", {"path": str(path) if path else None})
    step.store(ANY_INPUT, lut)
    return step


def preset_step(name: str, stem: str, lut: LUT3D | None = None, input_id: int = ANY_INPUT) -> Step:
    """An adaptive preset: its LUT is this photo's own, predicted from the pixels it sees (`input_id`)."""
    step = Step("preset", f"Preset {name}", {"stem": stem, "name": name})
    if lut is not None:
        if input_id == ANY_INPUT:
            raise ValueError("a preset's LUT belongs to the pixels it was predicted from: give their input_id")
        step.store(input_id, lut)
    return step


def adjust_step(values: Mapping[str, float]) -> Step | None:
    """The adjustment sliders as one colour step (None when every slider is at 0)."""
    from engine.lut.tone import adjustments_lut

    values = {name: float(value) for name, value in values.items() if value}
    if not values:
        return None
    step = Step("adjust", "Adjustments", values)
    step.store(ANY_INPUT, adjustments_lut(values))
    return step


def compute_step(step: Step, photo: Photo | None, progress: ProgressFn, cancel: CancelToken | None) -> Any:
    """Run one step on `photo`: a `Photo` for pixel steps, a `LUT3D` for colour steps."""
    params = step.params
    if step.kind == "lut":
        from engine.lut.files import load_lut

        if not params.get("path"):
            raise InputError("the imported LUT was not saved to a file; import it again")
        return load_lut(Path(params["path"]))
    if step.kind == "adjust":
        from engine.lut.tone import adjustments_lut

        return adjustments_lut(params)
    if step.kind == "merge":
        from engine.fusion.merge import MergeOptions, load_bracket, merge_photos

        frames = load_bracket(
            [str(p) for p in params["frames"]], progress=sub_progress(progress, 0.0, 0.3), cancel=cancel
        )
        options = MergeOptions(
            align=bool(params.get("align", True)),
            deghost=bool(params.get("deghost", False)),
            crop=bool(params.get("crop", False)),
        )
        return merge_photos(frames, options, progress=sub_progress(progress, 0.3, 1.0), cancel=cancel).photo
    if photo is None:
        raise InputError(f"a {step.kind!r} step needs a photo before it")
    if step.kind == "preset":
        from engine.adaptive.infer import preset_lut
        from engine.presets import find_preset

        preset = find_preset(str(params["stem"]))  # a look preset composes its base's LUT for these pixels
        return preset_lut(preset, shrink_by_blocks(photo.pixels, 512), title=f"{preset.name} (adaptive)")
    if step.kind == "lowlight":
        from engine.lowlight.models import enhance

        controls = {k: params[k] for k in ("gamma", "exposure", "strength", "denoise", "model") if k in params}
        return photo.with_pixels(enhance(photo.pixels, **controls, progress=progress, cancel=cancel))
    if step.kind == "upscale":
        from engine.sr.infer import available_models, load_table, upscale_photo

        scale, model = int(params["scale"]), str(params["model"])
        path = dict(available_models(scale)).get(model)
        if path is None:
            raise InputError(f"no x{scale} upscaling model called {model!r}")
        return upscale_photo(photo, load_table(path), progress=progress, cancel=cancel)
    raise InputError(f"cannot recompute a {step.kind!r} step")
