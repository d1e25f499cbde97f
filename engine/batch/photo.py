"""One photo in a worker: the recipe prepared once per worker, then each photo decoded, graded and written.

Runs the same in this process, in a local pool worker and on a Dask worker, so all three write the same bytes.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.batch.recipe import TORCH_KINDS, Recipe
from engine.batch.tasks import Outcome, Task
from engine.errors import Cancelled, LutLabError
from engine.jobs import CancelToken, check, no_progress


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
