""".cube reading/writing: dialects, exact round trips, errors naming lines, and a mutation fuzz test."""

from __future__ import annotations

import contextlib
import random
import time
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.lut import LUT3D, CubeFormatError, apply_lut_to_values, cube, identity_table, read_cube, write_cube
from engine.lut.cube import format_cube, parse_cube


def rows(table: np.ndarray) -> str:
    return "".join(f"{r:.6f} {g:.6f} {b:.6f}\n" for r, g, b in table.reshape(-1, 3))


def cube_text(size: int = 2, header: str = "", table: np.ndarray | None = None) -> str:
    table = identity_table(size) if table is None else table
    return f"{header}LUT_3D_SIZE {size}\n{rows(table)}"


def test_adobe_file_with_title_comments_blank_lines_and_crlf():
    table = np.random.default_rng(1).random((3, 3, 3, 3)).astype(np.float32)
    text = '# made by hand\nTITLE "Warm # look"\n\n# size next\n' + cube_text(3, table=table)
    text = text.replace("\n", "  # trailing comment\n", 6)  # on the keyword lines and the first data row
    lut = parse_cube(text.replace("\n", "\r\n").encode(), "warm.cube")
    assert lut.title == "Warm # look" and lut.size == 3 and lut.has_unit_domain
    np.testing.assert_allclose(lut.table, table, atol=5e-7)


def test_rows_are_red_fastest():
    text = "LUT_3D_SIZE 2\n" + "\n".join(f"{i} 0 0" for i in range(8)) + "\n"
    lut = parse_cube(text.encode())
    assert lut.table[0, 0, 1, 0] == 1  # [b, g, r]: second row is r = 1
    assert lut.table[0, 1, 0, 0] == 2
    assert lut.table[1, 0, 0, 0] == 4


def test_domain_and_resolve_input_range():
    lut = parse_cube(("LUT_3D_SIZE 2\nDOMAIN_MIN -0.5 0 0\nDOMAIN_MAX 1.5 1 2\n" + rows(identity_table(2))).encode())
    np.testing.assert_array_equal(lut.domain_min, [-0.5, 0, 0])
    np.testing.assert_array_equal(lut.domain_max, [1.5, 1, 2])
    resolve = parse_cube(("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE -0.25 1.25\n" + rows(identity_table(2))).encode())
    np.testing.assert_array_equal(resolve.domain_min, [-0.25] * 3)
    np.testing.assert_array_equal(resolve.domain_max, [1.25] * 3)


def test_resolve_shaper_sample_inverts_twice_to_identity():
    """The sample from Resolve's documentation: a 1D shaper that inverts, then a 3D table that inverts."""
    shaper = "".join(f"{v} {v} {v}\n" for v in (1.0, 0.8, 0.6, 0.4, 0.2, 0.0))
    inverted = rows(1.0 - identity_table(3))
    text = f"LUT_1D_SIZE 6\nLUT_1D_INPUT_RANGE 0.0 1.0\nLUT_3D_SIZE 3\nLUT_3D_INPUT_RANGE 0.0 1.0\n{shaper}{inverted}"
    lut = parse_cube(text.encode())
    values = np.random.default_rng(2).random((5000, 3)).astype(np.float32)
    for interpolation in ("trilinear", "tetrahedral"):
        np.testing.assert_allclose(apply_lut_to_values(lut, values, interpolation), values, atol=1e-5)


def test_nonlinear_shaper_is_applied_in_two_exact_stages():
    """Shaper x -> x^2 over [0, 2], then an affine 3D table over [0, 4]: both stages vs the truth."""
    knots = np.linspace(0, 2, 1024)
    shaper = "".join(f"{v:.9f} {v:.9f} {v:.9f}\n" for v in knots**2)
    matrix = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.0, 0.3, 0.7]]) / 4
    table = identity_table(9).astype(np.float64) * 4 @ matrix.T
    text = f"LUT_1D_SIZE 1024\nLUT_1D_INPUT_RANGE 0 2\nLUT_3D_SIZE 9\nLUT_3D_INPUT_RANGE 0 4\n{shaper}{rows(table)}"
    lut = parse_cube(text.encode())
    np.testing.assert_array_equal(lut.input_domain[1], [2, 2, 2])
    np.testing.assert_array_equal(lut.domain_max, [4, 4, 4])
    values = np.random.default_rng(3).uniform(0, 2, (5000, 3)).astype(np.float32)
    truth = (values.astype(np.float64) ** 2) @ matrix.T
    # the shaper's own piecewise-linear error is h^2/4 = 1e-6 (h = 2/1023); the affine cube adds none
    for interpolation in ("trilinear", "tetrahedral"):
        np.testing.assert_allclose(apply_lut_to_values(lut, values, interpolation), truth, atol=1e-5)


