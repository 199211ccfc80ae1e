"""A real X desktop for tray tests: Xvfb, a system tray (trayer), screenshots and clicks.

Shared by test_tray.py and test_e2e.py. Missing tools fail the test with the Debian package
to install (setup.sh --dev installs them) instead of skipping: CI must run these tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emusify.desktop.icons import ICON_NAMES, draw_icon

#: Tool -> Debian package.
TOOLS = {
    "Xvfb": "xvfb",
    "trayer": "trayer",
    "import": "imagemagick",
    "xdotool": "xdotool",
}


def require_tools() -> None:
    missing = {t: p for t, p in TOOLS.items() if shutil.which(t) is None}
    if missing:
        pytest.fail(
            "the tray tests need a real X desktop; missing "
            + ", ".join(missing)
            + ". Install: apt-get install "
            + " ".join(sorted(set(missing.values())))
            + " (./setup.sh --dev does it)"
        )


@dataclass
class XSession:
    display: str
    tmp: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *cmd: str, check: bool = True) -> str:
        done = subprocess.run(
            list(cmd), env=self.env, capture_output=True, text=True, timeout=20, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{cmd}: exit {done.returncode}: {done.stderr}")
        return done.stdout

    def windows(self, *search: str) -> list[str]:
        return self.run("xdotool", "search", "--onlyvisible", *search, check=False).split()

    def wait_window(self, *search: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.windows(*search)
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no window {search} appeared within {timeout:.0f} s")

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """x, y, width, height of a window on the screen."""
        values = {}
        for line in self.run("xdotool", "getwindowgeometry", "--shell", window).splitlines():
            key, _, value = line.partition("=")
            values[key] = int(value)
        return values["X"], values["Y"], values["WIDTH"], values["HEIGHT"]

    def screenshot(self, name: str = "screen.png") -> Image.Image:
        path = self.tmp / name
        self.run("import", "-window", "root", str(path))
        return Image.open(path).convert("RGB")

    def click(self, x: int, y: int) -> None:
        self.run("xdotool", "mousemove", str(x), str(y), "click", "1")

    def tray_icon(self) -> str:
        """The Emusify icon window docked in the tray (pystray names its class so)."""
        return self.wait_window("--classname", "^emusifySystemTrayIcon$")

    def icon_image(self) -> Image.Image:
        x, y, w, h = self.geometry(self.tray_icon())
        return self.screenshot("tray.png").crop((x, y, x + w, y + h))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def as_shown(name: str, size: tuple[int, int]) -> np.ndarray:
    """An icon as the tray should show it: a square as large as fits, centred, on black."""
    side = min(size)
    shown = Image.new("RGB", size)
    shown.paste(
        draw_icon(name).resize((side, side), Image.LANCZOS),
        ((size[0] - side) // 2, (size[1] - side) // 2),
    )
    return np.asarray(shown, dtype=float)


def closest_icon(image: Image.Image) -> tuple[str, dict[str, float]]:
    """Which drawn icon a screenshot of the tray slot shows, with every icon's distance."""
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    distances = {n: float(np.abs(pixels - as_shown(n, image.size)).mean()) for n in ICON_NAMES}
    return min(distances, key=distances.get), distances


def wait_icon(session: XSession, name: str, timeout: float = 30.0) -> dict[str, float]:
    """Wait until the tray shows ``name``; return the distances of the last screenshot."""
    deadline = time.monotonic() + timeout
    shown, distances = "", {}
    while time.monotonic() < deadline:
        shown, distances = closest_icon(session.icon_image())
        if shown == name:
            return distances
        time.sleep(0.3)
    raise AssertionError(f"the tray shows {shown!r}, not {name!r}: {distances}")


def start_session(tmp: Path, *, tray: bool = True) -> XSession:
    """Xvfb on a free display number, then (unless ``tray`` is False) trayer as the tray."""
    require_tools()
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()  # Xvfb writes the number once it accepts clients
    if not number:
        xvfb.kill()
        raise AssertionError("Xvfb did not start")
    session = XSession(f":{number}", tmp, [xvfb])
    if tray:
        start_tray(session)
    return session


def start_tray(session: XSession) -> None:
    """Start trayer, the system tray, and wait until it owns the tray selection."""
    trayer = subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "32",
            "--SetDockType",
            "true",
            "--transparent",
            "false",
            "--tint",
            "0x203040",
        ],
        env=session.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    session.procs.append(trayer)
    _wait_for_tray(session)


def _wait_for_tray(session: XSession, timeout: float = 10.0) -> None:
    """The tray is ready once someone owns the _NET_SYSTEM_TRAY_S0 selection."""
    from Xlib import X, display

    conn = display.Display(session.display)
    try:
        atom = conn.intern_atom("_NET_SYSTEM_TRAY_S0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.get_selection_owner(atom) != X.NONE:
                return
            time.sleep(0.1)
    finally:
        conn.close()
    session.stop()
    raise AssertionError("trayer did not take the system tray selection")
