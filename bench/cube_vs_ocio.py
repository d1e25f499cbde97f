"""Accuracy: our .cube application (1D shaper + 3D, 1D-only, plain) against OpenColorIO's on the same files.

    python bench/cube_vs_ocio.py FILE.cube [FILE.cube ...] [--samples 300000]

For each file and interpolation: the largest and mean difference in 8-bit levels over random inputs
spanning the file's input domain (cubed, so log shapers' dark end is well covered). OCIO's Resolve
reader refuses a TITLE line: strip it from a file before comparing. Needs `pip install opencolorio`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.lut import apply_lut_to_values, read_cube  # noqa: E402

OCIO_INTERPOLATION = {"trilinear": "INTERP_LINEAR", "tetrahedral": "INTERP_TETRAHEDRAL"}


def ocio_apply(path: Path, values: np.ndarray, interpolation: str) -> np.ndarray:
    import PyOpenColorIO as ocio

    ocio.SetLoggingLevel(ocio.LOGGING_LEVEL_NONE)  # 1D-only files: "tetrahedral not allowed", linear is used
    transform = ocio.FileTransform(src=str(path), interpolation=getattr(ocio, OCIO_INTERPOLATION[interpolation]))
    out = np.ascontiguousarray(values, dtype=np.float32).copy()
    ocio.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor().applyRGB(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--samples", type=int, default=300_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'file':<40} {'stages':<9} {'interpolation':<12} {'max':>8} {'mean':>8}   (8-bit levels)")
    for path in args.files:
        lut = read_cube(path)
        lo, hi = lut.input_domain
        values = (lo + (hi - lo) * rng.random((args.samples, 3)) ** 3).astype(np.float32)
        stages = "1D" if lut.shaper is not None and lut.size == 2 else "1D+3D" if lut.shaper is not None else "3D"
        for interpolation in OCIO_INTERPOLATION:
            error = np.abs(apply_lut_to_values(lut, values, interpolation) - ocio_apply(path, values, interpolation))
            error *= 255
            print(f"{path.name:<40} {stages:<9} {interpolation:<12} {error.max():>8.4f} {error.mean():>8.5f}")


if __name__ == "__main__":
    main()