def test_1d_only_files_are_read_applied_and_written_back(tmp_path):
    curve = np.stack([np.linspace(0, 1, 17) ** 2, 1 - np.linspace(0, 1, 17), np.full(17, 0.25)], axis=1)
    lut = parse_cube(("LUT_1D_SIZE 17\nDOMAIN_MIN 0 0 -1\nDOMAIN_MAX 1 2 1\n" + rows(curve)).encode())
    values = np.random.default_rng(4).uniform(-1.2, 2.2, (4000, 3)).astype(np.float32)
    expected = np.stack(
        [
            np.interp(values[:, c], np.linspace(lo, hi, 17), curve[:, c])
            for c, (lo, hi) in enumerate([(0, 1), (0, 2), (-1, 1)])
        ],
        axis=1,
    )
    for interpolation in ("trilinear", "tetrahedral"):
        np.testing.assert_allclose(apply_lut_to_values(lut, values, interpolation), expected, atol=2e-6)
    write_cube(lut, tmp_path / "one.cube")
    text = (tmp_path / "one.cube").read_text()
    assert "LUT_1D_SIZE 17" in text and "LUT_3D_SIZE" not in text and "DOMAIN_MAX 1.0000000 2.0000000" in text
    np.testing.assert_allclose(apply_lut_to_values(read_cube(tmp_path / "one.cube"), values), expected, atol=2e-6)


def test_shaper_luts_are_written_back_as_two_stages(tmp_path):
    shaper = "".join(f"{v:.9f} {v:.9f} {v:.9f}\n" for v in np.linspace(0, 1, 64) ** 0.5)
    table = np.random.default_rng(5).random((5, 5, 5, 3))
    lut = parse_cube(
        f"LUT_1D_SIZE 64\nLUT_1D_INPUT_RANGE -0.5 1.5\nLUT_3D_SIZE 5\n"
        f"LUT_3D_INPUT_RANGE 0.1 0.9\n{shaper}{rows(table)}".encode()
    )
    write_cube(lut, tmp_path / "two.cube")
    lines = (tmp_path / "two.cube").read_text().splitlines()
    assert lines[2:5] == ["LUT_1D_SIZE 64", "LUT_1D_INPUT_RANGE -0.5000000 1.5000000", "LUT_3D_SIZE 5"]
    back = read_cube(tmp_path / "two.cube")
    assert back.shaper is not None and back.shaper.size == 64 and back.size == 5 and back.has_unit_domain
    values = np.random.default_rng(6).uniform(-0.6, 1.6, (4000, 3)).astype(np.float32)
    for interpolation in ("trilinear", "tetrahedral"):
        np.testing.assert_allclose(
            apply_lut_to_values(back, values, interpolation), apply_lut_to_values(lut, values, interpolation), atol=2e-6
        )


def test_shaper_survives_blending_resampling_and_composition():
    shaper = "".join(f"{v:.9f} {v:.9f} {v:.9f}\n" for v in np.linspace(0, 1, 256) ** (1 / 2.4))
    table = np.random.default_rng(7).random((9, 9, 9, 3))
    lut = parse_cube(f"LUT_1D_SIZE 256\nLUT_3D_SIZE 9\n{shaper}{rows(table)}".encode())
    values = np.random.default_rng(8).random((4000, 3)).astype(np.float32)
    full = apply_lut_to_values(lut, values)
    # the identity at a lattice point is the shaper's inverse there, interpolated like the table itself
    np.testing.assert_allclose(apply_lut_to_values(lut.blended(0.5), values), 0.5 * (values + full), atol=0.01)
    np.testing.assert_allclose(apply_lut_to_values(lut.blended(0.0), values), values, atol=0.01)
    assert lut.resampled(17).shaper is lut.shaper and lut.then(LUT3D.identity(5)).shaper is lut.shaper
    np.testing.assert_allclose(apply_lut_to_values(lut.then(LUT3D.identity(5)), values), full, atol=1e-5)


