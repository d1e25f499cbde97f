"""Batch throughput: photos per minute and peak memory for one LUT (and one adaptive preset) over a shoot.

    python bench/batch.py [--photos 48] [--megapixels 12] [--loop-photos 6]

Compared on the same JPEG files (made from the corpus photos, or scikit-image's when the corpus is not
built, resized to the size asked):
- the per-photo CLI loop a user writes today (`python main.py apply` / `enhance` once per photo),
- ffmpeg's lut3d filter, once per photo (the peer: what a user with ffmpeg does), one at a time and two at
  a time (as `xargs -P 2` would),
- `python main.py batch` with --workers 1 and 2, and with --scheduler on a Dask cluster on this machine
  (`dask scheduler` + 2 x `dask worker --nthreads 1 --no-nanny`, started before the clock, as a farm would be).
Peak memory is the largest sum of resident memory over the command's whole process tree (sampled every
50 ms), for the Dask run plus the scheduler and worker processes. CPU seconds per photo (user + system over
all those processes) do not depend on how busy the machine is, unlike the wall-clock rates. The Dask
outputs are checked byte for byte against the local run's, and a batch killed midway is rerun to show it
resumes.
Start-up is told apart from the steady rate: for each batch run, the seconds from launching the command to
its first photo, the share of the time its workers were busy on photos (busy / (workers x the batch's
time): 1 when none waited) and the cores it got (CPU seconds / wall seconds). On a machine shared with
other work, photos/min and their ratios shrink with the load; CPU s/photo and the busy share do not.
Per-photo loops run on the first K photos only (`--loop-photos`): their rate is per photo anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def make_shoot(folder: Path, count: int, megapixels: float) -> list[Path]:
    """`count` JPEGs of about `megapixels` (real photos upsized), with EXIF, cached between runs."""
    import cv2
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"shot{index:03d}.jpg" for index in range(count)]
    if all(p.exists() for p in paths):
        return paths
    sources = _source_photos()
    exif = Image.Exif()
    exif[0x010F] = "LUTLab bench"
    for index, path in enumerate(paths):
        pixels = sources[index % len(sources)]
        height, width = pixels.shape[:2]
        scale = (megapixels * 1e6 / (height * width)) ** 0.5
        size = (round(width * scale), round(height * scale))
        big = cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        Image.fromarray(big).save(path, quality=92, exif=exif.tobytes())
    return paths


def _source_photos() -> list[np.ndarray]:
    try:
        from engine import corpus

        paths = corpus.corpus_paths("train")
        if paths and all(Path(p).exists() for p in paths):
            from PIL import Image

            return [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    except Exception:  # the corpus is optional here: any photo content will do for a speed bench
        pass
    from engine.image import SAMPLE_PHOTOS, sample_photo

    return [np.round(sample_photo(name).pixels * 255).astype(np.uint8) for name in SAMPLE_PHOTOS]


# ---------------------------------------------------------------------------------------------- measuring


def _tree_stats(root: int) -> tuple[float, float]:
    """(resident MB, CPU seconds so far) of `root` and all its live descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = (int(fields[21]), int(fields[11]) + int(fields[12]))  # rss pages, utime + stime ticks
    pages = ticks = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        pages += stats.get(pid, (0, 0))[0]
        ticks += stats.get(pid, (0, 0))[1]
        stack += children.get(pid, [])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20, ticks / os.sysconf("SC_CLK_TCK")


def run_measured(
    commands: list[list[str]], parallel: int = 1, also: tuple[int, ...] = ()
) -> tuple[float, float, float, str]:
    """(seconds, peak MB, CPU seconds, the last command's stderr) for running `commands`, `parallel` at a time.
    Memory is summed over the children's process trees and the trees of the running processes in `also` (a
    Dask cluster); CPU time is the children's and their descendants' (user + system) plus what `also` used
    meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cluster_cpu = sum(_tree_stats(pid)[1] for pid in also)
    start, peak = time.perf_counter(), 0.0
    queue = list(reversed(commands))
    running: list[subprocess.Popen] = []
    errors = ""
    while queue or running:
        while queue and len(running) < parallel:
            running.append(subprocess.Popen(queue.pop(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        peak = max(peak, sum(_tree_stats(pid)[0] for pid in [p.pid for p in running] + list(also)))
        for process in list(running):
            if process.poll() is not None:
                running.remove(process)
                errors = process.stderr.read().decode()
                if process.returncode:
                    raise SystemExit(f"{' '.join(process.args)[:300]} failed: {errors}")
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    _reap_orphans(keep=also)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cluster_cpu = sum(_tree_stats(pid)[1] for pid in also) - cluster_cpu
    return seconds, peak, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + cluster_cpu, errors


def _adopt_orphans() -> None:
    """Become the subreaper of our descendants (Linux): a batch's pool workers are forked by a fork server that
    outlives the batch command by a moment; adopted and reaped here, their CPU time counts in RUSAGE_CHILDREN
    (the server reaps its workers, we reap the server)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # 36 = PR_SET_CHILD_SUBREAPER


