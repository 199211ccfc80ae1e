"""The daemon: real faces on video as the camera, the real model and MediaPipe in a real
worker process per check, real audio.

Only the webcam is replaced: a video file, or a scripted capture (tests/worker_cameras.py) that
the worker opens where a test needs a busy camera, a live (real-time) one or one that kills the
worker mid-window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from waiting import wait_for

from emusify.commands.run import apply_overrides
from emusify.config import Config, parse_config
from emusify.control import ControlClient, ControlServer
from emusify.daemon import COMMANDS, CommandError, Daemon, Schedule, worker_checker
from emusify.errors import EmusifyError
from emusify.history import History
from emusify.music.jukebox import Jukebox
from emusify.sensing.features import FEATURE_SIZE

TESTS = Path(__file__).parent
ASSETS = TESTS / "assets"
HAPPY = ASSETS / "happy_faces.mp4"
SAD = ASSETS / "sad_faces.mp4"
#: Pitches of the generated tracks, one per mood folder, so the audio says which folder played.
PITCH = {"happy": 880.0, "sad": 220.0, "calm": 440.0}


@pytest.fixture
def songs(tmp_path: Path, make_tone) -> Path:
    root = tmp_path / "songs"
    for folder, hz in PITCH.items():
        for n in range(3):
            make_tone(root / folder / f"{folder}-{n}.wav", hz, 20.0)
    return root


@pytest.fixture
def blank_video(tmp_path: Path) -> Path:
    """A real video file with nobody in it: a grey wall with some noise."""
    path = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write((120 + rng.integers(0, 20, (240, 320, 3))).astype(np.uint8))
    writer.release()
    return path


def make_config(
    songs: Path, source: int | str = str(HAPPY), min_share: float = 0.4, **schedule
) -> Config:
    window = schedule.get("window_seconds", 8)
    return parse_config(
        {
            "camera": {"source": source},
            "decision": {"min_share": min_share},
            "schedule": {
                "interval_minutes": window / 60,  # back-to-back windows
                "window_seconds": window,
                "sample_fps": 4,
                "check_at_start": True,
                **schedule,
            },
            "music": {"songs_root": str(songs), "fade_seconds": 0.2},
        }
    )


class Harness:
    def __init__(self, daemon: Daemon, history: History, camera_log: Path):
        self.daemon = daemon
        self.history = history
        self.camera_log = camera_log

    def reopened_history(self) -> History:
        """The history as the next start reads it (the daemon closes its own on quit)."""
        return History(self.history.path)

    def cameras(self) -> list[str]:
        """What the scripted cameras did in the workers: "open N kind", "release N"."""
        return self.camera_log.read_text().splitlines() if self.camera_log.exists() else []


def worker_env(tmp_path: Path, cameras: list[str]) -> dict[str, str]:
    """The worker's environment: this folder importable, the scripted cameras in order."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["EMUSIFY_TEST_CAMERAS"] = ",".join(cameras)
    env["EMUSIFY_TEST_CAMERA_LOG"] = str(tmp_path / "cameras.log")
    return env


@pytest.fixture
def start(tmp_path, disk_audio) -> Iterator[Callable[..., Harness]]:
    """Start a daemon; ``cameras`` (see tests/worker_cameras.py) replace the webcam."""
    running: list[Daemon] = []

    def go(cfg: Config, cameras: list[str] | None = None) -> Harness:
        schedule = Schedule.from_config(cfg)
        history = History(tmp_path / "history.sqlite3")
        if cameras:
            checker = worker_checker(
                cfg, schedule, opener="worker_cameras:scripted", env=worker_env(tmp_path, cameras)
            )
        else:
            checker = worker_checker(cfg, schedule)
        daemon = Daemon(checker, Jukebox(cfg, history), history, schedule, fade_seconds=0.2)
        running.append(daemon.start())
        return Harness(daemon, history, tmp_path / "cameras.log")

    yield go
    for daemon in running:
        daemon.request_stop()
        assert daemon.wait(5), "the daemon did not stop"


