"""What an SR table is: the sampling patterns, padding, lattice and int8 scale of each kind.

The one place both sides read: the torch nets (`engine.sr.model`) are built from it and the numpy
inference (`engine.sr.infer`) reads tables laid out by it, so neither takes its shape from the other.
"""

from __future__ import annotations

import numpy as np

INT8_SCALE = 127.0  # a net output of 1.0 is table value 127
SIMPLEX_WEIGHT = 16  # the 4-simplex weights of one term sum to 16
EC_ALPHA_SHIFT = 4  # EC-LUT alpha = 1/16: residual = (sum of 36 int8 terms) >> 4
EC_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # expanded-conv neighbours
SR_LEVELS = np.array([*range(0, 256, 16), 255])  # 17 lattice levels per input, interval 16
SR_STRIDES = (17**3, 17**2, 17, 1)
SR_WINDOW = ((0, 0), (0, 1), (1, 0), (1, 1))  # a, b, c, d of the 2x2 window (rotated frame)
DILATED_WINDOW = ((0, 0), (0, 2), (2, 0), (2, 2))  # MuLUT "D": the corners of the 3x3 neighbourhood
Y_WINDOW = ((0, 0), (1, 1), (1, 2), (2, 1))  # MuLUT "Y"
EC_WINDOW = ((0, 0), (1, 0))  # the pixel and the one below (rotated frame)
PATTERNS = {"srlut": (SR_WINDOW,), "mulut": (SR_WINDOW, DILATED_WINDOW, Y_WINDOW), "eclut": (EC_WINDOW,)}
SIMPLEX_KINDS = ("srlut", "mulut")  # 4-input tables on the 17-level lattice, interpolated
PADDING = {"srlut": 1, "mulut": 2, "eclut": 2}
GROUPS = {"srlut": 1, "mulut": 3, "eclut": 9}  # output groups of r*r per table row (MuLUT: one per pattern)
ROWS = {"srlut": 17**4, "mulut": 17**4, "eclut": 256**2}
