"""Whether a window can be shown decides between the tray/preview and the terminal."""

import sys

import pytest

from emusify.desktop.display import display_available


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="always a display there")
def test_x11_or_wayland_means_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert display_available() is False
    monkeypatch.setenv("DISPLAY", ":9")
    assert display_available() is True
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display_available() is True
