"""Atomic file writes: an interrupted or failed export never leaves a truncated file, nor a stray one.

Two ways in, both ending in a rename onto the target:
- `atomic_file` (photo and .cube exports): on Linux the data goes into an unnamed file (``O_TMPFILE``)
  that gets a name only once it is complete, for the instant before the rename (SIGTERM is held for that
  instant), so a process killed or told to end mid-write leaves nothing behind. Where ``O_TMPFILE`` is
  missing it falls back to `atomic_path`.
- `atomic_path` (writers that need a file name, e.g. safetensors): a hidden temporary beside the target.

Every temporary is named ``.STEM.XXXXXXXX.tmpSUFFIX`` and flock()ed by its writer. Before each write,
such files in the target folder that nobody holds a lock on -- left by a killed process -- are removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import io
import os
import re
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import InputError

_TEMP_NAME = re.compile(r"\..*\.[0-9a-f]{8}\.tmp(\.[^.]*)?")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary path in the target's folder; rename it onto `target` only on success.

    The temporary name keeps the target's suffix, so format-sniffing writers pick the right format.
    """
    target = Path(target)
    folder = _folder_of(target)
    remove_stale_temps(folder)
    tmp, lock = _create_temp(folder, target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.close(lock)


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary stream (seekable; its ``name`` is the target's) whose bytes replace `target` only
    when the block succeeds."""
    target = Path(target)
    folder = _folder_of(target)
    remove_stale_temps(folder)
    fd = _unnamed_file(folder)
    if fd is None:
        with atomic_path(target) as tmp, tmp.open("w+b") as stream:
            yield stream
        return
    raw = io.FileIO(fd, "r+b")
    raw.name = str(target)  # writers that look at the name (tifffile) see the real one
    with io.BufferedRandom(raw) as stream:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the name it gets below is ours until the rename
        yield stream
        stream.flush()
        with _termination_held():
            for _ in range(100):
                name = _temp_name(folder, target)
                try:
                    _link(fd, name)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise InputError(f"{target}: cannot write in {folder} ({exc.strerror or exc})") from exc
                try:
                    os.replace(name, target)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        name.unlink()
                return
        raise InputError(f"{target}: cannot create a temporary file in {folder}")


@contextlib.contextmanager
def _termination_held() -> Iterator[None]:
    """Hold SIGTERM for this thread while the finished file has its hidden name: a batch worker told to end in
    that instant (see `engine.batch.run`) ends just after the rename instead of leaving the name behind."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete this module's temporaries in `folder` whose writer is gone (no lock held); returns them."""
    removed: list[Path] = []
    try:
        entries = [entry for entry in os.scandir(folder) if _TEMP_NAME.fullmatch(entry.name)]
    except OSError:
        return removed
    for entry in entries:
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # locked by a live writer, or already gone
            continue
        finally:
            os.close(fd)
    return removed


def _folder_of(target: Path) -> Path:
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    return folder


def _temp_name(folder: Path, target: Path) -> Path:
    return folder / f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}"


def _unnamed_file(folder: Path) -> int | None:
    """An O_TMPFILE descriptor in `folder` (0666 minus umask, like a normal new file), or None where the
    system or file system has none or it cannot be given a name (probed once per file system)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return None
    try:
        device = folder.stat().st_dev
        if device not in _LINKABLE:
            probe = os.open(folder, flag | os.O_RDWR, 0o600)
            try:
                name = _temp_name(folder, Path("probe"))
                _link(probe, name)
                name.unlink()
                _LINKABLE[device] = True
            except OSError:
                _LINKABLE[device] = False
            finally:
                os.close(probe)
        return os.open(folder, flag | os.O_RDWR, 0o666) if _LINKABLE[device] else None
    except OSError:
        return None


_LINKABLE: dict[int, bool] = {}


def _link(fd: int, name: Path) -> None:
    """Give the unnamed file `fd` the name `name`: linkat(AT_EMPTY_PATH) where allowed, else through /proc."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.linkat(fd, b"", _AT_FDCWD, os.fsencode(name), _AT_EMPTY_PATH) == 0:
        return
    error = ctypes.get_errno()
    if error == errno.EEXIST:
        raise FileExistsError(error, os.strerror(error), str(name))
    os.link(f"/proc/self/fd/{fd}", name, follow_symlinks=True)


_AT_FDCWD, _AT_EMPTY_PATH = -100, 0x1000


def _create_temp(folder: Path, target: Path) -> tuple[Path, int]:
    """A new empty file beside `target` with the usual permissions (0666 minus umask), and a descriptor
    holding its lock. (`tempfile.mkstemp` would make it 0600, and that mode would survive the rename.)"""
    for _ in range(100):
        tmp = _temp_name(folder, target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"{target}: cannot write in {folder} ({exc.strerror or exc})") from exc
        fcntl.flock(fd, fcntl.LOCK_EX)
        return tmp, fd
    raise InputError(f"{target}: cannot create a temporary file in {folder}")
