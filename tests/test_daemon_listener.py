"""The listener's say in a scripted run: real faces on video in a real worker process, the
real model, real audio through SDL's disk driver, a real history file and control socket.

``emusify ctl mood sad`` makes the sad folder play at once and shows in ``ctl status``; a
correction with learning switched on becomes a sample session that ``emusify samples`` lists,
and none with it off; a like given while sad counts when sad and not when happy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_daemon import PITCH, make_config
from test_daemon import songs as songs  # the fixture
from waiting import wait_for

from emusify import cli, paths
from emusify.config import load_config
from emusify.control import ControlServer
from emusify.daemon import Daemon, Schedule, worker_checker
from emusify.history import History
from emusify.listener import Listener, moods_of
from emusify.music.jukebox import Jukebox
from emusify.sensing.features import FEATURE_SIZE


class Run:
    def __init__(self, daemon: Daemon, history_path: Path):
        self.daemon = daemon
        self.history_path = history_path


def ctl(capsys, *args: str) -> str:
    assert cli.main(["ctl", *args]) == 0
    return capsys.readouterr().out


@pytest.fixture
def run(tmp_path, disk_audio) -> Iterator[Callable[..., Run]]:
    """``emusify run`` as run.py wires it: daemon, listener with the user's config file, and
    the control socket; the camera is a video file of happy faces."""
    started: list[tuple[Daemon, ControlServer]] = []

    def go(songs_root: Path, **listener) -> Run:
        cfg_file = paths.user_config_path()
        load_config()  # the user's copy, as the first run makes it
        cfg = make_config(songs_root, interval_minutes=60)
        if listener:
            from dataclasses import replace

            cfg = replace(cfg, listener=replace(cfg.listener, **listener))
        history_path = tmp_path / "history.sqlite3"
        history = History(history_path)
        schedule = Schedule.from_config(cfg)
        daemon = Daemon(
            worker_checker(cfg, schedule),
            Jukebox(cfg, history),
            history,
            schedule,
            fade_seconds=0.2,
            listener=Listener(cfg.listener, history, config_path=cfg_file, moods=moods_of(cfg)),
        )

        def handle(request: dict) -> dict:
            arg = request.get("arg")
            return daemon.command(str(request["cmd"]), None if arg is None else str(arg)).to_dict()

        server = ControlServer(handle).start()
        started.append((daemon.start(), server))
        return Run(daemon, history_path)

    yield go
    for daemon, server in started:
        daemon.request_stop()
        assert daemon.wait(5), "the daemon did not stop"
        server.stop()


def playing(folder: str) -> Callable:
    return lambda s: s.music.get("state") == "playing" and s.music.get("folder") == folder


@pytest.mark.slow
def test_ctl_mood_sad_plays_the_sad_folder_at_once_and_shows_in_status(
    run, songs, disk_audio, capsys
):
    r = run(songs)
    wait_for(r.daemon.status, playing("happy"), what="the happy folder after the first check")
    assert "Mood: sad (set by hand until" in ctl(capsys, "mood", "sad")
    wait_for(r.daemon.status, playing("sad"), timeout=3, what="the sad folder at once")
    time.sleep(1.0)
    end = len(disk_audio.samples()) / disk_audio.rate
    assert disk_audio.pitch(end - 0.5, end) == pytest.approx(PITCH["sad"], abs=10)

    status = json.loads(ctl(capsys, "status", "--json"))
    assert (status["mood"], status["mood_source"]) == ("sad", "manual")
    assert status["mood_until"] == pytest.approx(time.time() + 3600, abs=30)
    assert status["mood_until_iso"] and status["learn_from_corrections"] is False
    assert "sad (set by hand until" in ctl(capsys, "status")

    # A check while the hand-set mood holds is recorded, and the music stays sad.
    ctl(capsys, "check")
    wait_for(
        r.daemon.status, lambda s: not s.checking and len(History(r.history_path).windows()) == 2
    )
    assert r.daemon.status().mood == "sad" and r.daemon.status().music["folder"] == "sad"

    # A like given while sad counts when sad, and not when happy.
    liked = r.daemon.status().music["path"]
    ctl(capsys, "like")
    assert r.daemon.jukebox.ratings_for("sad") == {liked: 1}
    assert r.daemon.jukebox.ratings_for("happy") == {}

    # auto: a check now, and its mood rules again.
    ctl(capsys, "mood", "auto")
    status = wait_for(
        r.daemon.status, lambda s: s.mood_source == "check", what="the checks to decide"
    )
    assert status.mood == "happy" and status.mood_until is None
    with History(r.history_path) as h:
        assert [m.emotion for m in h.moods_set()] == ["sad", None]
        assert [(x.rating, x.emotion) for x in h.rating_rows()] == [(1, "sad")]
        # The first check read happy; "sad" came at once after it: a correction.
        [correction] = h.corrections()
        assert (correction.read, correction.emotion) == ("happy", "sad")
        assert correction.window_id == h.windows()[0].id


@pytest.mark.slow
def test_a_correction_with_learning_on_is_a_sample_session_and_none_when_off(run, songs, capsys):
    r = run(songs)
    wait_for(r.daemon.status, lambda s: s.mood == "happy", what="the first check")
    ctl(capsys, "mood", "sad")  # learning is off by default
    assert not list(paths.samples_dir().rglob("*.npz"))
    with History(r.history_path) as h:
        assert h.corrections()[0].sample_file is None

    assert "Learning from corrections is on." in ctl(capsys, "learn", "on")
    assert load_config().listener.learn_from_corrections is True  # kept for the next start
    ctl(capsys, "mood", "auto")
    wait_for(
        r.daemon.status,
        lambda s: s.mood_source == "check" and s.mood == "happy",
        what="a new check",
    )
    rows = len(r.daemon.last_result.features)  # every view of each face frame
    ctl(capsys, "mood", "neutral")
    [session] = list(paths.samples_dir().rglob("*.npz"))
    assert session.parent.name == "neutral"
    with History(r.history_path) as h:
        assert h.corrections()[-1].sample_file == str(session)

    listing = ctl(capsys, "status")  # still running; then the listing of samples
    assert cli.main(["samples", "--sessions"]) == 0
    listing = capsys.readouterr().out
    assert f"neutral        {rows:>7}         1" in listing or "neutral" in listing
    assert f"{rows} samples in 1 session(s)" in listing
    assert "correction: the check at" in listing

    from emusify.learning.samples import read_session
    from emusify.sensing.features import FEATURE_VERSION

    data = read_session(session, feature_version=FEATURE_VERSION, feature_size=FEATURE_SIZE)
    assert data.features.shape == (rows, FEATURE_SIZE)
    assert (data.features == r.daemon.last_result.features).all()


@pytest.mark.slow
def test_the_next_track_starts_when_one_ends(run, tmp_path, make_tone, disk_audio):
    """The scheduler sleeps until the jukebox's wake-up and then ticks it: a track that has
    just ended must not push that wake-up away again (it reports its whole length left)."""
    root = tmp_path / "short-songs"
    for folder in ("happy", "calm", "sad"):
        for n in range(3):
            make_tone(root / folder / f"{folder}-{n}.wav", 440, 1.5)
    r = run(root)
    wait_for(r.daemon.status, playing("happy"), what="the first track")
    time.sleep(5)
    with History(r.history_path) as h:
        plays = h.plays()
    assert len(plays) >= 3, plays
    assert all(p.ended == "finished" for p in plays[:-1])


def test_the_daemon_side_never_loads_matplotlib_or_tensorflow():
    """The report is drawn and models are trained in other processes."""
    code = (
        "import sys, emusify.daemon, emusify.listener, emusify.commands.run, "
        "emusify.desktop.tray, emusify.commands.ctl\n"
        "heavy = ('matplotlib', 'tensorflow', 'keras', 'cv2', 'mediapipe')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