def test_a_window_of_happy_faces_plays_the_happy_folder(start, songs, disk_audio):
    h = start(make_config(songs, interval_minutes=60))
    status = wait_for(h.daemon.status, lambda s: s.music.get("state") == "playing", what="music")
    assert status.mood == "happy"
    assert status.last_outcome == "mood"
    assert 0 < status.confidence <= 1 and status.share >= 0.4
    assert status.music["folder"] == "happy"
    assert status.camera == "closed"
    (window,) = h.history.windows()
    assert (window.outcome, window.emotion) == ("mood", "happy")
    assert window.face_frames >= 8
    time.sleep(1.0)
    end = len(disk_audio.samples()) / disk_audio.rate
    assert disk_audio.levels()[-10:].mean() > 0.05, "audible, not silence"
    assert disk_audio.pitch(end - 0.5, end) == pytest.approx(PITCH["happy"], abs=10)


def test_a_sad_window_after_a_happy_one_changes_the_mood(start, songs):
    h = start(make_config(songs), cameras=[f"video:{HAPPY}", f"video:{SAD}"])
    wait_for(h.daemon.status, lambda s: s.mood == "happy", what="happy")
    status = wait_for(h.daemon.status, lambda s: s.mood == "sad", what="sad")
    assert [w.emotion for w in h.history.windows()][:2] == ["happy", "sad"]
    assert status.last_outcome == "mood"


def test_a_window_without_a_face_leaves_the_mood_and_the_music(start, songs, blank_video):
    h = start(make_config(songs), cameras=[f"video:{HAPPY}", f"video:{blank_video}"])
    playing = wait_for(h.daemon.status, lambda s: s.music.get("state") == "playing", what="music")
    status = wait_for(h.daemon.status, lambda s: s.last_outcome == "no_face", what="no face window")
    assert status.mood == "happy", "the last decided mood still holds"
    assert status.music["path"] == playing.music["path"]
    assert status.music["state"] == "playing"
    assert h.history.windows()[-1].outcome == "no_face"


def test_an_uncertain_window_decides_nothing(start, songs):
    """The happy clip wins about 70 % of its frames: not enough when 95 % are asked for."""
    h = start(make_config(songs, min_share=0.95, interval_minutes=60))
    status = wait_for(
        h.daemon.status, lambda s: s.last_outcome is not None, what="the first window"
    )
    assert status.last_outcome == "uncertain"
    assert status.mood is None and status.music["state"] == "stopped"
    (window,) = h.history.windows()
    assert window.outcome == "uncertain" and window.emotion is None


def test_a_busy_camera_is_shown_and_retried_at_the_next_check(start, songs):
    h = start(make_config(songs, source=0, window_seconds=3), cameras=["busy", f"live:{HAPPY}"])
    status = wait_for(h.daemon.status, lambda s: s.camera_error is not None, what="camera error")
    assert "missing, busy or not permitted" in status.camera_error
    assert status.last_outcome == "no_camera"
    assert h.cameras()[:2] == ["open 0 busy", "release 0"]
    status = wait_for(
        h.daemon.status, lambda s: s.mood == "happy", what="recovery at the next check"
    )
    assert status.camera != "unavailable" and status.camera_error is None
    assert h.history.windows()[0].outcome == "no_camera"


def test_a_missing_video_file_is_a_camera_error_not_a_crash(start, songs, tmp_path):
    h = start(make_config(songs, source=str(tmp_path / "gone.mp4")))
    status = wait_for(h.daemon.status, lambda s: s.camera_error is not None, what="camera error")
    assert "no such file" in status.camera_error
    assert h.daemon.command("status").last_outcome == "no_camera"


def test_check_now_runs_a_window_at_once(start, songs):
    h = start(make_config(songs, interval_minutes=60, check_at_start=False))
    time.sleep(0.5)
    assert h.daemon.status().last_outcome is None
    assert h.daemon.status().next_check > time.time() + 3000
    assert h.daemon.command("check").checking
    with pytest.raises(CommandError, match="already running"):
        h.daemon.command("check")
    wait_for(h.daemon.status, lambda s: s.mood == "happy", what="mood after check now")


def test_pausing_checks_mid_window_releases_the_camera_at_once(start, songs):
    h = start(make_config(songs, source=0, window_seconds=30), cameras=[f"live:{HAPPY}"])
    wait_for(h.daemon.status, lambda s: s.camera == "open", what="window under way")
    wait_for(h.cameras, lambda c: c == ["open 0 live"], 30, what="the worker's camera open")
    time.sleep(1.0)
    began = time.monotonic()
    status = h.daemon.command("pause-checks")
    assert status.checks_paused and status.next_check is None
    wait_for(h.daemon.status, lambda s: s.camera == "closed", timeout=2, what="camera released")
    assert time.monotonic() - began < 1.5
    assert h.cameras() == ["open 0 live", "release 0"], "the worker released the camera"
    assert h.history.windows() == [], "a cut-short window decides nothing"
    time.sleep(1.5)
    assert len(h.cameras()) == 2, "no check while paused"
    status = h.daemon.command("resume-checks")
    assert not status.checks_paused
    wait_for(h.daemon.status, lambda s: s.camera == "open", what="a check right after resuming")


