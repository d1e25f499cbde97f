"""GL fixtures: a headless context on its own thread. With LUTLAB_REQUIRE_GL=1 (CI) a missing
context fails the test instead of skipping it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from engine.gpu.context import GLThread, GLUnavailable
from engine.lut import LUT3D, identity_table


def gl_missing(reason: str) -> None:
    """Fail in CI (LUTLAB_REQUIRE_GL=1), skip elsewhere."""
    if os.environ.get("LUTLAB_REQUIRE_GL") == "1":
        pytest.fail(f"OpenGL 3.3 is required (LUTLAB_REQUIRE_GL=1) but unavailable: {reason}")
    pytest.skip(f"no OpenGL 3.3 context: {reason}")


@pytest.fixture(scope="module")
def gl() -> Iterator[GLThread]:
    try:
        thread = GLThread()
    except GLUnavailable as exc:
        gl_missing(str(exc))
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def strong_lut() -> LUT3D:
    """A LUT far from the identity with curvature in every channel, so a wrong lookup cannot pass."""
    unit = identity_table(17)
    r, g, b = unit[..., 0], unit[..., 1], unit[..., 2]
    table = np.stack([1.0 - r**1.7, 0.5 + 0.45 * np.sin(5.0 * g + 2.0 * b), r * g + 0.3 * b**2], axis=-1)
    return LUT3D(table.astype(np.float32), title="strong")


@pytest.fixture(scope="session")
def photo_pixels() -> np.ndarray:
    """A 90 x 130 photo-like image: smooth gradients plus noise, with exact 0 and 1 values."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:90, 0:130].astype(np.float32)
    base = np.stack([x / 129.0, y / 89.0, 0.5 + 0.5 * np.sin(x / 9.0 + y / 13.0)], axis=-1)
    pixels = np.clip(base + rng.normal(0.0, 0.08, base.shape), 0.0, 1.0).astype(np.float32)
    pixels[0, :5] = 0.0
    pixels[1, :5] = 1.0
    return pixels
