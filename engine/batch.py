"""One edit applied to many photos: in this process, on a pool of local worker processes, or on a Dask cluster.

Why: a shoot is graded as a whole, and every `apply`/`enhance` call re-imports torch and reloads the model.
Here a `Recipe` (the edit, as the editor's sidecar steps) and a list of `Task` (input file, output file) go
to workers that each build the recipe once (models loaded once, an imported LUT read once) and then treat
one photo at a time, so memory is one photo per worker. Each photo goes through the editor's own
`EditDocument`, so an adaptive preset predicts each photo's own LUT and the result equals an editor export.

Outputs keep the file name, format, bit depth and EXIF; writes are atomic, so a photo whose output exists is
complete and is skipped unless `overwrite` (a rerun after a crash resumes). A photo that fails is reported
and the batch goes on. The same function runs in all three places, so a cluster run gives the same bytes
as a local one (torch runs on one thread per worker, which also makes its sums run in one order).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, InputError, LutLabError
from engine.image import PHOTO_SUFFIXES
from engine.jobs import CancelToken, ProgressFn, check, no_progress

WRITABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")  # others (.webp, .bmp) are written as .png
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


# ---------------------------------------------------------------------------------------------- planning


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


# ---------------------------------------------------------------------------------------------- one photo


def _prepared(recipe: Recipe) -> tuple:
    """The recipe's steps with their photo-independent results (an imported LUT, adjustments) computed once
    per worker and recomputed when a file they read changes: a long-lived Dask worker must not grade with
    the .cube that was at that path before. A preset's model is cached by `engine.adaptive.infer`."""
    return _prepared_for(recipe, _file_stamps(recipe))


def _file_stamps(recipe: Recipe) -> tuple:
    """(path, size, mtime in ns) of each file the recipe's steps read; None for a file that is not there."""
    stamps: list[tuple[str, int | None, int | None]] = []
    for _kind, _label, params, enabled in recipe.steps:
        path = json.loads(params).get("path") if enabled else None
        if path:
            try:
                info = os.stat(path)
                stamps.append((path, info.st_size, info.st_mtime_ns))
            except OSError:
                stamps.append((path, None, None))
    return tuple(stamps)


@functools.lru_cache(maxsize=2)
def _prepared_for(recipe: Recipe, stamps: tuple) -> tuple:  # stamps: only part of the cache key
    import cv2

    from engine.document import ANY_INPUT, Step, compute_step
    from engine.lut.apply import limit_threads

    limit_threads(1)  # one photo per core: a worker's siblings have the other cores
    cv2.setNumThreads(1)
    _reuse_freed_memory()
    if any(kind in TORCH_KINDS for kind, *_ in recipe.steps):
        import torch

        torch.set_num_threads(1)  # and the same summation order in every worker
    steps = []
    for kind, label, params, enabled in recipe.steps:
        step = Step(kind, label, json.loads(params), enabled)
        if enabled and not step.needs_input:
            step.store(ANY_INPUT, compute_step(step, None, no_progress, None))
        steps.append(step)
    return tuple(steps)


