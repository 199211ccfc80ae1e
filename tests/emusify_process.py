"""``emusify run`` as a user runs it, in its own process and home, driven only from outside
(``emusify ctl``, signals, its files). Used by the fault suite and the privacy tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ASSETS = Path(__file__).parent / "assets"
HAPPY_VIDEO = ASSETS / "happy_faces.mp4"
PITCH = {"happy": 880.0, "calm": 440.0, "sad": 220.0}


@dataclass
class Daemon:
    """One ``emusify run`` process with its own home, songs, config and speaker file."""

    proc: subprocess.Popen
    home: Path
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return Path(self.env["EMUSIFY_HOME"]) / "state"

    @property
    def history_path(self) -> Path:
        return self.state / "history.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.state / "log" / "emusify.log"

    def output(self) -> str:
        """What the daemon printed on its console (stderr and stdout)."""
        return (self.home / "daemon.out").read_text(errors="replace")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ctl(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return emusify_cli(self.env, "ctl", *args, timeout=timeout)

    def status(self) -> dict:
        done = self.ctl("status", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def wait_status(self, predicate, timeout: float = 90.0, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                f"the daemon exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
            )
            done = self.ctl("status", "--json")
            if done.returncode == 0:
                last = json.loads(done.stdout)
                if predicate(last):
                    return last
            time.sleep(0.3)
        pytest.fail(f"timed out waiting for {what}; last status: {last}\n{self.output()[-3000:]}")

    def windows(self) -> list[tuple]:
        """The history's windows, read as another program would (read-only)."""
        import sqlite3

        db = sqlite3.connect(f"file:{self.history_path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT time, outcome, emotion FROM windows ORDER BY id").fetchall()
        finally:
            db.close()

    def quit(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.ctl("quit")
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def emusify_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emusify.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_songs(root: Path) -> Path:
    """Two 30 s tones per mood folder, a pitch per folder (so the audio says which played)."""
    rate = 44100
    t = np.arange(rate * 30) / rate
    for folder, hz in PITCH.items():
        pcm = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()
        for n in range(2):
            path = root / folder / f"{folder}-{n}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(pcm)
    return root


class Launcher:
    """Starts daemons in ``folder`` (config, console output and speaker file go there)."""

    def __init__(self, folder: Path, songs: Path):
        self.folder = folder
        self.songs = songs
        self.started: list[Daemon] = []

    def __call__(
        self,
        config_text: str = "",
        *args: str,
        emusify_home: Path | None = None,
        env: dict[str, str] | None = None,
        camera: str | None = str(HAPPY_VIDEO),
        interval: float = 60,
        window: float = 4,
        tray: bool = False,
        display: str | None = None,
    ) -> Daemon:
        """``emusify run`` with the camera, schedule and extra config/env given: headless with
        ``--no-tray``, or with ``tray`` as a user starts it, on ``display`` if one is given."""
        config = self.folder / "config.yaml"
        if not config.exists() or config_text:
            config.write_text(
                f"music:\n  songs_root: {self.songs}\n  fade_seconds: 0.2\n"
                f"logging:\n  level: debug\n{config_text}"
            )
        full_env = {
            **os.environ,
            "EMUSIFY_HOME": str(emusify_home or self.folder / "emusify"),
            "SDL_AUDIODRIVER": "disk",
            "SDL_DISKAUDIOFILE": str(self.folder / "speaker.raw"),
            **(env or {}),
        }
        full_env.pop("DISPLAY", None)
        if display is not None:
            full_env["DISPLAY"] = display
        argv = [sys.executable, "-m", "emusify.cli", "run", "--config", str(config)]
        if not tray:
            argv.append("--no-tray")
        if camera is not None:
            argv += ["--camera", camera]
        argv += ["--interval", f"{interval:g}", "--window", f"{window:g}", "-v", *args]
        out = open(self.folder / "daemon.out", "a")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        daemon = Daemon(proc, self.folder, full_env)
        self.started.append(daemon)
        return daemon

    def kill_all(self) -> None:
        for daemon in self.started:
            daemon.kill()


@pytest.fixture
def songs(tmp_path: Path) -> Path:
    return make_songs(tmp_path / "songs")


@pytest.fixture
def start_daemon(tmp_path: Path, songs: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path, songs)
    yield launcher
    launcher.kill_all()
