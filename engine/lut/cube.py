""".cube LUT files: Adobe Cube LUT Specification 1.0 plus the DaVinci Resolve 3D dialect.

Reader: TITLE, comments (whole-line and trailing), blank lines, CRLF, DOMAIN_MIN/MAX,
LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE, LUT_3D_SIZE 2..256, and a Resolve 1D shaper (LUT_1D_SIZE rows
before the 3D rows). The shaper is folded into the 3D table (see `_fold_shaper`) so every consumer —
CPU, GPU, exports — sees one plain LUT3D. Any malformed file raises CubeFormatError naming the line.

Writer: the subset every major reader accepts (OCIO's Resolve reader rejects TITLE, its Iridas reader
rejects INPUT_RANGE, ffmpeg only reads DOMAIN lines after the size line): the title as a comment, the
size, DOMAIN lines only for a non-unit domain, then rows with 7 decimals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_path
from engine.lut.lut3d import LUT3D, MAX_SIZE, MIN_SIZE

MAX_1D_SIZE = 65536
MIN_FOLD_SIZE = 65  # lattice a shaper is folded onto: fine enough for log-to-video shapers
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ROW = re.compile(rf"\s*({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s*")
_NUMBER_ONLY = re.compile(_NUMBER)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
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


class CubeFormatError(InputError):
    """A .cube file is malformed; `line` is the 1-based line number of the problem."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        super().__init__(f"{path}: line {line}: {problem}")
        self.path, self.line, self.problem = Path(path), line, problem


@dataclass
class _Keyword:
    line: int
    values: list[str]


