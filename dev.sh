#!/usr/bin/env bash
# LUTLab developer entry point: one command sets everything up and then runs the editor or the tests.
#   ./dev.sh run [PHOTO]   set up (idempotent) and open the editor (bundled sample photo if none)
#   ./dev.sh test [ARGS]   set up (idempotent) and run the whole test suite (starts Xvfb if needed)
#   ./dev.sh setup         set up only
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY="$VENV/bin/python"
DEBS="xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 libxcb-cursor0 libegl1 libgl1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 libopengl0 libfontconfig1 libdbus-1-3"

install_debs() {
  local missing=()
  for p in $DEBS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages (as root): sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

install_python() {
  local stamp="$VENV/.lutlab-setup"
  local want; want=$(sha1sum pyproject.toml | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip >/dev/null
  # The pinned CPU wheel first: an unpinned torch would pull gigabytes of CUDA packages.
  "$PY" -m pip install -q "torch==2.13.0"
  "$PY" -m pip install -q -e ".[test,bench]"
  echo "$want" > "$stamp"
}

with_display() {
  if [ -z "${DISPLAY:-}" ]; then
    exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" "$@"
  fi
  exec "$@"
}

cmd=${1:-run}; shift || true
install_debs
install_python
case "$cmd" in
  setup) ;;
  run)  with_display "$PY" main.py "$@" ;;
  test) export LUTLAB_REQUIRE_GL=1; with_display "$PY" -m pytest -q "$@" ;;
  *) echo "usage: ./dev.sh run [PHOTO] | test [PYTEST ARGS] | setup" >&2; exit 2 ;;
esac
