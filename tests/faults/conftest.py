"""Fault-suite fixtures: a real small disk that fills up, and the logging set-up restored.

A full disk is made for real where the machine allows it: a small tmpfs mounted for the test
(needs root, as in the project's container and CI). Elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    """A mounted tmpfs of a few hundred KB; ``fill()`` takes every free byte, ``free()`` gives
    them back."""

    root: Path

    @property
    def filler(self) -> Path:
        return self.root / "filler"

    def fill(self) -> None:
        chunk = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        assert shutil.disk_usage(self.root).free < 4096

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _can_mount() -> bool:
    return os.name == "posix" and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if not _can_mount():
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    root = tmp_path / "disk"
    root.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(root)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for h in root.handlers[:]:
        root.removeHandler(h)
        with contextlib.suppress(Exception):
            h.close()
    root.handlers[:], root.level = saved[0], saved[1]


# --- emusify run as a user runs it, driven from outside --------------------------------------

ASSETS = Path(__file__).parent.parent / "assets"
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


@pytest.fixture
def songs(tmp_path: Path, make_tone) -> Path:
    root = tmp_path / "songs"
    for folder, hz in PITCH.items():
        for n in range(2):
            make_tone(root / folder / f"{folder}-{n}.wav", hz, 30.0)
    return root


@pytest.fixture
def start_daemon(tmp_path: Path, songs: Path) -> Iterator:
    """``start_daemon(config_text="", *run_args, emusify_home=None, env={})`` -> Daemon."""
    started: list[Daemon] = []

    def start(
        config_text: str = "",
        *args: str,
        emusify_home: Path | None = None,
        env: dict[str, str] | None = None,
        camera: str | None = str(HAPPY_VIDEO),
        interval: float = 60,
        window: float = 4,
    ) -> Daemon:
        config = tmp_path / "config.yaml"
        if not config.exists() or config_text:
            config.write_text(
                f"music:\n  songs_root: {songs}\n  fade_seconds: 0.2\n"
                f"logging:\n  level: debug\n{config_text}"
            )
        full_env = {
            **os.environ,
            "EMUSIFY_HOME": str(emusify_home or tmp_path / "emusify"),
            "SDL_AUDIODRIVER": "disk",
            "SDL_DISKAUDIOFILE": str(tmp_path / "speaker.raw"),
            **(env or {}),
        }
        full_env.pop("DISPLAY", None)
        argv = [sys.executable, "-m", "emusify.cli", "run", "--config", str(config), "--no-tray"]
        if camera is not None:
            argv += ["--camera", camera]
        argv += ["--interval", f"{interval:g}", "--window", f"{window:g}", "-v", *args]
        out = open(tmp_path / "daemon.out", "a")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        daemon = Daemon(proc, tmp_path, full_env)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