def _reap_orphans(keep: tuple[int, ...]) -> None:
    """Wait for every child of ours except `keep` (the Dask cluster): the adopted leftovers of a command."""
    me = os.getpid()
    for _ in range(200):
        children = {
            int(c)
            for task in os.listdir(f"/proc/{me}/task")
            for c in Path(f"/proc/{me}/task/{task}/children").read_text().split()
        } - set(keep)
        if not children:
            return
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    raise SystemExit(f"children of the bench do not end: {children}")


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# ---------------------------------------------------------------------------------------------- bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=48, help="a shoot large enough that start-up is not the story")
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--loop-photos", type=int, default=6, help="photos for the per-photo CLI loops")
    parser.add_argument("--preset", default="auto")
    args = parser.parse_args()
    _adopt_orphans()
    cache = Path.home() / ".cache" / "lutlab" / "bench-batch" / f"{args.photos}x{args.megapixels:g}mp"
    photos = make_shoot(cache, args.photos, args.megapixels)
    loop = photos[: args.loop_photos or len(photos)]
    work = Path(tempfile.mkdtemp(prefix="lutlab-batch-bench-"))
    cube = work / "look.cube"
    _write_look(cube)
    height, width = _size(photos[0])
    print(
        f"{len(photos)} JPEGs of {width} x {height} ({width * height / 1e6:.1f} MP); per-photo loops on "
        f"{len(loop)}; {os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}"
    )
    rows: list[Row] = []

    def record(name: str, count: int, seconds: float, peak: float, cpu: float, errors: str = "") -> None:
        row = Row(name, count, seconds, peak, cpu, *_batch_timing(errors, seconds))
        rows.append(row)
        print(f"  {row.line()}", flush=True)

    batch = [PYTHON, "main.py", "batch"]
    out = work / "out"
    # ---- LUT
    fresh(out)
    record(
        "LUT: per-photo CLI loop (apply)",
        len(loop),
        *run_measured([[PYTHON, "main.py", "apply", "--lut", str(cube), str(p), str(out / p.name)] for p in loop]),
    )
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:

        def ffmpeg_commands() -> list[list[str]]:
            fresh(out)
            return [
                [
                    ffmpeg,
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-i",
                    str(p),
                    "-vf",
                    f"lut3d=file={cube}:interp=tetrahedral",
                    "-pix_fmt",
                    "yuvj444p",
                    "-q:v",
                    "2",
                    str(out / p.name),
                ]
                for p in photos
            ]

        record("LUT: ffmpeg lut3d, one photo at a time", len(photos), *run_measured(ffmpeg_commands()))
        record("LUT: ffmpeg lut3d, two at a time", len(photos), *run_measured(ffmpeg_commands(), parallel=2))
    else:
        print("  (ffmpeg not installed: no peer row)")
    for workers in (1, 2):
        record(
            f"LUT: batch --workers {workers}",
            len(photos),
            *run_measured([[*batch, "--lut", str(cube), "--workers", str(workers), str(cache), "-o", str(fresh(out))]]),
        )
    local = digests(out)
    identical = _dask_row(record, batch + ["--lut", str(cube)], cache, fresh(work / "dask"))
    print(f"  Dask outputs byte-identical to the local --workers 2 run: {identical == local} ({len(identical)} files)")
    _resume_check(batch + ["--lut", str(cube), "--workers", "2", str(cache), "-o"], fresh(work / "resume"), len(photos))
    # ---- adaptive preset
    fresh(out)
    record(
        f"preset {args.preset}: per-photo CLI loop (enhance)",
        len(loop),
        *run_measured(
            [[PYTHON, "main.py", "enhance", "--preset", args.preset, str(p), str(out / p.name)] for p in loop]
        ),
    )
    for workers in (1, 2):
        record(
            f"preset {args.preset}: batch --workers {workers}",
            len(photos),
            *run_measured(
                [[*batch, "--preset", args.preset, "--workers", str(workers), str(cache), "-o", str(fresh(out))]]
            ),
        )
    _table(rows)
    _verdict(rows)
    shutil.rmtree(work, ignore_errors=True)


