"""The camera: missing at a check, or unplugged in the middle of a window. The check's worker
reports it, the camera is released, the daemon goes on and the next check works."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from emusify.config import parse_config
from emusify.daemon import Daemon, Schedule, worker_checker
from emusify.history import History
from emusify.music.jukebox import Jukebox

TESTS = Path(__file__).parent.parent
HAPPY = TESTS / "assets" / "happy_faces.mp4"


@pytest.fixture
def daemon_with_cameras(tmp_path, songs):
    """An in-process daemon whose check workers get the scripted cameras named."""
    started: list[Daemon] = []

    def start(cameras: list[str]) -> tuple[Daemon, Path]:
        cfg = parse_config(
            {
                "camera": {"source": 0},
                "schedule": {"interval_minutes": 60, "window_seconds": 4},
                "decision": {"min_face_frames": 4},
                "music": {"songs_root": str(songs), "fade_seconds": 0.1},
            }
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
        env["EMUSIFY_TEST_CAMERAS"] = ",".join(cameras)
        env["EMUSIFY_TEST_CAMERA_LOG"] = str(tmp_path / "cameras.log")
        schedule = Schedule.from_config(cfg)
        history = History(tmp_path / "history.sqlite3")
        checker = worker_checker(cfg, schedule, opener="worker_cameras:scripted", env=env)
        daemon = Daemon(checker, Jukebox(cfg, history), history, schedule, fade_seconds=0.1)
        started.append(daemon.start())
        return daemon, tmp_path / "cameras.log"

    yield start
    for daemon in started:
        daemon.request_stop()
        assert daemon.wait(5)


def wait_for(daemon: Daemon, predicate, timeout: float = 90.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = daemon.status()
        if predicate(status):
            return status
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}: {daemon.status()}")


def test_a_camera_unplugged_mid_window_is_reported_released_and_the_next_check_works(
    disk_audio, daemon_with_cameras
):
    daemon, camera_log = daemon_with_cameras(["unplug:5", f"live:{HAPPY}"])
    status = wait_for(daemon, lambda s: s.camera == "unavailable", what="the camera error")
    assert "stopped delivering frames" in status.camera_error
    assert status.last_outcome == "no_camera"
    assert "release 0" in camera_log.read_text(), "released by the worker on the error"
    daemon.command("check")  # the next check, as the schedule would start it
    status = wait_for(daemon, lambda s: s.mood == "happy", what="the next check")
    assert status.camera_error is None
    assert daemon.history.windows()[0].outcome == "no_camera"


def test_a_camera_missing_at_a_check_is_reported_and_retried(disk_audio, daemon_with_cameras):
    daemon, camera_log = daemon_with_cameras(["busy", f"live:{HAPPY}"])
    status = wait_for(daemon, lambda s: s.camera == "unavailable", what="the camera error")
    assert "missing, busy or not permitted" in status.camera_error
    daemon.command("check")
    status = wait_for(daemon, lambda s: s.mood == "happy", what="the next check")
    log = camera_log.read_text().splitlines()
    assert log.count("release 0") == 1 and "release 1" in log
