"""Where a batch runs: in this process, on a pool of local worker processes, or on a Dask cluster."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from engine.batch.photo import process_photo
from engine.batch.recipe import TORCH_KINDS, Recipe
from engine.batch.tasks import BatchReport, Outcome, Task
from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn, check, no_progress


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
    changes its own process (workers set torch to one thread and keep freed memory). `on_outcome` hears of
    each photo as it finishes, in finishing order."""
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

        main = threading.main_thread().ident
        assert main is not None

        def wait_for_the_batch() -> None:
            import select

            select.select([watched], [], [])
            signal.pthread_kill(main, signal.SIGTERM)  # to the thread that writes: it may hold SIGTERM an instant

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
