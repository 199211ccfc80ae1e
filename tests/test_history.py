"""The history database keeps every window, play and rating, across restarts and threads."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from emusify import paths
from emusify.errors import DataError
from emusify.history import SCHEMA_VERSION, History, PlayRow, WindowRow


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    return paths.history_path()


def test_a_new_history_is_a_wal_database_with_a_schema_version(db_path):
    History(db_path).close()
    assert db_path.parent.is_dir()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"windows", "plays", "ratings"} <= tables


def test_windows_plays_and_ratings_survive_a_restart(db_path):
    with History(db_path) as h:
        h.record_window("mood", "sad", 0.6, 0.71, 60, 80, at=100.0)
        h.record_window("no_face", None, None, None, 2, 80, at=400.0)
        first = h.record_play("/songs/sad/a.ogg", "sad", "sad", at=101.0)
        h.end_play(first, "finished", at=130.0)
        second = h.record_play("/songs/sad/b.ogg", "sad", "sad", at=130.5)
        h.rate("/songs/sad/a.ogg", 1, at=120.0)

    with History(db_path) as h:
        assert h.windows() == [
            WindowRow(100.0, "mood", "sad", 0.6, 0.71, 60, 80),
            WindowRow(400.0, "no_face", None, None, None, 2, 80),
        ]
        assert h.windows(since=200) == [WindowRow(400.0, "no_face", None, None, None, 2, 80)]
        assert h.plays() == [
            PlayRow(first, 101.0, "/songs/sad/a.ogg", "sad", "sad", "finished", 130.0),
            # the program stopped during this track: the play is kept, its ending unknown
            PlayRow(second, 130.5, "/songs/sad/b.ogg", "sad", "sad", None, None),
        ]
        assert h.ratings() == {"/songs/sad/a.ogg": 1}


def test_the_latest_rating_counts_and_earlier_ones_are_kept(db_path):
    with History(db_path) as h:
        h.rate("/a.ogg", 1)
        h.rate("/b.ogg", -1)
        h.rate("/a.ogg", -1)
        assert h.ratings() == {"/a.ogg": -1, "/b.ogg": -1}
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 3


def test_a_play_ending_is_written_once(db_path):
    with History(db_path) as h:
        play = h.record_play("/a.ogg", "happy", "happy")
        h.end_play(play, "skipped")
        h.end_play(play, "finished")
        assert h.plays()[0].ended == "skipped"


def test_bad_values_are_refused_with_a_clear_message(db_path):
    with History(db_path) as h:
        with pytest.raises(ValueError, match=r"rating must be \+1 or -1, not 0"):
            h.rate("/a.ogg", 0)
        with pytest.raises(ValueError, match="ended must be one of finished, skipped"):
            h.end_play(1, "exploded")
        assert h.ratings() == {}


def test_writes_from_many_threads_all_arrive(db_path):
    h = History(db_path)

    def work(n: int) -> None:
        for i in range(100):
            h.record_window("mood", "happy", 0.5, 0.5, i, 100)
            h.end_play(h.record_play(f"/t{n}/{i}.ogg", "happy", "happy"), "finished")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(h.windows()) == 400
    plays = h.plays()
    assert len(plays) == 400 and {p.ended for p in plays} == {"finished"}
    h.close()


def test_a_reader_sees_the_history_while_it_is_being_written(db_path):
    with History(db_path) as h:
        h.record_window("mood", "calm", 0.5, 0.5, 10, 20)
        reader = sqlite3.connect(db_path, timeout=0.1)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM windows").fetchone()[0] == 1
        h.record_window("mood", "calm", 0.5, 0.5, 10, 20)  # not blocked by the open read
        reader.rollback()
        assert reader.execute("SELECT COUNT(*) FROM windows").fetchone()[0] == 2


def test_an_unreadable_file_is_kept_aside_not_overwritten(db_path, caplog):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, but it is someone's data" * 100)
    with History(db_path) as h:
        h.record_window("mood", "happy", 1.0, 0.9, 5, 5)
        assert len(h.windows()) == 1
    aside = list(db_path.parent.glob("history.sqlite3.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"this is not a database")
    assert "moved it to" in caplog.text


def test_a_history_from_a_newer_version_is_left_alone(db_path):
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    before = db_path.read_bytes()
    with pytest.raises(DataError, match="written by a newer Emusify"):
        History(db_path)
    assert db_path.read_bytes() == before
