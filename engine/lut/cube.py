""".cube LUT files: Adobe Cube LUT Specification 1.0 plus the DaVinci Resolve 3D dialect.

Reader: TITLE, comments (whole-line and trailing), blank lines, CRLF, DOMAIN_MIN/MAX,
LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE, LUT_3D_SIZE 2..256, a Resolve 1D shaper (LUT_1D_SIZE rows
before the 3D rows), kept as the LUT's `LUT1D` shaper and applied exactly, and 1D-only files (a shaper
in front of an identity cube). Any malformed file raises CubeFormatError naming the line.

The reader is built to survive hostile files, in time linear in the file size:
- the file is read in chunks and never held whole; a line longer than MAX_LINE_BYTES, a file larger than
  MAX_FILE_BYTES, and the table size are refused before anything big is allocated;
- numbers are ASCII only (``[+-]digits[.digits][e[+-]digits]``, no Unicode digits, no NaN/infinity)
  and matched by patterns that cannot backtrack more than linearly;
- the table rows go through a vectorised fast path (one numpy pass over each chunk, then `float`) and
  only a chunk with something unusual in it is re-read line by line for the exact error;
- error messages quote at most QUOTE_CHARS characters of the file, control characters escaped;
- keywords other than the ones above (e.g. Resolve's LUT_IN_VIDEO_RANGE) are refused by name rather
  than silently ignored, since ignoring them would apply the LUT wrongly.

Writer: the subset every major reader accepts (OCIO's Resolve reader rejects TITLE, its Iridas reader
rejects INPUT_RANGE, ffmpeg only reads DOMAIN lines after the size line): the title as a comment, the
size, DOMAIN lines only for a non-unit domain, then rows with 7 decimals. A LUT with a shaper is written
as Resolve and OCIO write one: LUT_1D_SIZE, LUT_1D_INPUT_RANGE, LUT_3D_SIZE, the shaper rows, the 3D
rows (the 3D domain folded into the shaper's outputs, exactly, so it is the unit cube); a 1D-only LUT
as LUT_1D_SIZE (+ DOMAIN lines) and its rows.

One module because the reader and the writer are one file format, checked against each other.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_file
from engine.lut.lut3d import LUT1D, LUT3D, MAX_1D_SIZE, MAX_SIZE, MIN_SIZE

MAX_FILE_BYTES = 1 << 30  # a 256^3 table with 9 decimals per number is about 600 MB
MAX_LINE_BYTES = 4096  # a row is three numbers; a title is a line
MAX_TITLE_CHARS = 256
QUOTE_CHARS = 80  # at most this much of the file appears in an error message
READ_CHUNK = 1 << 21  # bytes read (and parsed vectorised) at a time
MIN_ROW_BYTES = 6  # "0 0 0\n": a file shorter than rows * 6 - 1 bytes cannot hold the table

# Unambiguous patterns: digits before the point, after it and in the exponent are separate runs, so a
# failing match backtracks at most once per character (linear), unlike "\d+\.?\d*".
_NUMBER = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(rb"\+?[0-9]+")
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_NON_FINITE = re.compile(rb"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_UNIT_DOMAIN = (np.zeros(3, np.float32), np.ones(3, np.float32))
_KEYWORDS = (
    "TITLE",
    "LUT_3D_SIZE",
    "LUT_1D_SIZE",
    "DOMAIN_MIN",
    "DOMAIN_MAX",
    "LUT_1D_INPUT_RANGE",
    "LUT_3D_INPUT_RANGE",
)
_ROW_START = frozenset(b"0123456789+-.")
_ROW_BYTES = np.zeros(256, bool)  # the only bytes of a block the vectorised path accepts
_ROW_BYTES[list(b"0123456789+-.eE \t\n")] = True
_SPACE_BYTES = np.zeros(256, bool)
_SPACE_BYTES[list(b" \t\n")] = True


class CubeFormatError(InputError):
    """A .cube file is malformed; `line` is the 1-based line number of the problem."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        super().__init__(f"{path}: line {line}: {problem}")
        self.path, self.line, self.problem = Path(path), line, problem


