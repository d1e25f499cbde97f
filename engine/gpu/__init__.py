"""GPU LUT rendering with OpenGL 3.3 core: headless EGL context, renderer, full-resolution export.

``PYOPENGL_PLATFORM`` must be chosen before the first ``import OpenGL``; this package picks EGL on
Linux (unless the caller chose already) so that one process can both draw into a Qt context and
make its own surfaceless context for exports.
"""

import os
import sys

if sys.platform.startswith("linux"):
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
