#!/usr/bin/env bash
# Set up Emusify in ./.venv on a fresh machine.
#   ./setup.sh          the program, and `emusify` linked into ~/.local/bin (then: emusify run)
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
  packages="xvfb trayer imagemagick xdotool desktop-file-utils systemd python3-tk chromium"
  missing=""
  for tool in Xvfb trayer import xdotool desktop-file-validate systemd-analyze chromium; do
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

# pip's own output goes to a log; its errors are shown, and all of it when it fails.
pip_log=.venv/setup-pip.log
pip_install() {
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input "$@" >"$pip_log" 2>&1; then
    tail -n 30 "$pip_log" >&2
    echo "setup.sh: pip install $* failed (the whole output is in $pip_log)" >&2
    exit 1
  fi
  grep -E '^(ERROR|error)' "$pip_log" >&2 || true
}
pip_install --upgrade pip
if [ "$dev" = 1 ]; then
  pip_install -e '.[test]'
else
  pip_install -e .
fi
echo "setup.sh: Emusify is installed in $(pwd)/.venv ($(.venv/bin/python --version))"

# `emusify` on the PATH: a link in the user's bin folder (never over a file that is not ours).
bin="${XDG_BIN_HOME:-$HOME/.local/bin}"
link="$bin/emusify"
if [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "setup.sh: $link exists and is not a link (another install?): left as it is; run $(pwd)/.venv/bin/emusify" >&2
else
  mkdir -p "$bin"
  ln -sfn "$(pwd)/.venv/bin/emusify" "$link"
  case ":$PATH:" in
    *":$bin:"*) echo "setup.sh: \`emusify\` is on your PATH ($link)" ;;
    *) echo "setup.sh: linked $link, but $bin is not on your PATH: add it (e.g. echo 'export PATH=\"$bin:\$PATH\"' >> ~/.profile) or run $(pwd)/.venv/bin/emusify" >&2 ;;
  esac
fi
.venv/bin/python -c 'import tkinter' 2>/dev/null ||
  echo "setup.sh: note: this Python has no Tk (Debian: apt install python3-tk); the tray's control window needs it" >&2