def quote(text: bytes | str, limit: int = QUOTE_CHARS) -> str:
    """At most `limit` characters of `text` for an error message; control and format characters escaped."""
    if isinstance(text, bytes):
        text = text[: 4 * limit + 4].decode("utf-8", errors="replace")
    short = text[:limit]
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in short)
    return shown + ("..." if len(text) > limit else "")


@dataclass
class _Keyword:
    line: int
    values: list[bytes]


def read_cube(path: str | Path) -> LUT3D:
    """Parse a .cube file into a LUT3D; a 1D shaper, if present, is folded into the table."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            size = _file_size(stream)
            if size is not None and size > MAX_FILE_BYTES:
                raise CubeFormatError(path, 1, _too_big(size))
            return _Parser(stream, size, path).parse()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: not a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def parse_cube(raw: bytes, path: str | Path = "<cube>") -> LUT3D:
    """Parse the bytes of a .cube file; `path` only names the source in error messages."""
    if len(raw) > MAX_FILE_BYTES:
        raise CubeFormatError(path, 1, _too_big(len(raw)))
    return _Parser(io.BytesIO(raw), len(raw), path).parse()


def _too_big(size: int) -> str:
    return f"file is {size:,} bytes; .cube files over {MAX_FILE_BYTES:,} bytes are refused"


def _file_size(stream: BinaryIO) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


# ------------------------------------------------------------------------------------------ reading


class _Source:
    """The file as lines ending in b"\\n" only (CR and CRLF normalised), read a chunk at a time.

    Header lines come one by one (`next_line`); the table comes as blocks of whole lines (`blocks`).
    Lines are counted as they pass, so every error can name its line.
    """

    def __init__(self, stream: BinaryIO, path: str | Path) -> None:
        self.stream, self.path = stream, path
        self.buffer, self.pos = b"", 0
        self.line = 0  # lines handed out so far
        self.newlines_read = 0  # b"\n" in the normalised text read from the stream so far
        self.eof = False
        self.final_given = False  # the line after the final newline has been handed out
        self.last_start, self.last_final = 0, False
        self._carry_cr = False
        self._first = True

    def _read(self) -> bytes:
        """The next normalised chunk (b"" at the end of the file); NUL bytes are refused here."""
        while not self.eof:
            chunk = self.stream.read(READ_CHUNK)
            if not chunk:
                self.eof = True
                chunk = b"\r" if self._carry_cr else b""
                self._carry_cr = False
            else:
                if self._first and chunk.startswith(b"\xef\xbb\xbf"):
                    chunk = chunk[3:]
                self._first = False
                if self._carry_cr:
                    chunk = b"\r" + chunk
                self._carry_cr = chunk.endswith(b"\r")  # maybe half of a CRLF: decide with the next chunk
                if self._carry_cr:
                    chunk = chunk[:-1]
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if b"\0" in chunk:
                at = chunk.index(b"\0")
                line = self.newlines_read + chunk.count(b"\n", 0, at) + 1
                raise CubeFormatError(self.path, line, "binary data, not a .cube text file")
            self.newlines_read += chunk.count(b"\n")
            if chunk:
                return chunk
        return b""

    def next_line(self) -> bytes | None:
        """The next line without its newline, or None after the last one (the text after the final
        newline, maybe empty, is a line of its own, as in `str.splitlines` plus one)."""
        while True:
            cut = self.buffer.find(b"\n", self.pos, self.pos + MAX_LINE_BYTES + 1)
            if cut < 0 and len(self.buffer) - self.pos > MAX_LINE_BYTES:
                raise CubeFormatError(self.path, self.line + 1, f"line is longer than {MAX_LINE_BYTES:,} bytes")
            if cut < 0 and not self.eof:
                chunk = self._read()
                self.buffer, self.pos = self.buffer[self.pos :] + chunk, 0
                continue
            if cut < 0 and self.final_given:
                return None
            self.last_start, self.last_final = self.pos, cut < 0
            end = len(self.buffer) if cut < 0 else cut
            line, self.pos = self.buffer[self.pos : end], end + 1
            self.final_given = self.final_given or cut < 0
            self.line += 1
            return line

    def unread(self) -> None:
        """Put back the line just returned by `next_line` (the first table row)."""
        self.pos = self.last_start
        self.line -= 1
        if self.last_final:
            self.final_given = False

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(first line number, block) for the rest of the file: whole lines, about a chunk each."""
        rest = self.buffer[self.pos :]
        self.buffer, self.pos = b"", 0
        while True:
            chunk = self._read()
            if not chunk:
                if not self.final_given:
                    self.final_given = True
                    first = self.line + 1
                    self.line += rest.count(b"\n") + 1
                    yield first, rest
                return
            rest += chunk
            cut = rest.rfind(b"\n")
            if cut < 0:
                if len(rest) > MAX_LINE_BYTES:
                    raise CubeFormatError(self.path, self.line + 1, f"line is longer than {MAX_LINE_BYTES:,} bytes")
                continue
            block, rest = rest[: cut + 1], rest[cut + 1 :]
            first = self.line + 1
            self.line += block.count(b"\n")
            yield first, block


