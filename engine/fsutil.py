"""Atomic file writes: an interrupted or failed export never leaves a truncated file behind."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from engine.errors import InputError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary path in the target's folder; rename it onto `target` only on success.

    The temporary name keeps the target's suffix, so format-sniffing writers pick the right format.
    """
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    tmp = _create_temp(folder, target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _create_temp(folder: Path, target: Path) -> Path:
    """A new empty file beside `target`, created with the usual permissions (0666 minus umask).

    (`tempfile.mkstemp` would make it 0600, and that mode would survive the rename onto the export.)
    """
    for _ in range(100):
        tmp = folder / f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"{target}: cannot write in {folder} ({exc.strerror or exc})") from exc
        return tmp
    raise InputError(f"{target}: cannot create a temporary file in {folder}")