def read_cube(path: str | Path) -> LUT3D:
    """Parse a .cube file into a LUT3D; a 1D shaper, if present, is folded into the table."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return parse_cube(raw, path)


def parse_cube(raw: bytes, path: str | Path = "<cube>") -> LUT3D:
    """Parse the bytes of a .cube file; `path` only names the source in error messages."""
    if b"\0" in raw:
        raise CubeFormatError(path, raw[: raw.index(b"\0")].count(b"\n") + 1, "binary data, not a .cube text file")
    text = raw.decode("utf-8-sig", errors="replace")
    lines = re.split(r"\r\n|\r|\n", text)
    keywords: dict[str, _Keyword] = {}
    rows: list[str] = []
    row_lines: list[int] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        first = stripped.split(None, 1)[0]
        name = first.upper()
        if name in _KEYWORDS and rows:
            raise CubeFormatError(path, number, f"keyword {name} after the table data started")
        if rows or _NUMBER_ONLY.match(first) or _NON_FINITE.fullmatch(first):
            rows.append(stripped.split("#", 1)[0])
            row_lines.append(number)
            continue
        if name not in _KEYWORDS:
            if not _IDENTIFIER.fullmatch(first):
                raise CubeFormatError(path, number, f"unexpected line '{stripped[:40]}'")
            continue  # other tools' keywords (e.g. LUT_IN_VIDEO_RANGE) carry nothing we use
        if name in keywords:
            raise CubeFormatError(path, number, f"duplicate keyword {name} (first on line {keywords[name].line})")
        rest = stripped[len(first) :].strip()
        keywords[name] = _Keyword(number, [_title(rest)] if name == "TITLE" else rest.split("#", 1)[0].split())
    return _build(path, keywords, rows, row_lines, len(lines))


def _title(rest: str) -> str:
    match = re.match(r'"([^"]*)"', rest)
    return match.group(1) if match else rest.split("#", 1)[0].strip()


def _build(path, keywords: dict[str, _Keyword], rows: list[str], row_lines: list[int], line_count: int) -> LUT3D:
    size3 = _size(path, keywords, "LUT_3D_SIZE", MIN_SIZE, MAX_SIZE)
    size1 = _size(path, keywords, "LUT_1D_SIZE", 2, MAX_1D_SIZE)
    if size3 is None:
        line = row_lines[0] if row_lines else line_count
        what = "a 1D-only LUT (LUT_1D_SIZE without LUT_3D_SIZE) is not supported" if size1 else "missing LUT_3D_SIZE"
        raise CubeFormatError(path, line, what)
    domain = _domain(path, keywords)
    range1 = _input_range(path, keywords, "LUT_1D_INPUT_RANGE")
    range3 = _input_range(path, keywords, "LUT_3D_INPUT_RANGE")
    if range3 is not None and not size1 and ("DOMAIN_MIN" in keywords or "DOMAIN_MAX" in keywords):
        line = keywords["LUT_3D_INPUT_RANGE"].line
        raise CubeFormatError(path, line, "both DOMAIN_MIN/MAX and LUT_3D_INPUT_RANGE set the 3D domain")
    values = _parse_rows(path, rows, row_lines)
    expected = (size1 or 0) + size3**3
    if len(values) != expected:
        line = row_lines[expected] if len(rows) > expected else (row_lines[-1] if row_lines else line_count)
        detail = f" ({size1} shaper rows + {size3}^3)" if size1 else f" ({size3}^3)"
        raise CubeFormatError(path, line, f"wrong row count: found {len(rows)}, expected {expected}{detail}")
    title = keywords["TITLE"].values[0] if "TITLE" in keywords else Path(path).stem
    table = values[size1 or 0 :].reshape(size3, size3, size3, 3)
    if not size1:
        return _lut(path, keywords, table, title, *(range3 or domain))
    cube = _lut(path, keywords, table, title, *(range3 or _UNIT_DOMAIN))
    shaper_lo, shaper_hi = range1 or domain
    return _fold_shaper(values[:size1], shaper_lo, shaper_hi, cube)


def _lut(path, keywords, table, title, lo, hi) -> LUT3D:
    try:
        return LUT3D(table, title, lo, hi)
    except InputError as exc:  # e.g. a domain that collapses to min == max in float32
        line = max((k.line for k in keywords.values()), default=1)
        raise CubeFormatError(path, line, str(exc)) from exc


def _size(path, keywords: dict[str, _Keyword], name: str, low: int, high: int) -> int | None:
    if name not in keywords:
        return None
    entry = keywords[name]
    if len(entry.values) != 1 or not re.fullmatch(r"\+?\d+", entry.values[0]):
        raise CubeFormatError(path, entry.line, f"{name} needs one integer, got {' '.join(entry.values) or 'nothing'}")
    size = int(entry.values[0])
    if not low <= size <= high:
        raise CubeFormatError(path, entry.line, f"{name} {size} is out of range {low}..{high}")
    return size


def _floats(path, entry: _Keyword, name: str, count: int) -> list[float]:
    if len(entry.values) != count or not all(_NUMBER_ONLY.fullmatch(v) for v in entry.values):
        if any(_NON_FINITE.fullmatch(v) for v in entry.values):
            raise CubeFormatError(path, entry.line, f"{name} holds NaN or infinity")
        raise CubeFormatError(path, entry.line, f"{name} needs {count} numbers, got '{' '.join(entry.values)}'")
    values = [float(v) for v in entry.values]
    if not all(math.isfinite(v) and abs(v) < 1e30 for v in values):
        raise CubeFormatError(path, entry.line, f"{name} holds a non-finite or huge number")
    return values


def _domain(path, keywords: dict[str, _Keyword]) -> tuple[np.ndarray, np.ndarray]:
    lo = _floats(path, keywords["DOMAIN_MIN"], "DOMAIN_MIN", 3) if "DOMAIN_MIN" in keywords else [0.0] * 3
    hi = _floats(path, keywords["DOMAIN_MAX"], "DOMAIN_MAX", 3) if "DOMAIN_MAX" in keywords else [1.0] * 3
    if not all(a < b for a, b in zip(lo, hi, strict=True)):
        line = max(keywords[k].line for k in ("DOMAIN_MIN", "DOMAIN_MAX") if k in keywords)
        raise CubeFormatError(path, line, f"domain min {lo} must be below max {hi} in every channel")
    return np.array(lo, np.float32), np.array(hi, np.float32)


def _input_range(path, keywords: dict[str, _Keyword], name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Resolve's "min max" pair, applied to all three channels."""
    if name not in keywords:
        return None
    lo, hi = _floats(path, keywords[name], name, 2)
    if not lo < hi:
        raise CubeFormatError(path, keywords[name].line, f"{name} min {lo} must be below max {hi}")
    return np.full(3, lo, np.float32), np.full(3, hi, np.float32)