def _reuse_freed_memory() -> None:
    """Keep freed memory in this process for the next photo (glibc). By default every array over 32 MB (a 12 MP
    photo's pixels, its colour codes, its encoded bytes) is a fresh mapping given back when freed, so each
    photo faults its ~150 MB in afresh: measured 0.08 of 0.32 CPU s per 12 MP photo in the kernel, 0.01 with
    this. The process keeps one photo's peak, which a worker needs again for its next photo anyway."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: its allocator's own policy stays
        return
    mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def process_photo(recipe: Recipe, task: Task, cancel: CancelToken | None = None) -> Outcome:
    """Apply the recipe to one photo and write it atomically; any error becomes a failed outcome."""
    started, start, cpu = time.time(), time.perf_counter(), time.thread_time()
    try:
        _render(recipe, task, cancel)
        status, message = "done", ""
    except Cancelled:
        raise
    except LutLabError as exc:
        status, message = "failed", str(exc)
    except MemoryError:
        status, message = "failed", f"{task.source}: not enough memory"
    except Exception as exc:  # one photo's unexpected failure must not stop the other photos
        status, message = "failed", f"{task.source}: {type(exc).__name__}: {exc}"
    worker = f"{socket.gethostname()}/{os.getpid()}/{threading.get_ident()}"
    seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
    return Outcome(task.source, task.target, status, message, seconds, worker, started, cpu)


def _render(recipe: Recipe, task: Task, cancel: CancelToken | None) -> None:
    """Colour-only edits grade the decoded samples in place (memory: the photo at its own bit depth plus a
    band, and a float copy only while a preset predicts from it); edits with pixel steps (upscale, low-light)
    go through float pixels. Both equal an editor export of the same edit."""
    from engine.document import ANY_INPUT, EditDocument, EditState
    from engine.image import Photo, read_photo, save_photo, save_raw
    from engine.lut import apply_lut
    from engine.lut.apply import apply_lut_in_place

    template = _prepared(recipe)
    # fresh copies: per-photo results (a preset's LUT, upscaled pixels) must not pile up in shared steps
    steps = tuple(replace(s, outputs={k: v for k, v in s.outputs.items() if k == ANY_INPUT}) for s in template)
    pixel_steps = any(step.enabled and step.is_pixel for step in steps)
    raw = read_photo(task.source)
    looks_at_pixels = pixel_steps or any(step.enabled and step.needs_input for step in steps)
    source = raw.to_photo() if looks_at_pixels else Photo(np.zeros((1, 1, 3), np.float32))  # LUTs ignore it
    document = EditDocument(source, Path(task.source), EditState(steps, recipe.strength))
    work = document.refresh_work()
    if work is not None:
        document.fill(work(no_progress, cancel or CancelToken()))
    lut = document.look_lut()
    check(cancel)
    if pixel_steps:
        photo = document.photo
        if lut is not None:
            photo = photo.with_pixels(apply_lut(photo.pixels, lut, recipe.interpolation, cancel=cancel))
        save_photo(photo, task.target)
        return
    del document, source, steps  # the float copy is not needed any more
    if lut is not None and raw.values.dtype == np.uint8:
        _colour_table(lut, recipe.interpolation).apply_in_place(raw.values, cancel=cancel)
    elif lut is not None:
        apply_lut_in_place(raw.values, raw.peak, lut, recipe.interpolation, cancel=cancel)
    save_raw(raw, task.target)


_worker_thread = threading.local()  # each thread of a (Dask) worker grades with a table of its own


def _colour_table(lut, interpolation: str):  # -> engine.lut.apply.ColourTable
    """8-bit photos are graded through a table of the colours met so far (the same bytes, in a quarter of the
    CPU time). Each worker (thread) keeps one table: when every photo gets the same LUT (a LUT, or a recipe whose
    steps do not look at the photo) each photo only interpolates the colours that earlier photos did not
    have; a preset's own LUT per photo starts the table afresh. Keyed by the LUT's content, so a long-lived
    Dask worker never grades with a stale table."""
    import hashlib

    from engine.lut.apply import ColourTable

    digest = hashlib.sha1(interpolation.encode())
    shaper = () if lut.shaper is None else (lut.shaper.table, lut.shaper.domain_min, lut.shaper.domain_max)
    for part in (lut.table, lut.domain_min, lut.domain_max, *shaper):
        digest.update(np.ascontiguousarray(part, np.float32).tobytes())
    key = digest.digest()
    table = getattr(_worker_thread, "colour_table", None)
    if table is None:
        table = _worker_thread.colour_table = ColourTable(lut, interpolation)
    elif _worker_thread.colour_key != key:
        table.retarget(lut, interpolation)
    _worker_thread.colour_key = key
    return table


# ---------------------------------------------------------------------------------------------- many photos


def run_batch(
    recipe: Recipe,
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    in_process: bool | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> BatchReport:
    """Run every task: in this process, on `workers` local processes, or on the Dask cluster at `scheduler`
    ("tcp://host:port"). `in_process` defaults to workers == 1; the editor says False, so a batch never
    changes its own process (workers set torch to one thread). `on_outcome` hears of each photo as it
    finishes, in finishing order."""
    recipe.check()
    report, start = BatchReport(started=time.time()), time.perf_counter()

    def finished(outcome: Outcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        progress(len(report.outcomes) / max(len(tasks), 1), Path(outcome.source).name)

    if scheduler:
        _run_dask(recipe, tasks, scheduler, finished, cancel)
    elif (workers <= 1) if in_process is None else in_process:
        for task in tasks:
            check(cancel)
            finished(process_photo(recipe, task, cancel))
    else:
        _run_pool(recipe, tasks, workers, finished, cancel)
    report.seconds = time.perf_counter() - start
    return report


def _run_pool(
    recipe: Recipe, tasks: Sequence[Task], workers: int, finished: Callable[[Outcome], None], cancel: CancelToken | None
) -> None:
    """One photo per worker in flight plus one queued, so a worker that finishes starts the next photo at once
    rather than after this process hears of it and hands one over (measured ~4 ms per photo); memory stays one
    photo per worker (a queued task is two paths) and a cancel stops after at most one more photo."""
    context = _worker_context(recipe)
    pending = list(reversed(tasks))
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(tasks))),
        mp_context=context,
        initializer=_end_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        running: set[Future] = set()
        try:
            while pending or running:
                while pending and len(running) <= workers and not (cancel and cancel.cancelled):
                    running.add(pool.submit(process_photo, recipe, pending.pop()))
                done, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(future.result())
                if cancel is not None and cancel.cancelled and not running:
                    cancel.check()
        except BaseException:
            for future in running:
                future.cancel()
            raise


# imported by the fork server before it forks workers; not OpenCV, whose thread pool is not fork-safe
WORKER_MODULES = ("engine.batch", "engine.document", "engine.image", "engine.lut.apply", "PIL.Image")


def _worker_context(recipe: Recipe):  # -> multiprocessing context
    """Workers fork from a fresh single-threaded server process that imported their modules once (torch too
    when a step needs it), rather than each importing them anew (about 2.5 CPU s each with torch); never a
    fork of this process, which may hold threads (Qt, torch). Spawn where there is no fork server (Windows).
    The server starts with the first pool of a process, so it keeps that first batch's modules."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    torch_steps = any(kind in TORCH_KINDS for kind, *_ in recipe.steps)
    context.set_forkserver_preload([*WORKER_MODULES, *(("torch", "engine.adaptive.infer") if torch_steps else ())])
    return context


def _end_with_parent(batch_pid: int) -> None:
    """Pool worker start-up: end this worker when the batch process ends (a killed batch must not leave
    workers behind, waiting on a queue nobody feeds; a photo being written then leaves nothing: writes are
    atomic). The worker's parent is the fork server, so it watches the batch process itself: a pidfd where
    Linux has one, else the parent-death signal (spawned workers)."""
    import signal
    import threading

    if hasattr(os, "pidfd_open"):
        try:
            watched = os.pidfd_open(batch_pid)
        except OSError:  # already gone
            os._exit(1)

        def wait_for_the_batch() -> None:
            import select

            select.select([watched], [], [])
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=wait_for_the_batch, daemon=True).start()
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when they next find the queue closed
        pass


def _run_dask(
    recipe: Recipe, tasks: Sequence[Task], address: str, finished: Callable[[Outcome], None], cancel: CancelToken | None
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise InputError("--scheduler needs Dask distributed: pip install 'lutlab[cluster]'") from exc
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address} ({exc})") from exc
    with client:
        futures = client.map(process_photo, [recipe] * len(tasks), tasks, pure=False)
        try:
            for future in as_completed(futures):
                check(cancel)
                finished(future.result())
        except BaseException:
            client.cancel(futures)
            raise


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