def _dask_row(record, command: list[str], inputs: Path, out: Path) -> dict[str, str]:
    """A Dask cluster as a farm runs it: `dask scheduler` and 2 `dask worker` processes of their own (one
    thread each, started from this repository's folder), then `batch --scheduler`."""
    dask = Path(PYTHON).with_name("dask")
    if not dask.exists():
        print("  (dask distributed not installed: no cluster row)")
        return {}
    address_file = out.parent / "scheduler.json"
    address_file.unlink(missing_ok=True)
    quiet = {"cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    cluster = subprocess.Popen(
        [
            dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(address_file),
        ],
        **quiet,
    )
    # without a nanny: under one, our workers took 2.4 instead of 1.3 CPU s per 12 MP photo (its worker
    # environment sets MALLOC_TRIM_THRESHOLD_, which makes every large temporary array fault in afresh)
    worker = [
        str(dask),
        "worker",
        "--scheduler-file",
        str(address_file),
        "--nthreads",
        "1",
        "--no-dashboard",
        "--no-nanny",
    ]
    workers = subprocess.Popen(["sh", "-c", f"{shlex.join(worker)} & {shlex.join(worker)} & wait"], **quiet)
    try:
        from distributed import Client

        while not address_file.exists():
            time.sleep(0.2)
        with Client(scheduler_file=str(address_file)) as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        measured = run_measured(
            [[*command, "--scheduler", address, str(inputs), "-o", str(out)]], also=(cluster.pid, workers.pid)
        )
        record("LUT: batch --scheduler (Dask, 2 worker processes)", len(list(out.iterdir())), *measured)
    finally:
        for process in (workers, cluster):
            _end_group(process)
        _reap_orphans(keep=())  # the workers, adopted when their shell ended: their CPU time is not a later row's
    return digests(out)


def _end_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM `process`'s process group, SIGKILL what is left of it after `grace` seconds (a Dask worker whose
    scheduler is gone may never finish closing)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait()
    deadline = time.monotonic() + grace
    while _group_alive(process.pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.1)