class _Parser:
    """Header keywords line by line, then the table rows block by block into a preallocated array."""

    def __init__(self, stream: BinaryIO, size: int | None, path: str | Path) -> None:
        self.path, self.size = path, size
        self.source = _Source(stream, path)
        self.keywords: dict[str, _Keyword] = {}

    def error(self, line: int, problem: str) -> CubeFormatError:
        return CubeFormatError(self.path, line, problem)

    def parse(self) -> LUT3D:
        first_row = self._header()
        size3 = self._size("LUT_3D_SIZE", MIN_SIZE, MAX_SIZE)
        size1 = self._size("LUT_1D_SIZE", 2, MAX_1D_SIZE)
        if size3 is None and size1 is None:
            raise self.error(first_row if first_row is not None else self.source.line, "missing LUT_3D_SIZE")
        domain = self._domain()
        range1 = self._input_range("LUT_1D_INPUT_RANGE")
        range3 = self._input_range("LUT_3D_INPUT_RANGE")
        if range3 is not None and not size1 and ("DOMAIN_MIN" in self.keywords or "DOMAIN_MAX" in self.keywords):
            raise self.error(
                self.keywords["LUT_3D_INPUT_RANGE"].line, "both DOMAIN_MIN/MAX and LUT_3D_INPUT_RANGE set the 3D domain"
            )
        values = self._table((size1 or 0) + (size3 or 0) ** 3, size1, size3)
        title = self._title()
        shaper = self._stage(LUT1D, values[:size1], *(range1 or domain)) if size1 else None
        if size3 is None:
            return self._stage(LUT3D.from_1d, shaper, title)
        table = values[size1 or 0 :].reshape(size3, size3, size3, 3)
        return self._stage(LUT3D, table, title, *(range3 or (_UNIT_DOMAIN if size1 else domain)), shaper)

    # ---- header

    def _header(self) -> int | None:
        """Read keyword lines up to the first table row; its line number (None: the file has no rows)."""
        source = self.source
        while (line := source.next_line()) is not None:
            stripped = line.strip()
            if not stripped or stripped.startswith(b"#"):
                continue
            first = stripped.split(None, 1)[0]
            if first[0] in _ROW_START or _NON_FINITE.fullmatch(first):
                source.unread()
                return source.line + 1
            if not _IDENTIFIER.fullmatch(first):
                raise self.error(source.line, f"unexpected line '{quote(stripped)}'")
            name = first.decode("ascii").upper()
            if name not in _KEYWORDS:
                raise self.error(source.line, f"unsupported keyword {quote(name)}")
            if name in self.keywords:
                raise self.error(source.line, f"duplicate keyword {name} (first on line {self.keywords[name].line})")
            rest = stripped[len(first) :].strip()
            self.keywords[name] = _Keyword(source.line, [rest] if name == "TITLE" else rest.split(b"#", 1)[0].split())
        return None

    def _title(self) -> str:
        if "TITLE" not in self.keywords:
            return Path(self.path).stem
        rest = self.keywords["TITLE"].values[0]
        match = re.match(rb'"([^"]*)"', rest)
        raw = match.group(1) if match else rest.split(b"#", 1)[0].strip()
        text = raw.decode("utf-8", errors="replace")
        return "".join(ch if ch.isprintable() else " " for ch in text)[:MAX_TITLE_CHARS].strip()

    def _size(self, name: str, low: int, high: int) -> int | None:
        if name not in self.keywords:
            return None
        entry = self.keywords[name]
        if len(entry.values) != 1 or not _INTEGER.fullmatch(entry.values[0]):
            got = quote(b" ".join(entry.values)) or "nothing"
            raise self.error(entry.line, f"{name} needs one integer, got {got}")
        digits = entry.values[0].lstrip(b"+").lstrip(b"0") or b"0"
        if len(digits) > 9 or not low <= int(digits) <= high:
            raise self.error(entry.line, f"{name} {quote(digits, 12)} is out of range {low}..{high}")
        return int(digits)

    def _floats(self, name: str, count: int) -> list[float]:
        entry = self.keywords[name]
        if len(entry.values) != count or not all(_NUMBER.fullmatch(v) for v in entry.values):
            if any(_NON_FINITE.fullmatch(v) for v in entry.values):
                raise self.error(entry.line, f"{name} holds NaN or infinity")
            raise self.error(entry.line, f"{name} needs {count} numbers, got '{quote(b' '.join(entry.values))}'")
        values = [float(v) for v in entry.values]
        if not all(math.isfinite(v) and abs(v) < 1e30 for v in values):
            raise self.error(entry.line, f"{name} holds a non-finite or huge number")
        return values

    def _domain(self) -> tuple[np.ndarray, np.ndarray]:
        lo = self._floats("DOMAIN_MIN", 3) if "DOMAIN_MIN" in self.keywords else [0.0] * 3
        hi = self._floats("DOMAIN_MAX", 3) if "DOMAIN_MAX" in self.keywords else [1.0] * 3
        if not all(a < b for a, b in zip(lo, hi, strict=True)):
            line = max(self.keywords[k].line for k in ("DOMAIN_MIN", "DOMAIN_MAX") if k in self.keywords)
            raise self.error(line, f"domain min {lo} must be below max {hi} in every channel")
        return np.array(lo, np.float32), np.array(hi, np.float32)

    def _input_range(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Resolve's "min max" pair, applied to all three channels."""
        if name not in self.keywords:
            return None
        lo, hi = self._floats(name, 2)
        if not lo < hi:
            raise self.error(self.keywords[name].line, f"{name} min {lo} must be below max {hi}")
        return np.full(3, lo, np.float32), np.full(3, hi, np.float32)

    def _stage(self, make, *args):
        """`make(*args)` (a LUT1D or LUT3D) with its InputError reported as a CubeFormatError."""
        try:
            return make(*args)
        except InputError as exc:  # e.g. a domain that collapses to min == max in float32
            line = max((k.line for k in self.keywords.values()), default=1)
            raise self.error(line, str(exc)) from exc

    # ---- table

    def _table(self, expected: int, size1: int | None, size3: int | None) -> np.ndarray:
        """All `expected` rows as float32 (expected, 3); the first bad row is reported with its line."""
        remaining = None if self.size is None else self.size  # an upper bound of the bytes still to come
        # A file too short to hold the rows cannot succeed: count them without allocating the table.
        values = (
            np.empty((expected, 3), np.float32)
            if remaining is None or remaining >= MIN_ROW_BYTES * expected - 1
            else None
        )
        count, last_line, extra_line = 0, None, None
        lines: int | list[int] | None
        for first, block in self.source.blocks():
            rows, lines = _fast_rows(block, first, count < expected)
            if rows is None:
                rows, lines = self._careful_rows(block, first)
            if len(rows) == 0:
                continue
            last_line = lines[-1] if isinstance(lines, list) else lines
            if count + len(rows) > expected and extra_line is None:
                _, line_list = self._careful_rows(block, first)
                extra_line = line_list[expected - count]
            if values is not None and count < expected:
                take = min(len(rows), expected - count)
                values[count : count + take] = rows[:take]
            count += len(rows)
        if count != expected:
            line = extra_line if extra_line is not None else (last_line if last_line is not None else self.source.line)
            detail = (
                f" ({size1} shaper rows + {size3}^3)"
                if size1 and size3
                else f" ({size3}^3)"
                if size3
                else f" (a 1D LUT of {size1} rows)"
            )
            raise self.error(line, f"wrong row count: found {count}, expected {expected}{detail}")
        assert values is not None  # a file that held every row was long enough to allocate for them
        return values

    def _careful_rows(self, block: bytes, first: int) -> tuple[np.ndarray, list[int]]:
        """The rows of a block read line by line with exact errors; also their line numbers."""
        values: list[float] = []
        lines: list[int] = []
        for number, line in enumerate(block.split(b"\n"), start=first):
            if len(line) > MAX_LINE_BYTES:
                raise self.error(number, f"line is longer than {MAX_LINE_BYTES:,} bytes")
            stripped = line.strip()
            if not stripped or stripped.startswith(b"#"):
                continue
            row = stripped.split(b"#", 1)[0]
            tokens = row.split()
            if tokens and _IDENTIFIER.fullmatch(tokens[0]) and tokens[0].decode("ascii").upper() in _KEYWORDS:
                raise self.error(number, f"keyword {tokens[0].decode('ascii').upper()} after the table data started")
            if len(tokens) != 3 or not all(_NUMBER.fullmatch(t) for t in tokens):
                if any(_NON_FINITE.fullmatch(t) for t in tokens):
                    raise self.error(number, f"NaN or infinity in row '{quote(row.strip())}'")
                raise self.error(number, f"malformed triple '{quote(row.strip())}' (expected three numbers)")
            numbers = [float(t) for t in tokens]
            if not all(abs(v) < 1e30 for v in numbers):  # float() gives inf for 1e999
                raise self.error(number, f"number too large in row '{quote(row.strip())}'")
            values.extend(numbers)
            lines.append(number)
        return np.array(values, np.float32).reshape(-1, 3), lines


def _fast_rows(block: bytes, first: int, wanted: bool) -> tuple[np.ndarray | None, int | None]:
    """A block of plain rows parsed in one vectorised pass: (rows (M, 3), line of the last row).

    (None, None) when the block holds anything else (a comment, a keyword, a bad number, an over-long
    line): the caller then reads it line by line for the exact error. With `wanted` False the rows are
    only counted (their values are not needed), which skips the conversion.
    """
    if not block:
        return np.empty((0, 3), np.float32), None
    data = np.frombuffer(block, np.uint8)
    if not _ROW_BYTES[data].all():
        return None, None
    newline = data == 10
    ends = np.flatnonzero(newline)
    lengths = np.diff(ends, prepend=-1) - 1
    tail = len(data) - 1 - (ends[-1] if len(ends) else -1)
    if (len(lengths) and lengths.max() > MAX_LINE_BYTES) or tail > MAX_LINE_BYTES:
        return None, None
    space = _SPACE_BYTES[data]
    starts = ~space
    starts[1:] &= space[:-1]
    per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(starts)), minlength=len(ends) + 1)
    if not ((per_line == 0) | (per_line == 3)).all():
        return None, None
    row_lines = np.flatnonzero(per_line)
    last = int(row_lines[-1]) + first if len(row_lines) else None
    if not wanted:
        return np.empty((len(row_lines), 3), np.float32), last
    tokens = block.split()
    try:
        numbers = np.fromiter(map(float, tokens), np.float64, len(tokens))
    except ValueError:  # "1e", "+", "1.2.3": the careful path names it
        return None, None
    if not (np.abs(numbers) < 1e30).all():
        return None, None
    return numbers.astype(np.float32).reshape(-1, 3), last


