"""What a batch is asked to do and what became of it: one `Task` per photo (planned from the inputs, skipping
photos already done), one `Outcome` per photo, a `BatchReport` for the whole batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.image import PHOTO_SUFFIXES

WRITABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")  # others (.webp, .bmp) are written as .png


@dataclass(frozen=True)
class Task:
    source: str
    target: str


@dataclass(frozen=True)
class Outcome:
    """What became of one photo: status is "done", "skipped" or "failed" (message says why). A photo that was
    worked on also says where (`worker`: host/process/thread), when it started (epoch seconds), for how long
    and with how much CPU: enough to see a batch's start-up and idle workers."""

    source: str
    target: str
    status: str
    message: str = ""
    seconds: float = 0.0
    worker: str = ""
    started: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    started: float = 0.0  # epoch seconds

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    @property
    def worked(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.worker]

    @property
    def workers(self) -> int:
        return len({outcome.worker for outcome in self.worked})

    @property
    def efficiency(self) -> float:
        """Time the workers spent on photos / (workers x the batch's time): 1 when none waited."""
        busy = sum(outcome.seconds for outcome in self.worked)
        return busy / (self.workers * self.seconds) if self.workers and self.seconds > 0 else 0.0

    @property
    def startup_seconds(self) -> float:
        """From the batch's start to its first photo's: starting workers, imports, loading the edit."""
        return min(outcome.started for outcome in self.worked) - self.started if self.worked else 0.0

    def summary(self) -> str:
        done = self.count("done")
        rate = f", {60 * done / self.seconds:.1f} photos/min" if done and self.seconds > 0 else ""
        return (
            f"{done} done, {self.count('skipped')} already done, {len(self.failed)} failed "
            f"in {self.seconds:.1f} s{rate}"
        )

    def timing(self) -> str:
        """How the workers spent the batch's time (for the CLI and the bench; empty when no photo was worked on)."""
        if not self.worked:
            return ""
        cpu = sum(outcome.cpu_seconds for outcome in self.worked) / len(self.worked)
        return (
            f"{self.workers} worker(s) busy {100 * self.efficiency:.0f}% of it, first photo after "
            f"{self.startup_seconds:.2f} s, {cpu:.3f} CPU s/photo"
        )


def collect_photos(inputs: Sequence[Path]) -> tuple[list[Path], list[Outcome]]:
    """The photos named or found in the given folders (not recursive, hidden files left out; each once), and a
    failed outcome for each input that is neither."""
    found, refused = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(
                p
                for p in item.iterdir()
                if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES and not p.name.startswith(".")
            )
        elif item.is_file():
            found.append(item)
        else:
            refused.append(Outcome(str(item), "", "failed", f"{item}: no such file or folder"))
    unique: dict[Path, Path] = {}
    for photo in found:  # a photo named twice (itself and in its folder) is done once
        unique.setdefault(photo.resolve(), photo)
    return list(unique.values()), refused


def output_path(source: Path, out_dir: Path) -> Path:
    """Same name in `out_dir`; formats LUTLab cannot write (.webp, .bmp) become .png."""
    name = source.name if source.suffix.lower() in WRITABLE_SUFFIXES else source.stem + ".png"
    return out_dir / name


def plan(inputs: Sequence[Path], out_dir: Path, overwrite: bool = False) -> tuple[list[Task], list[Outcome]]:
    """(tasks to run, outcomes already known: skipped photos and refused inputs)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: output folder does not exist")
    photos, known = collect_photos(inputs)
    tasks, seen = [], set()
    for photo in photos:
        target = output_path(photo, out_dir)
        key = target.resolve()
        if key == photo.resolve():
            known.append(Outcome(str(photo), str(target), "failed", f"{photo}: output would overwrite the original"))
        elif key in seen:
            known.append(
                Outcome(str(photo), str(target), "failed", f"{photo}: another input already writes {target.name}")
            )
        elif target.exists() and not overwrite:
            known.append(Outcome(str(photo), str(target), "skipped"))
        else:
            tasks.append(Task(str(photo), str(target)))
        seen.add(key)
    return tasks, known