def test_music_commands_reach_the_jukebox(start, songs):
    h = start(make_config(songs, interval_minutes=60))
    wait_for(h.daemon.status, lambda s: s.music.get("state") == "playing", what="music")
    status = h.daemon.command("pause-music")
    assert status.music_paused and status.music["state"] == "paused"
    status = h.daemon.command("resume-music")
    assert not status.music_paused and status.music["state"] == "playing"
    status = h.daemon.command("pause")
    assert status.checks_paused and status.music_paused
    status = h.daemon.command("resume")
    assert not status.checks_paused and not status.music_paused
    status = h.daemon.command("like")
    assert h.history.ratings() == {status.music["path"]: 1}
    before = status.music["path"]
    status = h.daemon.command("dislike")
    assert h.history.ratings()[before] == -1
    assert status.music["state"] == "playing"
    status = h.daemon.command("skip")
    assert status.music["state"] == "playing"
    assert [p.ended for p in h.history.plays()][:2] == ["skipped", "skipped"]


def test_unknown_commands_are_refused_with_the_list(start, songs):
    h = start(make_config(songs, interval_minutes=60, check_at_start=False))
    with pytest.raises(CommandError, match="unknown command 'dance'; known: status, check"):
        h.daemon.command("dance")
    assert "quit" in COMMANDS


def test_quit_stops_everything_within_three_seconds(start, songs):
    h = start(make_config(songs, interval_minutes=60))
    wait_for(h.daemon.status, lambda s: s.music.get("state") == "playing", what="music")
    began = time.monotonic()
    h.daemon.command("quit")
    assert h.daemon.wait(3.0)
    assert time.monotonic() - began < 3.0
    status = h.daemon.status()
    assert status.music["state"] in ("stopped", "no_audio")
    with h.reopened_history() as history:
        assert history.plays()[-1].ended == "stopped"
    with pytest.raises(CommandError, match="shutting down"):
        h.daemon.command("skip")


def test_schedule_comes_from_the_config():
    cfg = parse_config({"schedule": {"interval_minutes": 2, "window_seconds": 15}})
    assert Schedule.from_config(cfg) == Schedule(120.0, 15.0, 4.0, True)


# --- emusify run's overrides ---------------------------------------------------------------


def overrides(camera=None, interval=None, window=None) -> argparse.Namespace:
    return argparse.Namespace(camera=camera, interval=interval, window=window)


def test_run_overrides_replace_camera_and_schedule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = apply_overrides(parse_config({}), overrides("clip.mp4", 30, 5))
    assert cfg.camera.source == str(tmp_path / "clip.mp4"), "relative to where the user is"
    assert cfg.schedule.interval_minutes == 0.5 and cfg.schedule.window_seconds == 5
    assert apply_overrides(parse_config({}), overrides("2")).camera.source == 2
    assert apply_overrides(parse_config({}), overrides()) == parse_config({})


def test_bad_run_overrides_are_refused_clearly():
    with pytest.raises(EmusifyError, match="--window 0: use a number of seconds from 1 to 300"):
        apply_overrides(parse_config({}), overrides(window=0))
    with pytest.raises(EmusifyError, match="--interval -1: use a number of seconds > 0"):
        apply_overrides(parse_config({}), overrides(interval=-1))


# --- the worker process --------------------------------------------------------------------


def test_a_check_brings_back_numbers_only(start, songs):
    """Per-frame probabilities and feature vectors come back; frames stay in the worker."""
    h = start(make_config(songs, interval_minutes=60))
    wait_for(h.daemon.status, lambda s: s.mood == "happy", what="a decided window")
    result = h.daemon.last_result
    assert result is not None and result.mood.emotion == "happy"
    faces = result.mood.face_frames
    assert result.probs.shape == (faces, len(result.labels))
    # Every view of each face frame (the image, mirrored, reframed, that mirrored).
    assert faces <= len(result.features) <= 4 * faces
    assert result.features.shape[1] == FEATURE_SIZE
    assert result.features.dtype == np.float32 and np.isfinite(result.features).all()
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, atol=1e-4)