def format_cube(lut: LUT3D) -> str:
    """The .cube text for `lut` in the widely accepted subset (see module docstring)."""
    header, rows = _cube_parts(lut)
    return "".join(_text_chunks(header, rows))


def _cube_parts(lut: LUT3D) -> tuple[list[str], np.ndarray]:
    """The header lines and the (M, 3) rows of `lut`'s .cube file."""
    header = []
    if lut.title:
        header.append(f"# {' '.join(lut.title.splitlines())}")
    header.append("# written by LUTLab")
    shaper = lut.shaper
    if shaper is None:
        header.append(f"LUT_3D_SIZE {lut.size}")
        header += _domain_lines(lut.domain_min, lut.domain_max)
        return header, lut.table.reshape(-1, 3)
    if _is_1d_only(lut):
        header.append(f"LUT_1D_SIZE {shaper.size}")
        header += _domain_lines(shaper.domain_min, shaper.domain_max)
        return header, shaper.table
    # The 3D domain moves into the shaper's outputs (an affine map commutes with linear interpolation).
    shaped = (shaper.table - lut.domain_min) / (lut.domain_max - lut.domain_min)
    header.append(f"LUT_1D_SIZE {shaper.size}")
    lo, hi = shaper.domain_min, shaper.domain_max
    if (lo == lo[0]).all() and (hi == hi[0]).all():
        if not (lo[0] == 0 and hi[0] == 1):
            header.append(f"LUT_1D_INPUT_RANGE {lo[0]:.7f} {hi[0]:.7f}")
    else:  # per-channel shaper domains (only DOMAIN lines say that; LUTLab reads them as the shaper's)
        header += _domain_lines(lo, hi)
    header.append(f"LUT_3D_SIZE {lut.size}")
    return header, np.concatenate([shaped.reshape(-1, 3), lut.table.reshape(-1, 3)])