@pytest.mark.parametrize("size", [2, 17, 33])
def test_round_trip_to_1e6(tmp_path, size):
    rng = np.random.default_rng(size)
    lut = LUT3D(rng.normal(0.5, 0.8, (size, size, size, 3)), "Round trip", (-0.1, 0, 0.2), (1.1, 2, 0.9))
    write_cube(lut, tmp_path / "r.cube")
    back = read_cube(tmp_path / "r.cube")
    np.testing.assert_allclose(back.table, lut.table, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.domain_min, lut.domain_min, atol=1e-6)
    np.testing.assert_allclose(back.domain_max, lut.domain_max, atol=1e-6)


def test_writer_uses_the_widely_read_subset():
    text = format_cube(LUT3D(identity_table(2), "A\nlook"))
    lines = text.splitlines()
    assert not any(line.startswith(("TITLE", "LUT_3D_INPUT_RANGE", "DOMAIN")) for line in lines)
    assert lines[0] == "# A look" and lines[2] == "LUT_3D_SIZE 2" and len(lines) == 3 + 8
    wide = format_cube(LUT3D(identity_table(2), "", (0, 0, 0), (2, 2, 2))).splitlines()
    assert wide[1:4] == [
        "LUT_3D_SIZE 2",
        "DOMAIN_MIN 0.0000000 0.0000000 0.0000000",
        "DOMAIN_MAX 2.0000000 2.0000000 2.0000000",
    ]  # DOMAIN after the size: ffmpeg reads it


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "look.cube"
    write_cube(LUT3D.identity(3), target)
    before = target.read_bytes()

    real_atomic_file = cube.atomic_file

    @contextlib.contextmanager
    def interrupted(path):
        with real_atomic_file(path) as stream:
            stream.write(b"LUT_3D_SIZE 3\n0 0")
            yield SimpleNamespace(write=lambda data: (_ for _ in ()).throw(OSError(28, "No space left on device")))

    monkeypatch.setattr(cube, "atomic_file", interrupted)
    with pytest.raises(Exception, match="No space left"):
        write_cube(LUT3D.identity(5), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["look.cube"]


BAD_FILES = [
    ('TITLE "x"\n0 0 0\n', 2, "missing LUT_3D_SIZE"),
    ("", 1, "missing LUT_3D_SIZE"),
    ("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n" + rows(identity_table(2)), 2, "duplicate keyword LUT_3D_SIZE (first on line 1)"),
    ('TITLE "a"\nTITLE "b"\n' + cube_text(), 2, "duplicate keyword TITLE"),
    ("LUT_3D_SIZE 1\n0 0 0\n", 1, "LUT_3D_SIZE 1 is out of range 2..256"),
    ("LUT_3D_SIZE 257\n", 1, "out of range"),
    ("LUT_3D_SIZE 2.5\n", 1, "needs one integer"),
    ("LUT_3D_SIZE\n", 1, "needs one integer"),
    ("DOMAIN_MIN 0 0 1\nDOMAIN_MAX 1 1 1\n" + cube_text(), 2, "domain min"),
    ("DOMAIN_MIN 0 0\n" + cube_text(), 1, "DOMAIN_MIN needs 3 numbers"),
    ("DOMAIN_MAX 1 nan 1\n" + cube_text(), 1, "NaN or infinity"),
    ("LUT_3D_INPUT_RANGE 1 0\n" + cube_text(), 1, "LUT_3D_INPUT_RANGE min 1.0 must be below max 0.0"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0\n" + "0 0 0\n" * 6, 3, "malformed triple '1 0'"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0 0 0\n" + "0 0 0\n" * 6, 3, "malformed triple"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 x 0\n" + "0 0 0\n" * 6, 3, "malformed triple"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 4 + "0 NaN 0\n" + "0 0 0\n" * 3, 6, "NaN or infinity"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 4 + "inf 0 0\n" + "0 0 0\n" * 3, 6, "NaN or infinity"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 4 + "1e999 0 0\n" + "0 0 0\n" * 3, 6, "too large"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7, 8, "wrong row count: found 7, expected 8"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 9, 10, "found 9, expected 8"),
    ("LUT_1D_SIZE 3\nLUT_3D_SIZE 2\n" + "0 0 0\n" * 8, 10, "found 8, expected 11 (3 shaper rows + 2^3)"),
    ("LUT_1D_SIZE 3\n0 0 0\n0 0 0\n", 3, "found 2, expected 3 (a 1D LUT of 3 rows)"),
    ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 4 + "DOMAIN_MIN 0 0 0\n" + "0 0 0\n" * 4, 6, "keyword DOMAIN_MIN after"),
    ("LUT_3D_SIZE 2\n!!\n", 2, "unexpected line"),
    ("DOMAIN_MIN 0 0 0\nLUT_3D_INPUT_RANGE 0 1\n" + cube_text(), 2, "both DOMAIN_MIN/MAX and LUT_3D_INPUT_RANGE"),
    ("LUT_3D_SIZE 2\n0 0 0\x00\n", 2, "binary data"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD_FILES)
def test_malformed_files_name_the_line_and_problem(text, line, problem):
    with pytest.raises(CubeFormatError) as caught:
        parse_cube(text.encode(), "bad.cube")
    assert caught.value.line == line, str(caught.value)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"bad.cube: line {line}: ")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(Exception, match="no such file"):
        read_cube(tmp_path / "nope.cube")


# ------------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    "raw",
    [
        b"1" * 1_000_000,  # a 1 MB single line
        b"LUT_3D_SIZE 2\n" + b"1" * 20_000 + b"x 0 0\n",  # one long digit run (was quadratic)
        b"LUT_3D_SIZE 2\n0 0 " + b"9" * 63_000 + b"\n",
        b"# " + b"#" * 10_000_000,
    ],
)
def test_over_long_lines_are_refused_at_once(raw):
    start = time.perf_counter()
    with pytest.raises(CubeFormatError, match="line is longer than"):
        parse_cube(raw, "long.cube")
    assert time.perf_counter() - start < 0.5


