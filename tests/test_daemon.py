"""The daemon: real faces on video as the camera, the real model and MediaPipe, real audio.

Only the webcam is replaced: a video file, or a scripted capture through camera.Camera's
opener where a test needs a busy camera or a live (real-time) one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.commands.run import apply_overrides
from emusify.config import Config, parse_config
from emusify.daemon import COMMANDS, CommandError, Daemon, MoodChecker, Schedule
from emusify.errors import EmusifyError
from emusify.history import History
from emusify.music.jukebox import Jukebox
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.landmarks import LandmarkExtractor
from emusify.sensing.recognizer import Recognizer

ASSETS = Path(__file__).parent / "assets"
HAPPY = ASSETS / "happy_faces.mp4"
SAD = ASSETS / "sad_faces.mp4"
#: Pitches of the generated tracks, one per mood folder, so the audio says which folder played.
PITCH = {"happy": 880.0, "sad": 220.0, "calm": 440.0}


@pytest.fixture(scope="module")
def recognizer() -> Iterator[Recognizer]:
    """Loaded once for the module, as the daemon loads it once at start."""
    with LandmarkExtractor() as extractor:
        yield Recognizer(EmotionModel.load("default"), extractor)


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
    return parse_config(
        {
            "camera": {"source": source},
            "decision": {"min_share": min_share},
            "schedule": {
                "interval_minutes": 1 / 60,
                "window_seconds": 8,
                "sample_fps": 4,
                "check_at_start": True,
                **schedule,
            },
            "music": {"songs_root": str(songs), "fade_seconds": 0.2},
        }
    )


class Harness:
    def __init__(self, daemon: Daemon, history: History, captures: list):
        self.daemon = daemon
        self.history = history
        self.captures = captures

    def reopened_history(self) -> History:
        """The history as the next start reads it (the daemon closes its own on quit)."""
        return History(self.history.path)

    def wait_for(self, predicate: Callable, timeout: float = 30.0, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.daemon.status()
            if predicate(status):
                return status
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what or predicate}: {self.daemon.status()}")


@pytest.fixture
def start(tmp_path, disk_audio, recognizer) -> Iterator[Callable[..., Harness]]:
    """Start a daemon; ``openers`` (one per window, the last repeats) replace the webcam."""
    running: list[Daemon] = []

    def go(cfg: Config, openers: list[Callable] | None = None) -> Harness:
        captures: list = []

        def opener(source):
            pick = openers[min(len(captures), len(openers) - 1)] if openers else cv2.VideoCapture
            cap = pick(source)
            captures.append(cap)
            return cap

        schedule = Schedule.from_config(cfg)
        history = History(tmp_path / "history.sqlite3")
        checker = MoodChecker(recognizer, cfg, schedule, opener=opener)
        daemon = Daemon(checker, Jukebox(cfg, history), history, schedule, fade_seconds=0.2)
        running.append(daemon.start())
        return Harness(daemon, history, captures)

    yield go
    for daemon in running:
        daemon.request_stop()
        assert daemon.wait(5), "the daemon did not stop"


class Tracked:
    """A real capture that records whether it was released."""

    def __init__(self, inner):
        self.inner = inner
        self.released = False

    def isOpened(self):
        return self.inner.isOpened()

    def read(self):
        return self.inner.read()

    def grab(self):
        return self.inner.grab()

    def get(self, prop):
        return self.inner.get(prop)

    def set(self, prop, value):
        return self.inner.set(prop, value)

    def release(self):
        self.released = True
        self.inner.release()


class Busy(Tracked):
    """A webcam another program holds: it does not open."""

    def __init__(self, _source=None):
        super().__init__(None)

    def isOpened(self):
        return False

    def release(self):
        self.released = True


class LiveLoop(Tracked):
    """A webcam: the happy faces in real time, looping, as a device index would deliver them."""

    def __init__(self, _source=None):
        super().__init__(cv2.VideoCapture(str(HAPPY)))

    def read(self):
        time.sleep(0.05)
        ok, image = self.inner.read()
        if not ok:
            self.inner.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self.inner.read()
        return ok, image


def test_a_window_of_happy_faces_plays_the_happy_folder(start, songs, disk_audio):
    h = start(make_config(songs, interval_minutes=60))
    status = h.wait_for(lambda s: s.music.get("state") == "playing", what="music")
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
    h = start(make_config(songs), openers=[cv2.VideoCapture, lambda _s: cv2.VideoCapture(str(SAD))])
    h.wait_for(lambda s: s.mood == "happy", what="happy")
    status = h.wait_for(lambda s: s.mood == "sad", what="sad")
    assert [w.emotion for w in h.history.windows()][:2] == ["happy", "sad"]
    assert status.last_outcome == "mood"


def test_a_window_without_a_face_leaves_the_mood_and_the_music(start, songs, blank_video):
    h = start(
        make_config(songs),
        openers=[cv2.VideoCapture, lambda _s: cv2.VideoCapture(str(blank_video))],
    )
    playing = h.wait_for(lambda s: s.music.get("state") == "playing", what="music")
    status = h.wait_for(lambda s: s.last_outcome == "no_face", what="no face window")
    assert status.mood == "happy", "the last decided mood still holds"
    assert status.music["path"] == playing.music["path"]
    assert status.music["state"] == "playing"
    assert h.history.windows()[-1].outcome == "no_face"


def test_an_uncertain_window_decides_nothing(start, songs):
    """The happy clip wins about 70 % of its frames: not enough when 95 % are asked for."""
    h = start(make_config(songs, min_share=0.95, interval_minutes=60))
    status = h.wait_for(lambda s: s.last_outcome is not None, what="the first window")
    assert status.last_outcome == "uncertain"
    assert status.mood is None and status.music["state"] == "stopped"
    (window,) = h.history.windows()
    assert window.outcome == "uncertain" and window.emotion is None


def test_a_busy_camera_is_shown_and_retried_at_the_next_check(start, songs):
    h = start(make_config(songs, source=0, window_seconds=3), openers=[Busy, LiveLoop])
    status = h.wait_for(lambda s: s.camera == "unavailable", what="camera error")
    assert "missing, busy or not permitted" in status.camera_error
    assert status.last_outcome == "no_camera"
    assert h.captures[0].released
    status = h.wait_for(lambda s: s.mood == "happy", what="recovery at the next check")
    assert status.camera != "unavailable" and status.camera_error is None
    assert h.history.windows()[0].outcome == "no_camera"


def test_a_missing_video_file_is_a_camera_error_not_a_crash(start, songs, tmp_path):
    h = start(make_config(songs, source=str(tmp_path / "gone.mp4")))
    status = h.wait_for(lambda s: s.camera == "unavailable", what="camera error")
    assert "no such file" in status.camera_error
    assert h.daemon.command("status").camera == "unavailable"


def test_check_now_runs_a_window_at_once(start, songs):
    h = start(make_config(songs, interval_minutes=60, check_at_start=False))
    time.sleep(0.5)
    assert h.daemon.status().last_outcome is None
    assert h.daemon.status().next_check > time.time() + 3000
    assert h.daemon.command("check").checking
    with pytest.raises(CommandError, match="already running"):
        h.daemon.command("check")
    h.wait_for(lambda s: s.mood == "happy", what="mood after check now")


def test_pausing_checks_mid_window_releases_the_camera_at_once(start, songs):
    h = start(make_config(songs, source=0, window_seconds=30), openers=[LiveLoop])
    h.wait_for(lambda s: s.camera == "open", what="window under way")
    time.sleep(1.0)
    began = time.monotonic()
    status = h.daemon.command("pause-checks")
    assert status.checks_paused and status.next_check is None
    h.wait_for(lambda s: s.camera == "closed", timeout=2, what="camera released")
    assert time.monotonic() - began < 1.5
    assert h.captures[0].released
    assert h.history.windows() == [], "a cut-short window decides nothing"
    time.sleep(1.5)
    assert len(h.captures) == 1, "no check while paused"
    status = h.daemon.command("resume-checks")
    assert not status.checks_paused
    h.wait_for(lambda s: s.camera == "open", what="a check right after resuming")


def test_music_commands_reach_the_jukebox(start, songs):
    h = start(make_config(songs, interval_minutes=60))
    h.wait_for(lambda s: s.music.get("state") == "playing", what="music")
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
    h.wait_for(lambda s: s.music.get("state") == "playing", what="music")
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
