"""End to end: ``emusify run`` as a user runs it, on a real X desktop with a real tray.

Needs Debian's xvfb, trayer, imagemagick and xdotool (``./setup.sh --dev`` installs them; a
missing one fails the test with the package name). The camera is a video of real faces, the
audio goes through SDL's disk driver into a file, and the schedule is short. The daemon runs
as a separate process and is driven only from outside: ``emusify ctl``, signals, the screen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from xsession import XSession, start_session, wait_icon

pytestmark = pytest.mark.slow

ASSETS = Path(__file__).parent / "assets"
HAPPY_VIDEO = ASSETS / "happy_faces.mp4"
PITCH = {"happy": 880.0, "calm": 440.0, "sad": 220.0}
RATE = 44100


@pytest.fixture
def desktop(tmp_path: Path) -> XSession:
    session = start_session(tmp_path)
    yield session
    session.stop()


@pytest.fixture
def home(tmp_path: Path, make_tone) -> Path:
    """A user's state, config and songs, all inside tmp_path."""
    songs = tmp_path / "songs"
    for folder, hz in PITCH.items():
        for n in range(2):
            make_tone(songs / folder / f"{folder}-{n}.wav", hz, 30.0)
    (tmp_path / "config.yaml").write_text(
        f"music:\n  songs_root: {songs}\n  fade_seconds: 0.5\nlogging:\n  level: debug\n"
    )
    return tmp_path


def environment(home: Path, desktop: XSession | None) -> dict[str, str]:
    env = {
        **os.environ,
        "EMUSIFY_HOME": str(home / "emusify"),
        "SDL_AUDIODRIVER": "disk",
        "SDL_DISKAUDIOFILE": str(home / "speaker.raw"),
    }
    env.pop("DISPLAY", None)
    if desktop is not None:
        env["DISPLAY"] = desktop.display
    return env


def emusify(env: dict[str, str], *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emusify.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_daemon(home: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    log = open(home / "daemon.err", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emusify.cli",
            "run",
            "--config",
            str(home / "config.yaml"),
            "--camera",
            str(HAPPY_VIDEO),
            "--interval",
            "60",
            "--window",
            "8",
            "-v",
            *extra,
        ],
        env=env,
        stdout=log,
        stderr=log,
    )


def status(env: dict[str, str]) -> dict:
    done = emusify(env, "ctl", "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_status(env, predicate, daemon: subprocess.Popen, timeout=60.0, what="") -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"the daemon exited with {daemon.returncode}"
        done = emusify(env, "ctl", "status", "--json")
        if done.returncode == 0:
            last = json.loads(done.stdout)
            if predicate(last):
                return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; last status: {last}")


def speaker(home: Path) -> np.ndarray:
    raw = np.fromfile(home / "speaker.raw", dtype="<i2")
    return raw[: len(raw) // 2 * 2].reshape(-1, 2)[:, 0].astype(float) / 32768


def pitch(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[int(np.argmax(spectrum))])


def stop(daemon: subprocess.Popen) -> None:
    if daemon.poll() is None:
        daemon.kill()
        daemon.wait()


def test_the_daemon_reads_the_mood_plays_shows_and_obeys(desktop, home):
    env = environment(home, desktop)
    daemon = start_daemon(home, env)
    try:
        # It detects the mood and plays from the folder mapped to it.
        s = wait_status(env, lambda s: s["music"]["state"] == "playing", daemon, what="music")
        assert s["mood"] == "happy" and s["last_outcome"] == "mood"
        assert s["music"]["folder"] == "happy"
        assert Path(s["music"]["path"]).parent == home / "songs" / "happy"
        assert s["camera"] == "closed" and s["camera_error"] is None
        assert s["next_check"] > time.time() + 30
        assert s["pid"] == daemon.pid

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
        text = emusify(env, "ctl", "status")
        assert text.returncode == 0
        assert "Mood:       happy (confidence" in text.stdout
        assert "Track:" in text.stdout and "happy" in text.stdout

        # A second instance is refused with a clear message.
        second = emusify(env, "run", "--config", str(home / "config.yaml"), "--no-tray")
        assert second.returncode == 2
        assert f"Emusify is already running (pid {daemon.pid})" in second.stderr
        assert "Traceback" not in second.stderr

        # Skip moves to the other track of the folder.
        before = s["music"]["path"]
        skipped = emusify(env, "ctl", "skip")
        assert skipped.returncode == 0 and skipped.stdout.startswith("Skipped; now playing")
        after = status(env)
        assert after["music"]["path"] != before
        assert after["music"]["folder"] == "happy" and after["music"]["state"] == "playing"

        # A click on the icon opens the control window.
        x0, y0, w, h = desktop.geometry(desktop.tray_icon())
        desktop.click(x0 + w // 2, y0 + h // 2)
        desktop.wait_window("--name", "^Emusify$")

        # Quit: a clean exit, quickly, and the control socket is gone.
        began = time.monotonic()
        done = emusify(env, "ctl", "quit")
        assert done.returncode == 0 and "shutting down" in done.stdout
        assert daemon.wait(timeout=5) == 0
        assert time.monotonic() - began < 3.5
        gone = emusify(env, "ctl", "status")
        assert gone.returncode == 2 and "Emusify is not running" in gone.stderr
    finally:
        stop(daemon)
    log = (home / "emusify" / "state" / "log" / "emusify.log").read_text()
    assert "[worker] emusify.sensing.camera: released video file" in log, "by the worker process"
    assert "Stopped" in log


def test_sigterm_mid_window_releases_the_camera_and_exits_within_3_s(home):
    """Headless this time (no DISPLAY): the daemon says so and runs the same."""
    env = environment(home, None)
    daemon = start_daemon(home, env, "--window", "20")
    try:
        wait_status(env, lambda s: s["camera"] == "open", daemon, what="a window under way")
        began = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=5) == 0
        took = time.monotonic() - began
        assert took < 3.0, f"exit took {took:.1f} s"
    finally:
        stop(daemon)
    log = (home / "emusify" / "state" / "log" / "emusify.log").read_text()
    assert "running headless" in log
    after_signal = log[log.index("Signal SIGTERM") :]
    assert "emusify.sensing.camera: released video file" in after_signal
    assert "Stopped" in after_signal
    assert not (home / "emusify" / "run" / "control.sock").exists()
