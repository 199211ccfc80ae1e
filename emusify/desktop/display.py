"""Facts about the user's desktop session that decide between a window and the terminal."""

from __future__ import annotations

import os
import sys


def display_available() -> bool:
    """Whether a window or tray icon can be shown: always on macOS and Windows, with X11 or
    Wayland elsewhere (a service started before the graphical session has neither)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