def _parse_rows(path, rows: list[str], row_lines: list[int]) -> np.ndarray:
    """All rows as float32 (M, 3); the first bad row is reported with its line."""
    tokens: list[str] = []
    for row, line in zip(rows, row_lines, strict=True):
        match = _ROW.fullmatch(row)
        if match is None:
            if any(_NON_FINITE.fullmatch(t) for t in row.split()):
                raise CubeFormatError(path, line, f"NaN or infinity in row '{row.strip()}'")
            raise CubeFormatError(path, line, f"malformed triple '{row.strip()}' (expected three numbers)")
        tokens.extend(match.groups())
    values = np.array(tokens, dtype=np.float64).reshape(-1, 3)
    finite = np.isfinite(values).all(axis=1) & (np.abs(values) < 1e30).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise CubeFormatError(path, row_lines[bad], f"number too large in row '{rows[bad].strip()}'")
    return values.astype(np.float32)


def _fold_shaper(shaper: np.ndarray, lo: np.ndarray, hi: np.ndarray, cube: LUT3D) -> LUT3D:
    """Bake "1D shaper, then 3D table" into one LUT3D over the shaper's input domain.

    Each lattice input is sent through the per-channel piecewise-linear shaper and then looked up in the
    3D table (tetrahedral). At lattice points the result is exact; between them trilinear/tetrahedral
    interpolation of the folded table approximates the two-stage lookup, so the lattice is at least
    MIN_FOLD_SIZE per side.
    """
    from engine.lut.apply import apply_lut_to_values

    size = min(max(cube.size, MIN_FOLD_SIZE), MAX_SIZE)
    inputs = LUT3D(np.zeros((size, size, size, 3), np.float32), cube.title, lo, hi).lattice_inputs()
    shaped = np.empty_like(inputs)
    for channel in range(3):
        knots = np.linspace(lo[channel], hi[channel], len(shaper), dtype=np.float64)
        shaped[..., channel] = np.interp(inputs[..., channel], knots, shaper[:, channel])
    return LUT3D(apply_lut_to_values(cube, shaped, "tetrahedral"), cube.title, lo, hi)


def format_cube(lut: LUT3D) -> str:
    """The .cube text for `lut` in the widely accepted subset (see module docstring)."""
    header = []
    if lut.title:
        header.append(f"# {' '.join(lut.title.splitlines())}")
    header.append("# written by LUTLab")
    header.append(f"LUT_3D_SIZE {lut.size}")
    if not lut.has_unit_domain:
        header.append("DOMAIN_MIN {:.7f} {:.7f} {:.7f}".format(*lut.domain_min.tolist()))
        header.append("DOMAIN_MAX {:.7f} {:.7f} {:.7f}".format(*lut.domain_max.tolist()))
    rows = lut.table.reshape(-1, 3).astype(np.float64)
    rows[rows == 0] = 0.0  # no "-0.0000000"
    body = "\n".join(map("%.7f %.7f %.7f".__mod__, map(tuple, rows.tolist())))
    return "\n".join(header) + "\n" + body + "\n"


def write_cube(lut: LUT3D, path: str | Path) -> None:
    """Write `lut` as a .cube file atomically (an interrupted write leaves the old file, or none)."""
    path = Path(path)
    text = format_cube(lut)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
