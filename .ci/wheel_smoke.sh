#!/usr/bin/env bash
# The installed package as a user gets it: build the wheel from the checkout's files, install it WITH its
# dependencies into a brand-new virtual environment (no access to the dev venv's packages; pip takes them from
# the machine's configured indexes and wheel folders), then run `lutlab` from an unrelated folder with an empty
# home: presets, enhance, upscale, lowlight, a GPU (EGL) export, and the editor opening a photo under Xvfb.
# Usage: .ci/wheel_smoke.sh   (about 2 minutes, most of it pip unpacking torch)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { echo "wheel-smoke: $*"; }

say "building the wheel from the checkout's files (a clean copy: no stale build/ folder can leak in)"
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar -c) | tar -x -C "$WORK/src"
"$ROOT/.venv/bin/python" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"

say "installing it into a fresh venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "$WORK/dist"/lutlab-*.whl
LUTLAB="$WORK/venv/bin/lutlab"

# Another folder, an empty home: nothing can come from the checkout or from the developer's own files.
mkdir -p "$WORK/elsewhere" "$WORK/home"
cd "$WORK/elsewhere"
unset LUTLAB_DATA_DIR LUTLAB_CACHE_DIR LUTLAB_LOG_DIR XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_STATE_HOME
export HOME="$WORK/home" PYTHONNOUSERSITE=1
"$WORK/venv/bin/python" - <<'EOF'
import sys
assert not any("/work/main" in p or p.endswith("/src") for p in sys.path[1:]), sys.path
import engine, numpy as np, imageio.v3 as iio
from skimage import data, transform
assert "site-packages" in engine.__file__, engine.__file__  # the installed copy, not the checkout
photo = transform.resize(data.astronaut(), (160, 160), anti_aliasing=True)
iio.imwrite("photo.png", (photo * 255).round().astype(np.uint8))
iio.imwrite("dark.png", (photo * 0.12 * 255).round().astype(np.uint8))
EOF

say "--version, install-desktop"
"$LUTLAB" --version
"$LUTLAB" install-desktop
grep -q "^Exec=\"$(realpath "$LUTLAB")\" %f" "$HOME/.local/share/applications/lutlab.desktop"
test -s "$HOME/.local/share/icons/hicolor/scalable/apps/lutlab.svg"
say "presets"
"$LUTLAB" presets | tee presets.txt
grep -q "^Auto	shipped" presets.txt
say "enhance --preset Auto"
"$LUTLAB" enhance --preset Auto --cube auto.cube photo.png auto.png
say "upscale --scale 2"
"$LUTLAB" upscale --scale 2 photo.png x2.png
say "lowlight"
"$LUTLAB" lowlight dark.png bright.png
"$WORK/venv/bin/python" - <<'EOF'
import imageio.v3 as iio
assert iio.imread("auto.png").shape == (160, 160, 3)
assert iio.imread("x2.png").shape == (320, 320, 3)
dark, bright = iio.imread("dark.png"), iio.imread("bright.png")
assert bright.mean() > 2 * dark.mean(), (dark.mean(), bright.mean())
print("outputs: enhance 160x160, upscale 320x320, lowlight mean", round(dark.mean(), 1), "->", round(bright.mean(), 1))
EOF

say "GPU export on a headless EGL context (must not fall back to the CPU)"
"$WORK/venv/bin/python" - <<'EOF'
import numpy as np, imageio.v3 as iio
from engine.gpu.export import apply_lut_fast
from engine.lut.apply import apply_lut
from engine.lut.cube import read_cube
lut = read_cube("auto.cube")
pixels = iio.imread("photo.png").astype(np.float32) / 255
out, used = apply_lut_fast(pixels, lut)
assert used == "gpu", used
gap = float(np.abs(out - apply_lut(pixels, lut)).max())
assert gap <= 1 / 255, gap
print(f"GPU export: {used}, max difference from the CPU reference {gap:.2e}")
EOF

say "the editor opens photo.png under Xvfb and closes itself (LUTLAB_QUIT_AFTER)"
export LUTLAB_LOG_DIR="$WORK/logs" LUTLAB_QUIT_AFTER=6 QT_QPA_PLATFORM=xcb
xvfb-run -a -s "-screen 0 1280x800x24 +extension GLX" "$LUTLAB" photo.png
grep -q "opened photo.png (160 x 160)" "$LUTLAB_LOG_DIR/lutlab.log" || { cat "$LUTLAB_LOG_DIR/lutlab.log"; exit 1; }
if grep -q "OpenGL 3.3 unavailable" "$LUTLAB_LOG_DIR/lutlab.log"; then cat "$LUTLAB_LOG_DIR/lutlab.log"; exit 1; fi
grep "opened\|preview" "$LUTLAB_LOG_DIR/lutlab.log"
say "passed"