def _is_1d_only(lut: LUT3D) -> bool:
    """A shaper in front of an identity cube of side 2 (what `LUT3D.from_1d` makes)."""
    return lut.shaper is not None and lut.size == 2 and bool(np.array_equal(lut.table, lut.lattice_inputs()))


def _domain_lines(lo: np.ndarray, hi: np.ndarray) -> list[str]:
    if (lo == 0).all() and (hi == 1).all():
        return []
    return [
        f"{name} {{:.7f}} {{:.7f}} {{:.7f}}".format(*values.tolist())
        for name, values in (("DOMAIN_MIN", lo), ("DOMAIN_MAX", hi))
    ]


def _text_chunks(header: list[str], rows: np.ndarray, chunk_rows: int = 1 << 16) -> Iterator[str]:
    """The file's text a few MB at a time (a 256^3 table is 500 MB of text: never held whole)."""
    yield "\n".join(header) + "\n"
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start : start + chunk_rows].astype(np.float64)
        chunk[chunk == 0] = 0.0  # no "-0.0000000"
        yield "".join(map("%.7f %.7f %.7f\n".__mod__, map(tuple, chunk.tolist())))


def write_cube(lut: LUT3D, path: str | Path) -> None:
    """Write `lut` as a .cube file atomically (an interrupted write leaves the old file, or none)."""
    path = Path(path)
    header, rows = _cube_parts(lut)
    try:
        with atomic_file(path) as stream:
            for text in _text_chunks(header, rows):
                stream.write(text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
