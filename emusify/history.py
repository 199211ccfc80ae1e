"""What happened, kept in one SQLite file: mood checks, plays and ratings.

The file is opened once per process and shared by the daemon's threads behind one lock.
WAL mode lets a report read while the daemon writes, and every write is its own committed
transaction, so a crash loses at most the statement in flight. Rows are only ever added
(a play's end is filled in once); ratings are kept as a log and the latest one counts.

Times are Unix seconds (``time.time()``), so SQLite's ``datetime(time, 'unixepoch')`` reads
them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from emusify.errors import DataError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: How a play ended. "stopped" covers pause-then-quit, a user stop and program exit.
PLAY_ENDINGS = ("finished", "skipped", "mood_change", "stopped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    outcome TEXT NOT NULL,
    emotion TEXT,
    share REAL,
    confidence REAL,
    face_frames INTEGER NOT NULL,
    total_frames INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_time ON windows(time);
CREATE TABLE IF NOT EXISTS plays (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    emotion TEXT,
    ended TEXT CHECK (ended IN ('finished', 'skipped', 'mood_change', 'stopped')),
    ended_time REAL
);
CREATE INDEX IF NOT EXISTS plays_time ON plays(time);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    path TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1))
);
CREATE INDEX IF NOT EXISTS ratings_path ON ratings(path);
"""


@dataclass(frozen=True)
class WindowRow:
    time: float
    outcome: str
    emotion: str | None
    share: float | None
    confidence: float | None
    face_frames: int
    total_frames: int


@dataclass(frozen=True)
class PlayRow:
    id: int
    time: float
    path: str
    folder: str
    emotion: str | None
    #: One of PLAY_ENDINGS, or None while playing (or if the program died during the track).
    ended: str | None
    ended_time: float | None


class History:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as exc:  # locked, read-only, no permission, ...
            raise DataError(f"{self.path}: cannot open the history database: {exc}") from None
        except sqlite3.DatabaseError as exc:
            # Not a database, or damaged beyond opening: keep it aside, never overwrite it.
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            self.path.rename(aside)
            log.warning("History %s could not be read (%s); moved it to %s", self.path, exc, aside)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(
                    f"{self.path}: the history was written by a newer Emusify "
                    f"(schema {version}; this version reads up to {SCHEMA_VERSION})"
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            if version < SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            db.close()
            raise
        return db

    # --- writes ---------------------------------------------------------------------------

    def record_window(
        self,
        outcome: str,
        emotion: str | None,
        share: float | None,
        confidence: float | None,
        face_frames: int,
        total_frames: int,
        *,
        at: float | None = None,
    ) -> int:
        """One mood check. ``outcome`` is the window's verdict (e.g. "mood", "no_face")."""
        return self._insert(
            "INSERT INTO windows (time, outcome, emotion, share, confidence, face_frames,"
            " total_frames) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_now(at), outcome, emotion, share, confidence, int(face_frames), int(total_frames)),
        )

    def record_play(
        self,
        path: str | Path,
        folder: str,
        emotion: str | None,
        *,
        ended: str | None = None,
        at: float | None = None,
    ) -> int:
        """A track started; returns the play's id for ``end_play``."""
        _check_ending(ended)
        return self._insert(
            "INSERT INTO plays (time, path, folder, emotion, ended, ended_time)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_now(at), str(path), folder, emotion, ended, _now(at) if ended else None),
        )

    def end_play(self, play_id: int, ended: str, *, at: float | None = None) -> None:
        """Say how a play ended; a play's ending is written once and never changed."""
        _check_ending(ended)
        with self._lock:
            self._db.execute(
                "UPDATE plays SET ended = ?, ended_time = ? WHERE id = ? AND ended IS NULL",
                (ended, _now(at), play_id),
            )

    def rate(self, path: str | Path, rating: int, *, at: float | None = None) -> None:
        """+1 like, -1 dislike; the latest rating of a path is the one that counts."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be +1 or -1, not {rating!r}")
        self._insert(
            "INSERT INTO ratings (time, path, rating) VALUES (?, ?, ?)",
            (_now(at), str(path), rating),
        )

    def _insert(self, sql: str, params: tuple) -> int:
        with self._lock:
            cur = self._db.execute(sql, params)
            return int(cur.lastrowid or 0)

    # --- reads ----------------------------------------------------------------------------

    def ratings(self) -> dict[str, int]:
        """The latest rating of every rated path."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, rating FROM ratings WHERE id IN"
                " (SELECT MAX(id) FROM ratings GROUP BY path)"
            ).fetchall()
        return {path: rating for path, rating in rows}

    def windows(self, since: float = 0.0) -> list[WindowRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT time, outcome, emotion, share, confidence, face_frames, total_frames"
                " FROM windows WHERE time >= ? ORDER BY time, id",
                (since,),
            ).fetchall()
        return [WindowRow(*row) for row in rows]

    def plays(self, since: float = 0.0) -> list[PlayRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, time, path, folder, emotion, ended, ended_time"
                " FROM plays WHERE time >= ? ORDER BY time, id",
                (since,),
            ).fetchall()
        return [PlayRow(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now(at: float | None) -> float:
    return time.time() if at is None else float(at)


def _check_ending(ended: str | None) -> None:
    if ended is not None and ended not in PLAY_ENDINGS:
        raise ValueError(f"ended must be one of {', '.join(PLAY_ENDINGS)}, not {ended!r}")
