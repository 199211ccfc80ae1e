"""The history database keeps every window, play and rating, across restarts and threads."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from emusify import paths
from emusify.errors import DataError
from emusify.history import (
    SCHEMA_VERSION,
    CorrectionRow,
    History,
    MoodSetRow,
    PlayRow,
    WindowRow,
)


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
    aside = list(db_path.parent.glob("history.sqlite3.damaged-*"))
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


# --- robustness: locks waited for, damage set aside, nothing dropped, private files --------


def test_the_history_is_readable_by_the_user_only(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.parent.chmod(0o755)  # as an older version left it
    with History(db_path) as h:
        h.record_window("mood", "happy", 1.0, 0.9, 5, 5)
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE(Path(f"{db_path}{suffix}").stat().st_mode) == 0o600, suffix
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_an_old_world_readable_history_is_made_private(db_path):
    History(db_path).close()
    db_path.chmod(0o644)
    History(db_path).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_while_another_program_holds_the_lock_writes_wait_and_nothing_is_dropped(db_path):
    with History(db_path) as h:
        h.record_window("mood", "happy", 1.0, 0.9, 5, 5, at=1.0)
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # e.g. a backup tool or an open sqlite3 shell
        began = time.monotonic()
        stand_in = h.record_play("/a.ogg", "happy", "happy", at=2.0)
        assert time.monotonic() - began >= 1.5, "it waited for the lock first"
        assert stand_in < 0 and h.pending == 1
        assert "locked by another program" in h.problem
        h.end_play(stand_in, "finished", at=3.0)
        h.record_window("mood", "sad", 1.0, 0.9, 5, 5, at=4.0)
        assert h.pending == 3
        other.execute("COMMIT")
        h.rate("/a.ogg", 1, at=5.0)  # the next write takes everything waiting with it
        assert h.pending == 0 and h.problem is None
        assert [w.emotion for w in h.windows()] == ["happy", "sad"]
        [play] = h.plays()
        assert (play.path, play.ended, play.ended_time) == ("/a.ogg", "finished", 3.0)
        assert h.ratings() == {"/a.ogg": 1}


def first_rows_page(db_path: Path) -> int:
    """The file offset two pages past the last table's or index's root page: the windows rows
    on the pages before it stay readable, whatever tables the schema has."""
    raw = sqlite3.connect(db_path)
    last_root = raw.execute("SELECT MAX(rootpage) FROM sqlite_master").fetchone()[0]
    raw.close()
    return 4096 * (last_root + 2)


def damage_the_windows_pages(db_path: Path, h: History) -> None:
    """Overwrite the pages that hold the windows rows, under an open history."""
    size = db_path.stat().st_size
    start = first_rows_page(db_path)
    with open(db_path, "r+b") as f:
        f.seek(start)
        f.write(b"\xa5" * (size - start))
    # Another program's write makes the open connection read the file again.
    other = sqlite3.connect(db_path)
    other.execute("INSERT INTO ratings (time, path, rating) VALUES (1, '/x.ogg', 1)")
    other.commit()
    other.close()


def test_a_damaged_page_is_reported_once_and_the_file_set_aside_with_every_row(db_path, caplog):
    with History(db_path) as h:
        for i in range(500):
            h.record_window("mood", "happy", 0.5, 0.5, i, 80, at=1000.0 + i)
    h = History(db_path)
    damage_the_windows_pages(db_path, h)
    for i in range(3):
        assert h.record_window("mood", "sad", 0.5, 0.5, i, 80, at=2000.0 + i) < 0
    assert "damaged (database disk image is malformed)" in h.problem
    assert caplog.text.count("database disk image is malformed") == 1, "said once, no traceback"
    assert "Traceback" not in caplog.text
    h.close()

    [aside] = db_path.parent.glob("history.sqlite3.damaged-*[0-9]")
    with History(db_path) as fresh:
        times = [w.time for w in fresh.windows()]
        assert fresh.ratings() == {"/x.ogg": 1}
    assert times[-3:] == [2000.0, 2001.0, 2002.0], "the waiting rows were kept"
    assert len(times) > 100, "the readable rows were copied over"
    assert aside.stat().st_size > 0


def test_a_damaged_file_found_at_start_is_set_aside_and_named(db_path):
    with History(db_path) as h:
        for i in range(500):
            h.record_window("mood", "happy", 0.5, 0.5, i, 80, at=1000.0 + i)
    start = first_rows_page(db_path)
    with open(db_path, "r+b") as f:
        f.seek(start)
        f.write(b"\xa5" * 4096 * 2)
    before = db_path.read_bytes()
    with History(db_path) as h:
        assert h.set_aside is not None and h.set_aside.name.startswith("history.sqlite3.damaged-")
        assert h.set_aside.read_bytes() == before, "never overwritten"
        assert 0 < len(h.windows()) < 500


def test_a_path_that_is_not_utf8_is_kept_exactly(db_path):
    name = os.fsdecode(b"/music/caf\xe9.mp3")
    with History(db_path) as h:
        h.end_play(h.record_play(name, "happy", "happy"), "finished")
        h.rate(name, 1)
    with History(db_path) as h:
        assert h.plays()[0].path == name and h.ratings() == {name: 1}
        assert h.pending == 0


def test_a_version_1_file_is_migrated_in_place_and_keeps_every_row(db_path):
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    from emusify.history import _MIGRATIONS

    raw.executescript(_MIGRATIONS[0])
    raw.execute("INSERT INTO windows VALUES (1, 100.0, 'mood', 'sad', 0.6, 0.7, 50, 80)")
    raw.execute("INSERT INTO plays VALUES (1, 101.0, '/s/a.ogg', 'sad', 'sad', 'finished', 130)")
    raw.execute("INSERT INTO ratings VALUES (1, 120.0, '/s/a.ogg', 1)")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    with History(db_path) as h:
        assert h.windows() == [WindowRow(100.0, "mood", "sad", 0.6, 0.7, 50, 80)]
        assert h.plays()[0].ended == "finished"
        # a rating from before per-mood ratings counts in every mood
        assert h.ratings_by_mood() == {None: {"/s/a.ogg": 1}}
        h.rate("/s/a.ogg", -1, emotion="happy", at=200.0)
        h.record_correction(h.windows()[0].id, "sad", "happy", at=201.0)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert raw.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 2


def test_ratings_count_per_mood_and_the_latest_in_each_mood_wins(db_path):
    with History(db_path) as h:
        h.rate("/a.ogg", 1, emotion="sad", at=1.0)
        h.rate("/a.ogg", -1, emotion="happy", at=2.0)
        h.rate("/b.ogg", 1, emotion="sad", at=3.0)
        h.rate("/b.ogg", -1, emotion="sad", at=4.0)
        assert h.ratings_by_mood() == {"sad": {"/a.ogg": 1, "/b.ogg": -1}, "happy": {"/a.ogg": -1}}
        assert [(r.path, r.rating, r.emotion) for r in h.rating_rows(since=2.0)] == [
            ("/a.ogg", -1, "happy"),
            ("/b.ogg", 1, "sad"),
            ("/b.ogg", -1, "sad"),
        ]


def test_moods_set_by_hand_and_corrections_are_kept(db_path):
    with History(db_path) as h:
        window = h.record_window("mood", "happy", 0.8, 0.9, 30, 32, at=10.0)
        h.record_mood_set("sad", 3610.0, at=10.0)
        h.record_correction(window, "happy", "sad", "/samples/sad/x.npz", at=10.0)
        h.record_mood_set(None, None, at=20.0)
    with History(db_path) as h:
        assert h.moods_set() == [MoodSetRow(10.0, "sad", 3610.0), MoodSetRow(20.0, None, None)]
        assert h.corrections() == [
            CorrectionRow(10.0, window, "happy", "sad", "/samples/sad/x.npz")
        ]
        assert h.windows()[0].id == window


def test_clear_deletes_every_row_and_the_file_stays_usable(db_path):
    with History(db_path) as h:
        h.record_window("mood", "happy", 0.8, 0.9, 30, 32)
        h.end_play(h.record_play("/a.ogg", "happy", "happy"), "finished")
        h.rate("/a.ogg", 1, emotion="happy")
        h.record_mood_set("sad", None)
        h.record_correction(None, "happy", "sad")
        h.clear()
        assert not (h.windows() or h.plays() or h.rating_rows() or h.moods_set())
        assert h.corrections() == []
        h.record_window("mood", "sad", 0.8, 0.9, 30, 32)
    with History(db_path) as h:
        assert len(h.windows()) == 1


def test_a_damaged_version_1_file_gives_its_ratings_to_the_new_schema(db_path):
    from emusify.history import _MIGRATIONS

    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.executescript(_MIGRATIONS[0])
    raw.execute("INSERT INTO ratings VALUES (1, 5.0, '/a.ogg', 1)")
    for i in range(500):
        raw.execute(
            "INSERT INTO windows (time, outcome, emotion, share, confidence, face_frames,"
            " total_frames) VALUES (?, 'mood', 'happy', 0.5, 0.5, ?, 80)",
            (1000.0 + i, i),
        )
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    start = first_rows_page(db_path)
    with open(db_path, "r+b") as f:
        f.seek(start)
        f.write(b"\xa5" * 4096 * 2)
    with History(db_path) as h:
        assert h.set_aside is not None
        assert h.ratings_by_mood() == {None: {"/a.ogg": 1}}, "copied by column name"
        assert 0 < len(h.windows()) < 500
