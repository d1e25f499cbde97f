"""A small synthetic exposure bracket made from a real photo: linearise, scale by 2^EV, clip, re-quantise."""

from __future__ import annotations

import numpy as np
import pytest

from engine.color import linear_to_srgb, srgb_to_linear
from engine.image import sample_photo

MARGIN = 24


def make_bracket(evs, shifts, *, name: str = "chelsea", size: tuple[int, int] = (150, 220)) -> list[np.ndarray]:
    """Frames of one scene at the given EVs; frame k shows the scene moved by -shifts[k] (so aligning it
    needs exactly shifts[k] = (dy, dx))."""
    photo = sample_photo(name).pixels
    h, w = size
    linear = srgb_to_linear(photo[: h + 2 * MARGIN, : w + 2 * MARGIN])
    frames = []
    for ev, (dy, dx) in zip(evs, shifts, strict=True):
        encoded = linear_to_srgb(np.clip(linear * 2.0**ev, 0.0, 1.0))
        encoded = np.round(encoded * 255.0) / 255.0
        frames.append(np.ascontiguousarray(encoded[MARGIN + dy : MARGIN + dy + h, MARGIN + dx : MARGIN + dx + w]))
    return frames


@pytest.fixture
def bracket():
    return make_bracket
