"""The tray: which icon and text show the daemon's state, and a real tray under Xvfb + trayer."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from xsession import XSession, start_session, start_tray, wait_icon

from emusify.config import parse_config
from emusify.daemon import Daemon, DaemonStatus, Schedule, worker_checker
from emusify.desktop.tray import (
    MAX_TOOLTIP,
    Actions,
    Tray,
    icon_name,
    mood_text,
    tooltip,
    track_line,
)
from emusify.history import History
from emusify.music.jukebox import Jukebox

IDLE = DaemonStatus(
    mood=None,
    confidence=None,
    share=None,
    last_outcome=None,
    last_check=None,
    next_check=None,
    checking=False,
    checks_paused=False,
    music_paused=False,
    camera="closed",
    camera_error=None,
    recognition_error=None,
    camera_source="0",
    music={"state": "stopped", "title": None, "artist": None},
    pid=1,
)


def status(**changes) -> DaemonStatus:
    return dataclasses.replace(IDLE, **changes)


HAPPY = status(
    mood="happy",
    confidence=0.82,
    share=0.7,
    last_outcome="mood",
    music={"state": "playing", "title": "Sunny Steps", "artist": "Emusify demo"},
)


def test_the_icon_follows_the_mood_and_the_problems():
    assert icon_name(IDLE) == "idle"
    assert icon_name(HAPPY) == "happy"
    assert icon_name(dataclasses.replace(HAPPY, last_outcome="uncertain")) == "happy"
    assert icon_name(dataclasses.replace(HAPPY, last_outcome="no_face")) == "no_face"
    assert icon_name(dataclasses.replace(HAPPY, camera="unavailable")) == "no_camera"
    paused = dataclasses.replace(HAPPY, camera="unavailable", checks_paused=True)
    assert icon_name(paused) == "paused", "paused wins: the camera is not even tried"


def test_the_tooltip_tells_mood_confidence_and_track():
    assert tooltip(HAPPY) == "Emusify: mood happy (82%). Playing: Emusify demo – Sunny Steps"
    assert mood_text(IDLE) == "not known yet"
    assert mood_text(status(camera="unavailable")) == "no camera"
    assert mood_text(dataclasses.replace(HAPPY, checking=True)) == "happy (82%), checking..."
    assert track_line(IDLE) == "Nothing playing"
    assert track_line(status(music={"state": "no_audio"})) == "No audio output"
    paused = dataclasses.replace(HAPPY, music={**HAPPY.music, "state": "paused"})
    assert track_line(paused).startswith("Paused: ")


def test_a_long_tooltip_is_cut_to_what_windows_shows():
    long = dataclasses.replace(HAPPY, music={"state": "playing", "title": "x" * 300})
    text = tooltip(long)
    assert len(text) == MAX_TOOLTIP and text.endswith("...")


# --- a real tray ---------------------------------------------------------------------------


@pytest.fixture
def xsession(tmp_path: Path, monkeypatch) -> Iterator[XSession]:
    session = start_session(tmp_path)
    monkeypatch.setenv("DISPLAY", session.display)
    yield session
    session.stop()


@pytest.fixture
def tray(tmp_path, xsession, monkeypatch, make_tone) -> Iterator[tuple[Daemon, Tray]]:
    """A daemon whose camera is missing (so no model is needed) with its tray running."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    make_tone(tmp_path / "songs" / "calm" / "calm.wav", 440, 5)
    cfg = parse_config(
        {
            "camera": {"source": str(tmp_path / "no-such-camera.mp4")},
            "schedule": {"interval_minutes": 60, "check_at_start": False},
            "music": {"songs_root": str(tmp_path / "songs"), "fade_seconds": 0.1},
        }
    )
    schedule = Schedule.from_config(cfg)
    history = History(tmp_path / "history.sqlite3")
    # The worker's camera never opens: the video file is missing.
    checker = worker_checker(cfg, schedule)
    daemon = Daemon(checker, Jukebox(cfg, history), history, schedule).start()
    front = Tray(daemon, Actions(daemon, cfg.songs_root, None))
    thread = threading.Thread(target=front.run, name="tray-test")
    thread.start()
    yield daemon, front
    daemon.request_stop()
    assert daemon.wait(5)
    thread.join(5)
    assert not thread.is_alive(), "the tray loop ends with the daemon"