def test_a_worker_that_dies_mid_window_is_a_failed_check_and_the_next_one_runs(start, songs):
    """The camera driver aborts the worker process; the daemon reports it over the control
    socket, and the next check (a working camera) decides the mood."""
    h = start(
        # 5 s windows: 20 frames read in four views each, 8 with a face needed, also on a busy
        # machine (3 s windows, 12 frames, fell short once in a full-suite run).
        make_config(songs, source=0, window_seconds=5, interval_minutes=6 / 60),
        cameras=["abort:3", f"live:{HAPPY}"],
    )
    with ControlServer(lambda r: h.daemon.command(str(r["cmd"])).to_dict()):
        client = ControlClient()
        status = wait_for(
            lambda: client.request("status"),
            lambda s: s["last_outcome"] == "recognition_failed",
            what="the failed check over the socket",
        )
        assert "crashed (SIGABRT)" in status["recognition_error"]
        assert status["mood"] is None and status["camera"] != "unavailable"
        wait_for(h.daemon.status, lambda s: s.mood == "happy", what="the next check")
        assert client.request("status")["recognition_error"] is None
    assert h.history.windows()[0].outcome == "recognition_failed"
    assert h.cameras()[0] == "open 0 abort"


def test_a_hung_worker_is_killed_after_its_window_and_grace(start, songs):
    h = start(make_config(songs, source=0, window_seconds=2, interval_minutes=60), cameras=["hang"])
    h.daemon.checker.grace_seconds = 4.0
    began = time.monotonic()
    status = wait_for(
        h.daemon.status, lambda s: s.last_outcome == "recognition_failed", what="kill"
    )
    assert "hung" in status.recognition_error and "killed" in status.recognition_error
    assert time.monotonic() - began < 15
    assert not status.checking and status.camera == "closed"


def test_the_daemon_process_never_loads_a_vision_library(tmp_path, songs, disk_audio):
    """A whole check in a fresh interpreter: the worker loads MediaPipe; the daemon does not."""
    code = f"""
import sys, time
from emusify.config import parse_config
from emusify.daemon import Daemon, Schedule, worker_checker
from emusify.history import History
from emusify.music.jukebox import Jukebox
import emusify.commands.run, emusify.control, emusify.desktop.tray
cfg = parse_config({{"camera": {{"source": {str(HAPPY)!r}}},
                    "schedule": {{"interval_minutes": 60, "window_seconds": 8}},
                    "music": {{"songs_root": {str(songs)!r}}}}})
schedule = Schedule.from_config(cfg)
history = History({str(tmp_path / "h.sqlite3")!r})
daemon = Daemon(worker_checker(cfg, schedule), Jukebox(cfg, history), history, schedule).start()
deadline = time.monotonic() + 60
while daemon.status().last_outcome is None and time.monotonic() < deadline:
    time.sleep(0.1)
print(daemon.status().mood)
daemon.request_stop(); daemon.wait(5)
heavy = ("cv2", "mediapipe", "ai_edge_litert", "tensorflow", "keras")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    assert out[-2:] == ["happy", "[]"]


def test_run_with_a_video_path_that_is_not_utf8_keeps_running(tmp_path, songs):
    """OpenCV would crash on such a path; the daemon says why and keeps serving."""
    bad = os.fsdecode(bytes(tmp_path) + b"/faces-\xff.mp4")
    Path(bad).write_bytes(HAPPY.read_bytes())
    env = {**os.environ, "SDL_AUDIODRIVER": "dummy"}
    cmd = [sys.executable, "-m", "emusify"]
    proc = subprocess.Popen(
        [*cmd, "run", "--no-tray", "--camera", bad, "--interval", "60", "--window", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        status: dict = {}
        while time.monotonic() < deadline and status.get("last_outcome") is None:
            time.sleep(0.3)
            try:
                status = ControlClient().request("status")
            except EmusifyError:
                assert proc.poll() is None, "emusify run ended"
        assert status["last_outcome"] == "no_camera"
        assert "not valid UTF-8" in status["camera_error"]
        assert proc.poll() is None
        assert ControlClient().request("check")["checking"]
    finally:
        subprocess.run([*cmd, "ctl", "quit"], env=env, capture_output=True, timeout=20)
        assert proc.wait(timeout=10) == 0
