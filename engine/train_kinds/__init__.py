"""Every kind of model a user can train, described once: the `train` command and the Train dialog both read it.

A kind is a `TrainKind` in a module of this package (``KINDS``, found automatically): its options (type,
default, range or choices, help), how a data folder is checked, and the entry point that trains through
`engine.training.TrainingEvents`. The CLI turns the options into flags (`engine.cli.train`) and the dialog
into a form (`app.train_options`), so adding a kind, or an option, is an edit here and nowhere else.
Descriptors import no torch: a family's trainer is imported when training starts.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.training import TrainingEvents

_SAME = object()  # Option.form_default: the dialog starts from the CLI's default


@dataclass(frozen=True)
class TrainerDefault:
    """A default the trainer itself holds (e.g. the shipped Auto's table size), read when it is needed: the
    trainer's module imports torch, which the CLI's parser and help must not."""

    module: str
    attribute: str  # a dotted path inside `module`, e.g. "SHIPPED_MODEL.lut_size"
    words: str  # how the help says it, e.g. "as in the shipped Auto"

    def value(self) -> Any:
        found: Any = importlib.import_module(self.module)
        for part in self.attribute.split("."):
            found = getattr(found, part)
        return found


@dataclass(frozen=True)
class Option:
    """One setting of a kind: a CLI flag (``--lut-size`` for `lut_size`) and a field of the dialog's form."""

    name: str  # key in TrainRequest.options; the dialog's widget attribute
    type: type  # int, bool or str
    default: Any  # None: the kind works it out (e.g. steps from epochs); a TrainerDefault: read from the trainer
    label: str  # the dialog's field label (a check box's text for a bool)
    help: str  # CLI help and dialog tooltip
    low: int | None = None
    high: int | None = None
    choices: tuple[tuple[Any, str], ...] = ()  # (value, the dialog's label for it)
    flag: str = ""  # the CLI flag, when it is not --name-with-dashes
    in_form: bool = True  # False: the CLI only (sr --steps: the dialog counts epochs instead)
    form_default: Any = _SAME  # the dialog's starting value, where it suggests more than the CLI's default

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def default_value(self) -> Any:
        return self.default.value() if isinstance(self.default, TrainerDefault) else self.default

    @property
    def start_value(self) -> Any:
        """The value the dialog's form starts from."""
        return self.default_value if self.form_default is _SAME else self.form_default

    def check(self, value: Any) -> Any:
        """`value`, or the default for None; an InputError naming the flag when it is out of range."""
        if value is None:
            return self.default_value
        if type(value) is not self.type:
            raise InputError(f"{self.cli_flag} must be {self.type.__name__}, not {value!r}")
        if self.choices and value not in [choice for choice, _ in self.choices]:
            known = ", ".join(str(choice) for choice, _ in self.choices)
            raise InputError(f"{self.cli_flag} must be one of {known}, not {value!r}")
        if isinstance(value, int) and (
            (self.low is not None and value < self.low) or (self.high is not None and value > self.high)
        ):
            raise InputError(f"{self.cli_flag} must be in {self.low}..{self.high}, got {value}")
        return value


@dataclass(frozen=True)
class TrainRequest:
    data: Path
    target: Path | None
    name: str
    epochs: int | None  # None: the kind's default
    seed: int = 0
    out: Path | None = None  # None: the user's model folder of the family
    options: dict[str, Any] = field(default_factory=dict)  # checked: TrainKind.resolve


Validate = Callable[[Path, Path | None, Mapping[str, Any]], tuple[str, bool]]
Train = Callable[[TrainRequest, TrainingEvents], str]


@dataclass(frozen=True)
class TrainKind:
    key: str  # unique; the dialog's kind id
    family: str  # the CLI's --kind (pairs and good photos are both "adaptive")
    label: str
    default_epochs: int | TrainerDefault
    options: tuple[Option, ...]
    # (data, target, resolved options) -> a report of the folder(s) and whether training can start; may raise
    # an InputError for a folder that cannot be read at all
    validate: Validate
    # trains, writes the model (request.out or the user's folder) and returns a one-line summary; bad data
    # raises an InputError, Cancel raises Cancelled and leaves no partial model
    train: Train
    data_flag: str = "data"  # "photos": the CLI's --photos names this kind's folder
    data_hint: str = "folder of training data"
    uses_target: bool = True  # False: no separate target folder
    name_hint: str = "name of the new model"
    note: str = ""  # what the dialog says above the options
    cli_epochs: bool = True  # False: the CLI refuses --epochs (sr trains by --steps)

    def resolve(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every option of this kind, checked, with defaults for the missing (or None) ones."""
        return {option.name: option.check(values.get(option.name)) for option in self.options}

    @property
    def epoch_default(self) -> int:
        epochs = self.default_epochs
        return int(epochs.value()) if isinstance(epochs, TrainerDefault) else epochs

    def epochs(self, request: TrainRequest) -> int:
        return request.epochs if request.epochs is not None else self.epoch_default


def kinds() -> list[TrainKind]:
    """Every kind, in the order of their modules (adaptive first: the dialog opens on it)."""
    found: list[TrainKind] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        found.extend(getattr(importlib.import_module(f"{__name__}.{info.name}"), "KINDS", ()))
    return found
