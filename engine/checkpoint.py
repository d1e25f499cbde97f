"""One checkpoint format for every family's trainer, so any interrupted or cancelled run resumes where it stopped.

A checkpoint is two files written atomically, the tensors first and the JSON last (a JSON that names this run
means the tensors beside it are complete):

- ``PATH`` (safetensors, never a pickle): ``model.*`` the net, ``optim.<index>.<slot>`` the optimizer's state
  per parameter (Adam's moments and step: resuming keeps them), ``rng.torch`` torch's global generator, and
  any ``<group>.<name>`` tensors the trainer adds (e.g. the best weights so far);
- the ``.json`` beside it: the trainer's own record (``step``, losses, scores, ...), the optimizer's param_groups,
  the numpy generator's state, and ``identity`` (the run's settings): `load` resumes only the very same run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import modelfile
from engine.fsutil import atomic_path

if TYPE_CHECKING:
    import torch

RESERVED = ("model", "optim", "rng")  # tensor groups written by `save` itself
MAX_JSON_BYTES = 64 << 20


@dataclass
class Checkpoint:
    """What `load` restored besides the model and optimizer: the trainer's record and its extra tensor groups."""

    state: dict[str, Any]
    groups: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save(
    path: Path,
    identity: Any,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: Mapping[str, Any],
    *,
    groups: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    generator: np.random.Generator | None = None,
) -> None:
    """Write a checkpoint of `model`, `optimizer`, torch's RNG (and `generator`'s), `state` and `groups`."""
    import torch
    from safetensors.torch import save_file

    tensors = {f"model.{name}": value.detach().clone().contiguous() for name, value in model.state_dict().items()}
    record: dict[str, Any] = {"identity": identity, "state": dict(state)}
    if optimizer is not None:
        saved = optimizer.state_dict()
        for index, slots in saved["state"].items():
            for slot, value in slots.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{index}.{slot}"] = value.detach().clone().contiguous()
        record["param_groups"] = saved["param_groups"]
    tensors["rng.torch"] = torch.get_rng_state()
    for group, members in (groups or {}).items():
        if group in RESERVED:
            raise ValueError(f"checkpoint group {group!r} is reserved")
        tensors.update({f"{group}.{name}": value.detach().clone().contiguous() for name, value in members.items()})
    if generator is not None:  # PCG64's 128-bit integers as text: JSON readers cap integer digits
        record["numpy_rng"] = json.loads(json.dumps(generator.bit_generator.state, default=str), parse_int=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    json_path(path).unlink(missing_ok=True)  # no JSON names the run while its tensors are being replaced
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(json_path(path)) as tmp:
        tmp.write_text(json.dumps(record))


def load(
    path: Path,
    identity: Any,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    *,
    generator: np.random.Generator | None = None,
) -> Checkpoint | None:
    """Restore `model`, `optimizer`, the RNGs from the checkpoint of this very run (same `identity`); None
    (nothing restored) when there is none or it belongs to another run."""
    import torch
    from safetensors.torch import load_file

    if not (path.is_file() and json_path(path).is_file()):
        return None
    with json_path(path).open("rb") as stream:  # the trainer's own file; NaN scores (no validation) are kept
        record = json.loads(stream.read(MAX_JSON_BYTES))
    if record.get("identity") != json.loads(json.dumps(identity)):  # compared as JSON: tuples are lists there
        return None
    modelfile.check_safetensors(path)
    tensors = load_file(str(path))
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        group, name = key.split(".", 1)
        groups.setdefault(group, {})[name] = value
    model.load_state_dict(groups.pop("model"))
    if optimizer is not None:
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in groups.pop("optim", {}).items():
            index, slot = key.split(".", 1)
            slots.setdefault(int(index), {})[slot] = value
        optimizer.load_state_dict({"state": slots, "param_groups": record["param_groups"]})
    torch.set_rng_state(groups.pop("rng")["torch"])
    if generator is not None and "numpy_rng" in record:
        generator.bit_generator.state = _ints(record["numpy_rng"])
    return Checkpoint(record["state"], groups)


def _ints(value: Any) -> Any:
    """The numpy generator state with its integers back from text."""
    if isinstance(value, dict):
        return {key: _ints(item) for key, item in value.items()}
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value