def test_long_digit_runs_within_the_line_limit_cost_linear_time():
    start = time.perf_counter()
    for _ in range(20):
        with pytest.raises(CubeFormatError, match="malformed triple"):
            parse_cube(b"LUT_3D_SIZE 2\n" + b"1" * 4000 + b"x 0 0\n" + b"0 0 0\n" * 7)
        with pytest.raises(CubeFormatError, match="needs one integer"):
            parse_cube(b"LUT_3D_SIZE " + b"1" * 4000 + b"x\n")
    assert time.perf_counter() - start < 0.5


def test_error_messages_quote_little_and_escape_control_characters():
    hostile = b"\x1b[2J\x1b]0;pwned\x07" + "\u202e".encode() + b"x" * 3000
    for raw in (
        b"LUT_3D_SIZE 2\n" + hostile + b" 0 0\n",
        b"LUT_3D_SIZE 2\n0 0 0\n1 " + hostile + b" 0\n",
        b"DOMAIN_MIN 0 " + hostile + b" 0\n" + cube_text(2).encode(),
        b"TITLE x\n" + b"A" * 3000 + b" 1\n",
    ):
        with pytest.raises(CubeFormatError) as caught:
            parse_cube(raw, "bad.cube")
        message = str(caught.value)
        assert len(message) < 200, message
        assert message.isprintable() and "\x1b" not in message and "\u202e" not in message
        assert "\\x1b" in message or "AAAA" in message


def test_only_ascii_digits_are_numbers():
    for digit in ("\u0661", "\uff11", "\u00b9"):  # Arabic-Indic one, fullwidth one, superscript one
        raw = f"LUT_3D_SIZE 2\n0 0 0\n{digit} 0 0\n".encode() + b"0 0 0\n" * 6
        with pytest.raises(CubeFormatError, match="line 3: malformed triple"):
            parse_cube(raw)
        with pytest.raises(CubeFormatError):
            parse_cube(f"LUT_3D_SIZE {digit}\n".encode())


@pytest.mark.parametrize("keyword", ["LUT_IN_VIDEO_RANGE", "LUT_OUT_VIDEO_RANGE", "LUT_3D_SIZES", "FOO 1 2"])
def test_unsupported_keywords_are_refused_by_name(keyword):
    with pytest.raises(CubeFormatError, match=f"line 1: unsupported keyword {keyword.split()[0]}"):
        parse_cube((keyword + "\n" + cube_text(2)).encode())


def test_a_table_size_the_file_cannot_hold_is_refused_without_allocating_it():
    tracemalloc.start()
    try:
        with pytest.raises(CubeFormatError, match="found 1, expected 16777216"):
            parse_cube(b"LUT_3D_SIZE 256\n0 0 0\n")
        assert tracemalloc.get_traced_memory()[1] < 10 << 20
    finally:
        tracemalloc.stop()


def test_file_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.cube"
    path.write_text(cube_text(3))
    monkeypatch.setattr(cube, "MAX_FILE_BYTES", 100)
    with pytest.raises(CubeFormatError, match="bytes are refused"):
        read_cube(path)


