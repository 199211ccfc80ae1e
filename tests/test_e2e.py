"""End to end: ``emusify run`` as a user runs it, on a real X desktop with a real tray.

Needs Debian's xvfb, trayer, imagemagick and xdotool (``./setup.sh --dev`` installs them; a
missing one fails the test with the package name). The camera is a video of real faces, the
audio goes through SDL's disk driver into a file, and the schedule is short. The daemon runs
as a separate process and is driven only from outside: ``emusify ctl``, signals, the screen.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import cv2
import emusify_process
import numpy as np
import pytest
from emusify_process import HAPPY_VIDEO, PITCH, Launcher, emusify_cli
from xsession import XSession, start_session, wait_icon

pytestmark = pytest.mark.slow

#: ``emusify run`` in its own process and home (see emusify_process).
songs = emusify_process.songs
start_daemon = emusify_process.start_daemon

RATE = 44100


@pytest.fixture
def desktop(tmp_path: Path) -> XSession:
    session = start_session(tmp_path)
    yield session
    session.stop()


@pytest.fixture
def long_video(tmp_path: Path) -> Path:
    """The happy faces looped for 2 minutes. The 8 s clip is analysed in about a second (a file
    is read as fast as it decodes), too short to stop mid-window for sure; this takes ten times
    as long."""
    clip = cv2.VideoCapture(str(HAPPY_VIDEO))
    frames = []
    while (frame := clip.read()[1]) is not None:
        frames.append(frame)
    clip.release()
    path = tmp_path / "long_happy_faces.mp4"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (width, height))
    for n in range(5 * 120):
        writer.write(frames[n % len(frames)])
    writer.release()
    return path


def speaker(home: Path) -> np.ndarray:
    raw = np.fromfile(home / "speaker.raw", dtype="<i2")
    return raw[: len(raw) // 2 * 2].reshape(-1, 2)[:, 0].astype(float) / 32768


def pitch(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[int(np.argmax(spectrum))])


def test_the_daemon_reads_the_mood_plays_shows_and_obeys(desktop, start_daemon: Launcher):
    d = start_daemon(window=8, tray=True, display=desktop.display)
    home = d.home
    try:
        # It detects the mood and plays from the folder mapped to it.
        s = d.wait_status(lambda s: s["music"]["state"] == "playing", what="music")
        assert s["mood"] == "happy" and s["last_outcome"] == "mood"
        assert s["music"]["folder"] == "happy"
        assert Path(s["music"]["path"]).parent == home / "songs" / "happy"
        assert s["camera"] == "closed" and s["camera_error"] is None
        assert s["next_check"] > time.time() + 30
        assert s["pid"] == d.proc.pid

        # The tray shows the happy face (the screenshot is compared with every drawn icon).
        distances = wait_icon(desktop, "happy")
        assert distances["happy"] < 15, distances
        name = desktop.run("xdotool", "getwindowname", desktop.tray_icon()).strip()
        assert name.startswith("Emusify: mood happy (")

        # The audio written by SDL is the happy folder's tone, not silence.
        time.sleep(1.5)
        x = speaker(home)
        last = x[-RATE:]
        assert np.sqrt(np.mean(last**2)) > 0.05
        assert pitch(last) == pytest.approx(PITCH["happy"], abs=10)

        # The plain status reads well too.
        text = d.ctl("status")
        assert text.returncode == 0
        assert "Mood:       happy (confidence" in text.stdout
        assert "Track:" in text.stdout and "happy" in text.stdout

        # A second instance is refused with a clear message.
        second = emusify_cli(d.env, "run", "--config", str(home / "config.yaml"), "--no-tray")
        assert second.returncode == 2
        assert f"Emusify is already running (pid {d.proc.pid})" in second.stderr
        assert "Traceback" not in second.stderr

        # Skip moves to the other track of the folder.
        before = s["music"]["path"]
        skipped = d.ctl("skip")
        assert skipped.returncode == 0 and skipped.stdout.startswith("Skipped; now playing")
        after = d.status()
        assert after["music"]["path"] != before
        assert after["music"]["folder"] == "happy" and after["music"]["state"] == "playing"

        # A click on the icon opens the control window.
        x0, y0, w, h = desktop.geometry(desktop.tray_icon())
        desktop.click(x0 + w // 2, y0 + h // 2)
        desktop.wait_window("--name", "^Emusify$")

        # Quit: a clean exit, quickly, and the control socket is gone.
        began = time.monotonic()
        done = d.ctl("quit")
        assert done.returncode == 0 and "shutting down" in done.stdout
        assert d.proc.wait(timeout=5) == 0
        assert time.monotonic() - began < 3.5
        gone = d.ctl("status")
        assert gone.returncode == 2 and "Emusify is not running" in gone.stderr
    finally:
        d.kill()
    log = d.log()
    assert "[worker] emusify.sensing.camera: released video file" in log, "by the worker process"
    assert "Stopped" in log


def test_sigterm_mid_window_releases_the_camera_and_exits_within_3_s(
    start_daemon: Launcher, long_video: Path
):
    """Headless this time (no DISPLAY): the daemon says so and runs the same."""
    d = start_daemon(camera=str(long_video), interval=600, window=120, tray=True)
    try:
        d.wait_status(lambda s: s["camera"] == "open", what="a window under way")
        began = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=5) == 0
        took = time.monotonic() - began
        assert took < 3.0, f"exit took {took:.1f} s"
    finally:
        d.kill()
    log = d.log()
    assert "running headless" in log
    after_signal = log[log.index("Signal SIGTERM") :]
    assert "emusify.sensing.camera: released video file" in after_signal, "the window cut short"
    assert "did not stop within" not in after_signal, "the worker stopped in time by itself"
    assert "Stopped" in after_signal
    assert not (d.state.parent / "run" / "control.sock").exists()
