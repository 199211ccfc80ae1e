"""Moods set by hand, corrections and learning from them, with a real history and samples."""

from __future__ import annotations

import numpy as np
import pytest

from emusify import cli, paths
from emusify.config import ListenerConfig, load_config
from emusify.errors import EmusifyError
from emusify.history import History
from emusify.learning import samples
from emusify.listener import CheckSeen, Listener
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION


class Wall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.sqlite3") as h:
        yield h


def check(history: History, wall: Wall, emotion: str = "happy", frames: int = 30) -> CheckSeen:
    window = history.record_window("mood", emotion, 0.7, 0.8, frames, 32, at=wall.now)
    rows = np.random.default_rng(0).normal(size=(frames, FEATURE_SIZE)).astype(np.float32)
    return CheckSeen(window, emotion, wall.now, rows, FEATURE_VERSION)


def make(history, wall, **cfg) -> Listener:
    return Listener(ListenerConfig(**cfg), history, wall_clock=wall)


def test_a_mood_set_soon_after_a_check_is_a_correction_kept_as_samples(history, capsys):
    wall = Wall()
    listener = make(history, wall, learn_from_corrections=True)
    seen = check(history, wall)
    listener.saw_check(seen)
    wall.now += 120
    correction = listener.set_mood("sad")
    assert correction is not None and (correction.read, correction.emotion) == ("happy", "sad")
    [row] = history.corrections()
    assert (row.window_id, row.read, row.emotion) == (seen.window_id, "happy", "sad")
    assert row.sample_file == str(correction.sample_file)
    session = samples.read_session(correction.sample_file, feature_version=FEATURE_VERSION)
    assert session.info.emotion == "sad" and session.info.count == 30
    np.testing.assert_array_equal(session.features, seen.features)
    assert "correction: the check at" in session.info.source
    assert cli.main(["samples"]) == 0
    listing = capsys.readouterr().out
    assert "sad" in listing and "30 samples in 1 session(s)" in listing


def test_with_learning_off_the_correction_is_recorded_and_nothing_is_kept(history):
    wall = Wall()
    listener = make(history, wall)
    listener.saw_check(check(history, wall))
    wall.now += 60
    assert listener.set_mood("sad").sample_file is None
    assert history.corrections()[0].sample_file is None
    assert not paths.samples_dir().exists() or not any(paths.samples_dir().rglob("*.npz"))


def test_only_a_different_mood_soon_after_a_check_is_a_correction(history):
    wall = Wall()
    listener = make(history, wall, correction_minutes=10, learn_from_corrections=True)
    listener.saw_check(check(history, wall, "sad"))
    assert listener.set_mood("sad") is None  # agrees with the check
    listener.saw_check(check(history, wall, "happy"))
    wall.now += 10 * 60 + 1
    assert listener.set_mood("sad") is None  # too late to be about that check
    assert history.corrections() == []
    assert [m.emotion for m in history.moods_set()] == ["sad", "sad"]


def test_a_hand_set_mood_holds_for_its_time_or_until_auto(history):
    wall = Wall()
    listener = make(history, wall, manual_mood_minutes=30)
    listener.set_mood("sad")
    assert listener.holding() and listener.until == wall.now + 1800
    wall.now += 1799
    assert listener.holding() and listener.seconds_left() == 1
    wall.now += 1
    assert not listener.holding() and listener.until is None
    listener.set_mood("happy")
    listener.auto()
    assert not listener.holding()
    assert [m.emotion for m in history.moods_set()] == ["sad", "happy", None]


def test_switching_learning_is_written_to_the_config_file(history):
    wall = Wall()
    cfg = load_config()  # the user's copy
    before = cfg.path.read_text()
    listener = Listener(cfg.listener, history, config_path=cfg.path, wall_clock=wall)
    listener.set_learn(True)
    assert listener.learn and load_config().listener.learn_from_corrections is True
    assert cfg.path.read_text() == before.replace(
        "learn_from_corrections: false", "learn_from_corrections: true"
    )
    listener.set_learn(False)
    assert cfg.path.read_text() == before


def test_an_unknown_mood_is_refused_with_a_hint(history):
    listener = make(history, Wall())
    with pytest.raises(EmusifyError, match=r"unknown mood 'happpy' \(did you mean 'happy'\?\)"):
        listener.set_mood("happpy")
    assert history.moods_set() == [] and not listener.holding()
