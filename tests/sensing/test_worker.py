"""The mood-check worker process stopped from outside: by SIGTERM, and by its daemon's death.

Real worker processes with MediaPipe and the default model, and a real daemon; only the webcam
is scripted (tests/worker_cameras.py), which logs every open and release to a file of its own.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from emusify.sensing.check import LOG_SEP, CheckRequest, _Messages
from emusify.sensing.worker import ORPHAN_EXIT_SECONDS

TESTS = Path(__file__).parent.parent
HAPPY = TESTS / "assets" / "happy_faces.mp4"


def worker_env(tmp_path: Path, cameras: list[str]) -> dict[str, str]:
    """The worker's environment: the scripted cameras importable and used in order."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["EMUSIFY_TEST_CAMERAS"] = ",".join(cameras)
    env["EMUSIFY_TEST_CAMERA_LOG"] = str(tmp_path / "cameras.log")
    env["EMUSIFY_WORKER_LOG_LEVEL"] = "DEBUG"
    return env


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def exited(pid: int) -> bool:
    """Gone, or a zombie its new parent has yet to reap (it holds no camera any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Start a worker on a scripted camera, as the daemon does; returns once the camera is open
    (the ``opened`` message), or at once without ``opened``. Its stderr (log records) goes to
    ``worker.err``."""
    started: list[subprocess.Popen] = []

    def start(camera: str, opened: bool = True) -> subprocess.Popen:
        request = CheckRequest(
            source=0, width=640, height=480, fps=4, seconds=60, model="default",
            min_face_frames=3, min_share=0.4, opener="worker_cameras:scripted",
        )  # fmt: skip
        read_end, write_end = os.pipe()
        with (tmp_path / "worker.err").open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "emusify.sensing.worker", str(write_end)],
                stdin=subprocess.PIPE,
                stderr=err,
                pass_fds=(write_end,),
                env=worker_env(tmp_path, [camera]),
            )
        os.close(write_end)
        started.append(proc)
        try:
            proc.stdin.write(json.dumps(asdict(request)).encode() + b"\n")
            proc.stdin.flush()
            if not opened:
                return proc
            messages = _Messages()
            deadline = time.monotonic() + 120
            while True:
                assert time.monotonic() < deadline, "the camera never opened"
                if select.select([read_end], [], [], 1.0)[0]:
                    data = os.read(read_end, 1 << 16)
                    assert data, (
                        f"the worker ended before its window:\n{read(tmp_path / 'worker.err')}"
                    )
                    if any(m["kind"] == "opened" for m in messages.feed(data)):
                        return proc
        finally:
            os.close(read_end)

    yield start
    for proc in started:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_burst_of_sigterms_mid_window_releases_the_camera_once_and_exits_at_once(
    tmp_path, worker
):
    """A killed daemon's threads die one by one and each sends the parent-death SIGTERM again:
    the first one stops the window, the later ones must not cut the release short."""
    proc = worker(f"live:{HAPPY}")
    began = time.monotonic()
    while time.monotonic() - began < 0.2 and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # one every half millisecond for 0.2 s
        time.sleep(0.0005)
    assert proc.wait(timeout=5) == 0
    took = time.monotonic() - began
    assert read(tmp_path / "cameras.log").splitlines() == ["open 0 live", "release 0"]
    err = read(tmp_path / "worker.err")
    assert f"emusify.sensing.camera{LOG_SEP}released camera 0" in err
    assert "Traceback" not in err, err
    assert took < 1.0, f"exit took {took:.2f} s"


def test_a_stop_while_the_camera_opens_lets_it_open_then_releases_it(tmp_path, worker):
    """Cut short inside the open, the device would be left to the process's end, unlogged."""
    proc = worker("slowopen", opened=False)
    cameras = tmp_path / "cameras.log"
    wait_until(lambda: "open 0 slowopen" in read(cameras), timeout=60, what="the camera opening")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert read(cameras).splitlines() == ["open 0 slowopen", "release 0"]
    err = read(tmp_path / "worker.err")
    assert f"emusify.sensing.camera{LOG_SEP}released camera 0" in err
    assert "Traceback" not in err, err


def test_an_orphan_stuck_in_the_camera_driver_is_ended_by_the_kernel(tmp_path, worker):
    """The daemon gone (stdin closed) while the main thread sits in a native call that no
    Python signal handler can interrupt: SIGALRM's default action still ends the process."""
    proc = worker("stuck")
    cameras = tmp_path / "cameras.log"
    wait_until(lambda: "stuck 0" in read(cameras), timeout=30, what="the read under way")
    began = time.monotonic()
    proc.stdin.close()
    code = proc.wait(timeout=ORPHAN_EXIT_SECONDS + 5)
    assert code == -signal.SIGALRM
    assert time.monotonic() - began < ORPHAN_EXIT_SECONDS + 2


DAEMON = """
import logging, sys, time
from emusify.config import parse_config
from emusify.daemon import Daemon, Schedule, worker_checker
from emusify.history import History
from emusify.music.jukebox import Jukebox

logging.basicConfig(
    filename=sys.argv[2], level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s"
)
cfg = parse_config({"camera": {"source": 0},
                    "schedule": {"interval_minutes": 60, "window_seconds": 60},
                    "music": {"songs_root": sys.argv[1]}})
schedule = Schedule.from_config(cfg)
history = History(sys.argv[3])
checker = worker_checker(cfg, schedule, opener="worker_cameras:scripted")
Daemon(checker, Jukebox(cfg, history), history, schedule).start()
time.sleep(600)
"""


def test_a_daemon_killed_mid_window_leaves_no_worker_and_no_open_camera(tmp_path):
    """kill -9 of the daemon while its worker reads frames: the worker hears of it (parent-death
    signal, end of stdin), releases the camera and is gone within a few seconds."""
    env = {**worker_env(tmp_path, [f"live:{HAPPY}"]), "SDL_AUDIODRIVER": "dummy"}
    log = tmp_path / "daemon.log"
    cameras = tmp_path / "cameras.log"
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(tmp_path), str(log), str(tmp_path / "h.sqlite3")],
        env=env,
    )
    try:
        # Relayed from the worker once the camera is open; frames flow from then on.
        wait_until(lambda: "opened camera 0" in read(log), timeout=120, what="the window")
        tasks = Path(f"/proc/{daemon.pid}/task").glob("*/children")
        (pid,) = [int(p) for task in tasks for p in task.read_text().split()]
        began = time.monotonic()
        daemon.kill()
        daemon.wait()
        wait_until(lambda: "release 0" in read(cameras), timeout=5, what="the camera released")
        wait_until(lambda: exited(pid), timeout=5, what="the worker gone")
        assert time.monotonic() - began < 5
        assert read(cameras).splitlines() == ["open 0 live", "release 0"]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
