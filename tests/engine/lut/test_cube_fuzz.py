"""A mutational fuzzer over real-shaped .cube files (Adobe, Resolve shaper, 1D-only, our own exports):
10,000 seeded cases of long digit runs, huge sizes, NUL bytes, Unicode digits and controls, CR/LF mixes
and spliced lines. Each case must parse to a valid LUT or raise CubeFormatError, within a second."""

from __future__ import annotations

import random
import time

import numpy as np

from engine.lut import LUT3D, CubeFormatError, identity_table
from engine.lut.cube import QUOTE_CHARS, format_cube, parse_cube
from engine.lut.lut3d import LUT1D

CASES = 10_000
PER_CASE_SECONDS = 1.0


def seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    shaper = LUT1D(np.stack([np.linspace(0, 1, 16) ** 0.5] * 3, axis=1), [-0.1] * 3, [2.0] * 3)
    luts = [
        LUT3D(rng.random((3, 3, 3, 3)), "plain"),
        LUT3D(rng.random((2, 2, 2, 3)), "domain", (-0.5, 0, 0), (1.5, 1, 2)),
        LUT3D(rng.random((3, 3, 3, 3)), "shaper", shaper=shaper),
        LUT3D.from_1d(LUT1D(rng.random((8, 3))), "one d"),
    ]
    texts = [format_cube(lut).encode() for lut in luts]
    texts.append(
        b'TITLE "Resolve"\r\nLUT_1D_SIZE 2\r\nLUT_1D_INPUT_RANGE 0.0 1.0\r\nLUT_3D_SIZE 2\r\n'
        b"LUT_3D_INPUT_RANGE 0.0 1.0\r\n0 0 0\r\n1 1 1\r\n\r\n"
        + "".join(f"{r:.6f} {g:.6f} {b:.6f}\r\n" for r, g, b in identity_table(2).reshape(-1, 3)).encode()
    )
    return texts


HOSTILE = [
    b"1" * 5000,
    b"9" * 4090,
    b"LUT_3D_SIZE 256",
    b"LUT_3D_SIZE 99999999999999999999",
    b"LUT_1D_SIZE 65536",
    b"\x00",
    b"\xef\xbb\xbf",
    "\u0661\u0662".encode(),
    "\uff11".encode(),
    b"\x1b[2J",
    "\u202e".encode(),
    b"\r",
    b"\r\n",
    b"\n" * 50,
    b"nan",
    b"-inf",
    b"1e999",
    b"1e-999",
    b".",
    b"+-1",
    b"1.2.3",
    b"0x1F",
    b"1_000",
    b"LUT_IN_VIDEO_RANGE",
    b"DOMAIN_MIN 0 0 0",
    b'TITLE "',
    b"#" * 100,
    b"\xff\xfe",
    b"\t",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(lines))
        kind = rng.randrange(8)
        if kind == 0:
            lines[at] = rng.choice(HOSTILE)
        elif kind == 1:
            cut = rng.randint(0, len(lines[at]))
            lines[at] = lines[at][:cut] + rng.choice(HOSTILE) + lines[at][cut:]
        elif kind == 2 and len(lines) > 1:
            del lines[at]
        elif kind == 3:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif kind == 4:
            lines[at] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
        elif kind == 5:
            lines = lines[: at + 1]
        elif kind == 6:
            parts = lines[at].split(b" ")
            parts[rng.randrange(len(parts))] = rng.choice(HOSTILE)
            lines[at] = b" ".join(parts)
        else:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
    return b"\n".join(lines)


def test_ten_thousand_mutated_files_parse_or_raise_within_a_second_each():
    rng = random.Random(20240)
    texts = seeds()
    outcomes = {"parsed": 0, "refused": 0}
    slowest = 0.0
    started = time.perf_counter()
    for _ in range(CASES):
        raw = mutate(rng.choice(texts), rng)
        start = time.perf_counter()
        try:
            lut = parse_cube(raw, "fuzz.cube")
        except CubeFormatError as error:
            assert error.line >= 1
            problem = error.problem
            assert len(problem) <= 2 * QUOTE_CHARS + 60 and problem.isprintable(), problem
            outcomes["refused"] += 1
        else:
            assert np.isfinite(lut.table).all() and 2 <= lut.size <= 256
            assert lut.shaper is None or np.isfinite(lut.shaper.table).all()
            outcomes["parsed"] += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < PER_CASE_SECONDS, slowest
    assert time.perf_counter() - started < 60
    assert min(outcomes.values()) > CASES // 20, outcomes  # both outcomes are exercised