def test_chunked_reading_matches_whole_reading(monkeypatch):
    """Chunk borders anywhere (inside numbers, CRLF pairs, comments) give the same LUT or the same error."""
    rng = np.random.default_rng(9)
    table = rng.random((4, 4, 4, 3)).astype(np.float32)
    texts = [
        cube_text(4, 'TITLE "a"\r\n# note\r\n', table).replace("\n", "\r\n"),
        cube_text(4, "", table).replace("\n", "\r"),
        cube_text(4, "", table).replace("0 0.", "0   0.", 5).replace("\n", "  # c\n", 9) + "\n\n",
        "LUT_1D_SIZE 2\nLUT_3D_SIZE 2\n1 1 1\n0 0 0\n" + rows(identity_table(2)),
        cube_text(4, "", table).replace("\n", "\nDOMAIN_MIN 0 0 0\n", 30)[:-20],
    ]
    for text in texts:
        raw = text.encode()
        try:
            expected = parse_cube(raw).table
        except CubeFormatError as error:
            expected = str(error)
        for chunk in (1, 2, 3, 7, 64):
            monkeypatch.setattr(cube, "READ_CHUNK", chunk)
            try:
                got = parse_cube(raw).table
            except CubeFormatError as error:
                got = str(error)
            if isinstance(expected, str):
                assert got == expected
            else:
                np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------------------------ fuzzing

SEEDS = [
    cube_text(2, 'TITLE "t"\n'),
    cube_text(3, "DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n", np.random.default_rng(5).random((3, 3, 3, 3))),
    "LUT_1D_SIZE 2\nLUT_1D_INPUT_RANGE 0 1\nLUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0 1\n1 1 1\n0 0 0\n"
    + rows(identity_table(2)),
    cube_text(2, "# comment\r\nLUT_3D_INPUT_RANGE -1 2\r\n").replace("\n", "\r\n"),
]
TOKENS = [
    "",
    " ",
    "#",
    "\n",
    "\r",
    "\t",
    "0",
    "1",
    "-",
    "+",
    ".",
    "e",
    "E",
    "9e99",
    "1e-40",
    "nan",
    "inf",
    "-0",
    '"',
    "TITLE",
    "LUT_3D_SIZE",
    "LUT_1D_SIZE",
    "DOMAIN_MIN",
    "DOMAIN_MAX",
    "LUT_3D_INPUT_RANGE",
    "256",
    "2",
    "\x00",
    "\ufeff",
    "é",
    "0.5 0.5 0.5",
    "1 2",
    "3 4 5 6",
]


def mutate(text: str, rng: random.Random) -> bytes:
    """Apply 1-4 random edits (delete/duplicate/swap/insert lines, replace tokens, truncate, splice chars)."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["delete", "duplicate", "swap", "insert", "replace_token", "truncate", "edit"])
        at = rng.randrange(len(lines))
        if kind == "delete" and len(lines) > 1:
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
        elif kind == "swap":
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "insert":
            lines.insert(at, " ".join(rng.choices(TOKENS, k=rng.randint(0, 4))))
        elif kind == "replace_token":
            parts = lines[at].split(" ")
            parts[rng.randrange(len(parts))] = rng.choice(TOKENS)
            lines[at] = " ".join(parts)
        elif kind == "truncate":
            lines = lines[: at + 1]
            lines[-1] = lines[-1][: rng.randint(0, len(lines[-1]))]
        else:
            cut = rng.randint(0, len(lines[at]))
            noise = "".join(chr(rng.choice([rng.randint(0, 127), rng.randint(128, 0x10FFFF)])) for _ in range(3))
            lines[at] = lines[at][:cut] + noise[: rng.randint(0, 3)] + lines[at][cut + rng.randint(0, 2) :]
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


FILES_PER_EXAMPLE = 20  # hypothesis costs ~ms per example; a batch per example gives thousands of files in seconds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.randoms(use_true_random=False))
def test_fuzz_mutated_files_parse_or_raise_cube_format_error(rng):
    """150 x 20 = 3000 mutated files: each parses to a valid LUT or raises CubeFormatError, nothing else."""
    for _ in range(FILES_PER_EXAMPLE):
        raw = mutate(rng.choice(SEEDS), rng)
        try:
            lut = parse_cube(raw, "fuzz.cube")
        except CubeFormatError as error:
            assert error.line >= 1
            continue
        assert np.isfinite(lut.table).all() and 2 <= lut.size <= 256
