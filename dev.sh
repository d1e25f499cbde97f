#!/usr/bin/env bash
# LUTLab developer entry point: one command sets everything up and then runs the editor or the tests.
#   ./dev.sh run [PHOTO]   set up (idempotent) and open the editor (bundled sample photo if none)
#   ./dev.sh test [ARGS]   set up (idempotent) and run the whole test suite (starts Xvfb if needed)
#   ./dev.sh setup         set up only
# Set-up is skipped on later runs until pyproject.toml changes (a stamp in .venv records its hash).
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY="$VENV/bin/python"
PYTHON=${PYTHON:-python3}
DEBS="python3-venv xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0
      libxcb-cursor0 libegl1 libgl1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 libopengl0 libfontconfig1 libdbus-1-3"

install_debs() {
  command -v dpkg-query >/dev/null || { echo "setup: not a Debian/Ubuntu system; make sure Qt's xcb, Xvfb and Mesa EGL libraries are installed" >&2; return 0; }
  local missing=()
  for p in $DEBS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing; install them as root, then run this again:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

install_python() {
  local stamp="$VENV/.lutlab-setup"
  local want; want=$(sha1sum pyproject.toml | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$PY" ]; then return 0; fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup: LUTLab needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
  [ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
  # The pinned torch first: pip then takes the machine's CPU wheel (its find-links) instead of resolving an
  # unpinned torch, which would pull gigabytes of CUDA libraries.
  echo "setup: installing torch==2.13.0 and LUTLab into $VENV (first run only)"
  "$PY" -m pip install -q "torch==2.13.0"
  "$PY" -m pip install -q -e ".[test,bench]"
  echo "$want" > "$stamp"
}

# Run a command with an X display: the current one, or a private Xvfb (Qt's xcb platform gives the
# OpenGL 3.3+ core context the editor and the GL tests need; see DESIGN.md).
XVFB=(xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX")
with_display() {
  if [ -n "${DISPLAY:-}" ]; then "$@"; else "${XVFB[@]}" "$@"; fi
}

cmd=${1:-run}; shift || true
case "$cmd" in
  setup|run|test) ;;
  *) echo "usage: ./dev.sh run [PHOTO] | test [PYTEST ARGS] | setup" >&2; exit 2 ;;
esac
install_debs
install_python
case "$cmd" in
  setup) echo "setup: done" ;;
  run)
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then exec "$PY" main.py "$@"; fi
    echo "run: no display found; the editor runs inside Xvfb, invisibly" >&2
    exec "${XVFB[@]}" "$PY" main.py "$@"
    ;;
  test)
    # A GL test must fail, not skip, when no GL context can be made.
    export LUTLAB_REQUIRE_GL=1 QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-xcb}
    status=0
    with_display "$PY" -m pytest -q "$@" || status=$?
    # pytest exits 5 when it collected nothing: a suite that tests nothing is a failure, say so.
    [ "$status" -eq 5 ] && echo "test: no tests were collected (check the path or -k expression)" >&2
    if [ "$#" -eq 0 ]; then  # the whole suite: the linter and the type checker too (pyproject says their scope)
      "$PY" -m ruff check . || status=$((status ? status : 1))
      "$PY" -m ruff format --check . || status=$((status ? status : 1))
      "$PY" -m mypy || status=$((status ? status : 1))
    fi
    exit "$status"
    ;;
esac