def test_the_tray_shows_the_state_and_the_tooltip(xsession, tray):
    daemon, _ = tray
    distances = wait_icon(xsession, "idle")
    assert distances["idle"] < 3, distances  # undistorted: a round face stays round
    daemon.command("check")
    wait_icon(xsession, "no_camera")
    name = xsession.run("xdotool", "getwindowname", xsession.tray_icon()).strip()
    assert name == "Emusify: mood no camera. Nothing playing"
    daemon.command("pause-checks")
    wait_icon(xsession, "paused")


def test_a_click_opens_the_control_window_whose_quit_button_stops_the_daemon(xsession, tray):
    daemon, _ = tray
    x, y, w, h = xsession.geometry(xsession.tray_icon())
    xsession.click(x + w // 2, y + h // 2)
    window = xsession.wait_window("--name", "^Emusify$")
    wx, wy, ww, wh = xsession.geometry(window)
    assert ww > 200 and wh > 100
    # A second click raises the same window instead of opening another.
    xsession.click(x + w // 2, y + h // 2)
    assert xsession.windows("--name", "^Emusify$") == [window]
    # "Quit" is the last button: bottom right of the centred button grid.
    xsession.click(wx + ww // 2 + 150, wy + wh - 16)
    assert daemon.wait(5), "the window's Quit button stops the daemon"


def test_the_menu_offers_every_action_for_trays_that_show_menus(xsession, tray):
    """pystray's X backend shows no menu, but AppIndicator/GTK/Windows/macOS trays do."""
    import pystray

    daemon, front = tray
    menu = front._menu(pystray)
    items = {item.text: item for item in menu.items if item is not pystray.Menu.SEPARATOR}
    assert list(items) == [
        "Open controls",
        "Mood: not known yet",
        "Nothing playing",
        "Check mood now",
        "Pause mood checks",
        "Pause music",
        "Skip",
        "Like",
        "Dislike",
        "I feel ...",
        "Learn from my corrections",
        "Open report",
        "Open songs folder",
        "Open config file",
        "Quit",
    ]
    assert items["Open controls"].default
    assert not items["Open config file"].enabled, "no config file was given"
    items["Pause mood checks"](None)
    deadline = time.monotonic() + 5
    while not daemon.status().checks_paused and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon.status().checks_paused
    assert items["Pause mood checks"].checked
    assert menu.items[1].text == "Mood: mood checks paused"


def test_a_tray_that_starts_after_emusify_still_gets_the_icon(tmp_path, monkeypatch, caplog):
    """At login the panel may come up after Emusify: the icon must dock once it is there."""
    session = start_session(tmp_path, tray=False)
    try:
        monkeypatch.setenv("DISPLAY", session.display)
        monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
        cfg = parse_config({"schedule": {"check_at_start": False}})
        history = History(tmp_path / "history.sqlite3")
        schedule = Schedule.from_config(cfg)
        daemon = Daemon(worker_checker(cfg, schedule), Jukebox(cfg, history), history, schedule)
        daemon.start()
        thread = threading.Thread(
            target=Tray(daemon, Actions(daemon, tmp_path, None)).run, name="tray-test"
        )
        thread.start()
        time.sleep(1.0)
        assert session.windows("--classname", "^emusifySystemTrayIcon$") == []
        assert "No system tray on this display (yet)" in caplog.text
        assert "Failed to dock icon" not in caplog.text, "one line from us, not pystray's error"
        start_tray(session)
        wait_icon(session, "idle", timeout=15)
        daemon.request_stop()
        assert daemon.wait(5)
        thread.join(5)
        assert not thread.is_alive()
    finally:
        session.stop()


def _shown(front: Tray, predicate, timeout: float = 10.0) -> dict:
    """What the control window shows (plain text per widget), once ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        shown = front._window.shown
        if shown and predicate(shown):
            return shown
        assert time.monotonic() < deadline, f"timed out; the window shows {shown}"
        time.sleep(0.1)


def test_the_window_without_audio_wraps_words_disables_music_and_answers(
    tmp_path, xsession, monkeypatch, make_tone
):
    """No audio device: Skip, Like, Dislike and Pause music are off, the long audio error wraps
    between words, and "Songs folder" without xdg-open says where the folder is."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "alsa")
    monkeypatch.setenv("AUDIODEV", "hw:9,0")  # no such sound card
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no xdg-open
    make_tone(tmp_path / "songs" / "calm" / "calm.wav", 440, 5)
    cfg = parse_config(
        {
            "camera": {"source": str(tmp_path / "no-such-camera.mp4")},
            "schedule": {"interval_minutes": 60, "check_at_start": False},
            "music": {"songs_root": str(tmp_path / "songs"), "fade_seconds": 0.1},
        }
    )
    schedule = Schedule.from_config(cfg)
    history = History(tmp_path / "history.sqlite3")
    checker = worker_checker(cfg, schedule)
    daemon = Daemon(checker, Jukebox(cfg, history), history, schedule).start()
    front = Tray(daemon, Actions(daemon, cfg.songs_root, None))
    thread = threading.Thread(target=front.run, name="tray-test")
    thread.start()
    try:
        assert daemon.status().music["state"] == "no_audio"
        front._window.open()
        music = ("Skip", "Like", "Dislike", "Pause music")
        shown = _shown(front, lambda s: all(s[b]["state"] == "disabled" for b in music))
        assert shown["Check mood now"]["state"] == "normal"
        audio = shown["value:Audio"]
        assert int(audio["wraplength"]) > 0 and len(audio["text"]) > 60, audio
        # What the "Songs folder" button does:
        front._window.tell(front.actions.open_songs())
        said = _shown(front, lambda s: "Songs folder:" in s["message"]["text"])["message"]["text"]
        assert "no xdg-open" in said and str(tmp_path / "songs") in said
    finally:
        daemon.request_stop()
        assert daemon.wait(5)
        thread.join(5)


def test_a_like_is_answered_in_the_window(xsession, tray):
    _, front = tray
    front._window.open()
    _shown(front, lambda s: s["message"]["text"] == "")
    front.actions.send("like", front._window.tell)  # what the Like button does
    _shown(front, lambda s: s["message"]["text"].startswith("Liked: "))


def test_x_window_names_write_typography_plainly():
    from emusify.desktop.tray import _latin1

    assert _latin1("Emusify: Artist – Title “live”…") == 'Emusify: Artist - Title "live"...'


def test_i_feel_sets_the_mood_by_hand_and_learning_toggles(xsession, tray):
    import pystray

    daemon, front = tray
    menu = front._menu(pystray)
    items = {item.text: item for item in menu.items if item is not pystray.Menu.SEPARATOR}
    sub = items["I feel ..."].submenu.items
    feel = {i.text: i for i in sub if i is not pystray.Menu.SEPARATOR}
    assert list(feel) == [*front.actions.moods, "Let the checks decide"]
    feel["sad"](None)
    deadline = time.monotonic() + 5
    while daemon.status().mood != "sad" and time.monotonic() < deadline:
        time.sleep(0.05)
    status = daemon.status()
    assert (status.mood, status.mood_source) == ("sad", "manual")
    assert feel["sad"].checked and not feel["happy"].checked
    assert menu.items[1].text.startswith("Mood: sad (set by hand until ")
    assert not items["Learn from my corrections"].checked
    items["Learn from my corrections"](None)
    while not daemon.status().learn_from_corrections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert items["Learn from my corrections"].checked
    feel["Let the checks decide"](None)
    while daemon.status().mood_until is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not feel["sad"].checked