def _group_alive(group: int) -> bool:
    """Whether a process of this group is still running (zombies, dead and waiting to be reaped, do not count)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":  # state, pgrp
                return True
    return False


def _resume_check(command: list[str], out: Path, total: int) -> None:
    """SIGKILL a batch and its workers (as a crash would) after its first few photos, rerun it: the rerun must
    only do the rest."""
    process = subprocess.Popen(
        [*command, str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while len(list(out.iterdir())) < 3 and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(0.5)  # the kernel reaps the workers
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    rerun = subprocess.run([*command, str(out)], cwd=ROOT, capture_output=True, text=True)
    untouched = all((out / name).stat().st_mtime_ns == stamp for name, stamp in before.items())
    temporaries = [p.name for p in out.iterdir() if p.name.startswith(".")]
    print(
        f"  killed after {len(before)} photos; rerun: exit {rerun.returncode}, "
        f"{rerun.stdout.count('skipped ')} skipped, {rerun.stdout.count('done ')} done, "
        f"{len(list(out.iterdir()))}/{total} outputs, finished ones untouched: {untouched}, "
        f"temporaries left: {len(temporaries)}"
    )


def _write_look(path: Path) -> None:
    """A 33-point look with real curvature (a warm S-curve with a cross-channel mix)."""
    from engine.lut import LUT3D, identity_table, write_cube

    unit = identity_table(33).astype(np.float64)
    s_curve = unit + 0.12 * np.sin(2 * np.pi * unit)
    mix = s_curve @ np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.15, 0.85]]).T
    write_cube(LUT3D(np.clip(mix * [1.04, 1.0, 0.94], 0, 1).astype(np.float32), "bench look"), path)


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


@dataclass
class Row:
    """One measured command. For a batch command, from its last line: `startup`, the seconds outside its
    photos (launch to first photo, and the exit after the last) and `busy`, its workers' busy share; None for
    the per-photo loops and ffmpeg."""

    name: str
    count: int
    seconds: float
    peak: float
    cpu: float
    startup: float | None = None
    busy: float | None = None

    @property
    def rate(self) -> float:
        return 60 * self.count / self.seconds

    @property
    def steady_rate(self) -> float:
        """Photos per minute once the first photo started."""
        return 60 * self.count / (self.seconds - (self.startup or 0.0))

    def line(self) -> str:
        timing = f" start-up {self.startup:4.2f} s, busy {100 * self.busy:3.0f}%" if self.busy is not None else ""
        return (
            f"{self.name:<44} {self.count:>3} photos {self.seconds:6.1f} s {self.rate:6.1f}/min {self.peak:6.0f} MB "
            f"{self.cpu / self.count:5.2f} CPU s/photo, {self.cpu / self.seconds:4.2f} cores{timing}"
        )


def _batch_timing(errors: str, seconds: float) -> tuple[float | None, float | None]:
    """(launch to first photo in s, the workers' busy share) from a batch command's last line, else (None, None)."""
    summary = re.search(r" in ([\d.]+) s\b.*busy (\d+)% of it, first photo after ([\d.]+) s", errors)
    if summary is None:
        return None, None
    batch_seconds, busy, first_photo = float(summary[1]), int(summary[2]) / 100, float(summary[3])
    return seconds - batch_seconds + first_photo, busy  # interpreter and imports, then the batch's own start


def _verdict(rows: list[Row]) -> None:
    """The issue's targets, from the rows: LUT --workers 2 >= 1.6x --workers 1 and >= ffmpeg; preset >= 5x the
    CLI loop."""
    named = {row.name: row for row in rows}
    one, two = named.get("LUT: batch --workers 1"), named.get("LUT: batch --workers 2")
    if one and two:
        print(
            f"LUT --workers 2 vs --workers 1: {two.rate / one.rate:.2f}x whole commands, "
            f"{two.steady_rate / one.steady_rate:.2f}x once started (target 1.6x)"
        )
    for peer in ("LUT: ffmpeg lut3d, one photo at a time", "LUT: ffmpeg lut3d, two at a time"):
        if two and peer in named:
            print(
                f"LUT --workers 2 vs {peer[5:]}: {two.rate / named[peer].rate:.2f}x the photos/min, "
                f"{two.cpu / two.count / (named[peer].cpu / named[peer].count):.2f}x the CPU per photo"
            )
    loop = next((row for row in rows if row.name.startswith("preset") and "loop" in row.name), None)
    for row in rows:
        if loop and row.name.startswith("preset") and "batch" in row.name:
            print(f"{row.name} vs the per-photo CLI loop: {row.rate / loop.rate:.1f}x (target 5x)")


def _table(rows: list[Row]) -> None:
    def base(kind: str) -> Row | None:
        return next((row for row in rows if row.name.startswith(kind) and "workers 1" in row.name), None)

    print(
        f"\nload average after: {os.getloadavg()[0]:.1f} (photos/min share the CPUs with that load; CPU s/photo "
        "and busy % do not)"
    )
    print(
        "| run | photos | seconds | photos/min | vs --workers 1 | start-up s | steady vs --workers 1 | busy % "
        "| cores used | peak MB | CPU s/photo |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        reference = base("LUT" if row.name.startswith("LUT") else "preset")
        ratio = f"{row.rate / reference.rate:.2f}x" if reference else "-"
        steady = f"{row.steady_rate / reference.steady_rate:.2f}x" if reference and row.startup is not None else "-"
        startup = f"{row.startup:.2f}" if row.startup is not None else "-"
        busy = f"{100 * row.busy:.0f}" if row.busy is not None else "-"
        print(
            f"| {row.name} | {row.count} | {row.seconds:.1f} | {row.rate:.1f} | {ratio} | {startup} | {steady} "
            f"| {busy} | {row.cpu / row.seconds:.2f} | {row.peak:.0f} | {row.cpu / row.count:.2f} |"
        )


if __name__ == "__main__":
    main()
