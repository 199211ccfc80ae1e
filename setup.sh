#!/usr/bin/env bash
# Set up Emusify in ./.venv on a fresh machine.
#   ./setup.sh          the program (then: .venv/bin/emusify run)
#   ./setup.sh --dev    also training (TensorFlow), the test tools, and the system packages
#                       the tray end-to-end test needs (Xvfb, a tray host, screenshots)
set -euo pipefail
cd "$(dirname "$0")"

dev=0
[ "${1:-}" = "--dev" ] && dev=1

python=""
for candidate in python3 python3.12 python3.11 python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys, venv; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup.sh: Emusify needs Python 3.10, 3.11 or 3.12 with venv (MediaPipe 0.10.21 has no wheels for other versions)" >&2
  exit 1
fi

if [ "$dev" = 1 ]; then
  packages="xvfb trayer imagemagick xdotool desktop-file-utils systemd python3-tk"
  missing=""
  for tool in Xvfb trayer import xdotool desktop-file-validate systemd-analyze; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      sudo apt-get update -qq
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    else
      echo "setup.sh: please install: $packages (needed by the tray end-to-end test)" >&2
    fi
  fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install --quiet -e '.[test]'
else
  .venv/bin/python -m pip install --quiet -e .
fi
.venv/bin/python -c 'import tkinter' 2>/dev/null ||
  echo "setup.sh: note: this Python has no Tk (Debian: apt install python3-tk); the tray's control window needs it" >&2
echo "setup.sh: Emusify is installed in $(pwd)/.venv ($(.venv/bin/python --version))"
