"""What happened, kept in one SQLite file: mood checks, plays, ratings and the listener's say.

The file is opened once per process and shared by the daemon's threads behind one lock.
WAL mode lets a report read while the daemon writes, and every write is its own committed
transaction, so a crash loses at most the statement in flight. Rows are only ever added
(a play's end is filled in once); ratings are kept as a log and the latest one counts, per
mood: a rating is given in a mood and counts for that mood. ``clear()`` (``emusify history
--clear``, after confirmation) is the only thing that deletes rows.

The schema is versioned (``PRAGMA user_version``): ``_MIGRATIONS[n]`` takes a file from
version n to n + 1, all missing steps run in one transaction, and a step only ever adds
tables or columns, so an older file keeps every row it had.

Nothing is dropped when the file cannot be written for a while: while another program holds
it locked, the disk is full or the file turns out damaged, a write waits in memory (in order)
and goes in with the next write that succeeds; ``problem`` says why, for the status, and the
log says it once. A damaged file is set aside at the next start (``history.sqlite3.damaged-
<time>`` beside it, never overwritten), the rows that can still be read are copied into a new
file, and ``set_aside`` names the old one. The file is the user's only (0600 in a 0700 folder).

Times are Unix seconds (``time.time()``), so SQLite's ``datetime(time, 'unixepoch')`` reads
them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emusify.errors import DataError
from emusify.files import private_dir, private_file, tighten

log = logging.getLogger(__name__)

#: How long one write waits for another program's lock before it is kept for later (ms).
BUSY_TIMEOUT_MS = 2000
#: Writes kept in memory at most while the file cannot be written (a day of checks and plays).
MAX_PENDING = 10_000
#: The files SQLite keeps beside the database; they belong to it and move with it.
COMPANIONS = ("-wal", "-shm", "-journal")

#: How a play ended. "stopped" covers pause-then-quit, a user stop and program exit.
PLAY_ENDINGS = ("finished", "skipped", "mood_change", "stopped")

_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: mood checks, plays and ratings.
    """
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
""",
    # 1 -> 2: the listener's say. A rating remembers the mood it was given in (NULL for
    # ratings from version 1, which count in every mood); a mood set by hand, and a correction
    # (a mood set by hand shortly after a check read another one).
    """
ALTER TABLE ratings ADD COLUMN emotion TEXT;
CREATE TABLE IF NOT EXISTS moods_set (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    emotion TEXT,
    until REAL
);
CREATE INDEX IF NOT EXISTS moods_set_time ON moods_set(time);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    window_id INTEGER,
    read TEXT NOT NULL,
    emotion TEXT NOT NULL,
    sample_file TEXT
);
CREATE INDEX IF NOT EXISTS corrections_time ON corrections(time);
""",
)
SCHEMA_VERSION = len(_MIGRATIONS)
#: Every table, in the order a damaged file's rows are copied and ``clear()`` empties them.
TABLES = ("windows", "plays", "ratings", "moods_set", "corrections")


@dataclass(frozen=True)
class WindowRow:
    time: float
    outcome: str
    emotion: str | None
    share: float | None
    confidence: float | None
    face_frames: int
    total_frames: int
    #: The row's id (what a correction refers to); not compared, so rows compare by content.
    id: int = field(default=0, compare=False)


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


@dataclass(frozen=True)
class RatingRow:
    time: float
    path: str
    rating: int  #: +1 like, -1 dislike
    #: The mood the rating was given in; None for ratings older than per-mood ratings.
    emotion: str | None


@dataclass(frozen=True)
class MoodSetRow:
    """The listener set the mood by hand (``emotion``), or gave it back to the checks (None)."""

    time: float
    emotion: str | None
    until: float | None  #: when the hand-set mood stops holding


@dataclass(frozen=True)
class CorrectionRow:
    """A check read ``read``; shortly after, the listener said it was ``emotion``."""

    time: float
    window_id: int | None
    read: str
    emotion: str
    #: The labelled sample session kept from the check (learning on), else None.
    sample_file: str | None


@dataclass
class _Pending:
    """A write that could not be done yet; plays get a negative stand-in id until written."""

    sql: str
    params: list[Any]
    token: int | None = None  #: the stand-in id of a pending play insert
    refs: dict[int, int] = field(default_factory=dict)  #: param index -> stand-in play id


class History:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        #: The damaged file this start set aside, if any.
        self.set_aside: Path | None = None
        self._problem: str | None = None
        self._damaged = False
        self._pending: list[_Pending] = []
        self._tokens: dict[int, int] = {}  # stand-in id -> real id, once written
        self._next_token = -1
        private_dir(self.path.parent)
        for suffix in ("", *COMPANIONS):
            tighten(f"{self.path}{suffix}")
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as exc:  # locked, read-only, no permission, ...
            raise DataError(f"{self.path}: cannot open the history database: {exc}") from None
        except sqlite3.DatabaseError as exc:
            # Not a database, or damaged: keep it aside, never overwrite it.
            self._set_aside(str(exc))

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)  # born 0600; SQLite gives its -wal and -shm files the same mode
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(
                    f"{self.path}: the history was written by a newer Emusify "
                    f"(schema {version}; this version reads up to {SCHEMA_VERSION})"
                )
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if version > 0:
                check = db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"damaged: {check}")
            if version < SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for step in _MIGRATIONS[version:]:
                        for statement in filter(str.strip, step.split(";")):
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

    def _set_aside(self, reason: str) -> None:
        """Move the damaged file (and its WAL) beside, start a new one, copy what reads."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        for suffix in ("", *COMPANIONS):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(f"{aside}{suffix}")
        self.set_aside = aside
        self._damaged = False
        self._db = self._connect()
        copied = _salvage(aside, self._db)
        log.warning(
            "History %s could not be read (%s); moved it to %s and started a new one "
            "(%d rows copied over)",
            self.path,
            reason,
            aside,
            copied,
        )

    @property
    def problem(self) -> str | None:
        """Why writes wait in memory now (locked, disk full, damaged), or None."""
        with self._lock:
            return self._problem

    @property
    def pending(self) -> int:
        """Writes waiting in memory for the file to take them."""
        with self._lock:
            return len(self._pending)

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
            (_now(at), _path_value(path), folder, emotion, ended, _now(at) if ended else None),
        )

    def end_play(self, play_id: int, ended: str, *, at: float | None = None) -> None:
        """Say how a play ended; a play's ending is written once and never changed."""
        _check_ending(ended)
        self._write(
            "UPDATE plays SET ended = ?, ended_time = ? WHERE id = ? AND ended IS NULL",
            [ended, _now(at), play_id],
            refs={2: play_id} if play_id < 0 else {},
        )

    def rate(
        self,
        path: str | Path,
        rating: int,
        *,
        emotion: str | None = None,
        at: float | None = None,
    ) -> None:
        """+1 like, -1 dislike, given in mood ``emotion``; per mood, the latest one counts."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be +1 or -1, not {rating!r}")
        self._insert(
            "INSERT INTO ratings (time, path, rating, emotion) VALUES (?, ?, ?, ?)",
            (_now(at), _path_value(path), rating, emotion),
        )

    def record_mood_set(
        self, emotion: str | None, until: float | None, *, at: float | None = None
    ) -> int:
        """The listener set the mood by hand until ``until``, or (None) gave it back."""
        return self._insert(
            "INSERT INTO moods_set (time, emotion, until) VALUES (?, ?, ?)",
            (_now(at), emotion, until),
        )

    def record_correction(
        self,
        window_id: int | None,
        read: str,
        emotion: str,
        sample_file: str | Path | None = None,
        *,
        at: float | None = None,
    ) -> int:
        """A check (``window_id``) read ``read``; the listener said ``emotion``."""
        sample = None if sample_file is None else _path_value(sample_file)
        return self._write(
            "INSERT INTO corrections (time, window_id, read, emotion, sample_file)"
            " VALUES (?, ?, ?, ?, ?)",
            [_now(at), window_id, read, emotion, sample],
            token=True,
            # A check still waiting in memory has a stand-in id: refer to it until written.
            refs={1: window_id} if window_id is not None and window_id < 0 else {},
        )

    def clear(self) -> None:
        """Delete every row, also those waiting in memory (the listener asked, after
        confirmation); the schema stays."""
        with self._lock:
            if self._db is None:
                raise DataError(f"{self.path}: the history is closed")
            self._pending.clear()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in TABLES:
                    self._db.execute(f"DELETE FROM {table}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:  # the deleted rows leave the file too, not just the tables
                self._db.execute("VACUUM")
            except sqlite3.OperationalError as exc:  # another process is reading right now
                log.info("History cleared; the file shrinks at a later clear (%s)", exc)

    def _insert(self, sql: str, params: tuple) -> int:
        """The new row's id, or a negative stand-in while the write waits in memory."""
        return self._write(sql, list(params), token=True)

    def flush(self) -> bool:
        """Try the waiting writes again, without waiting long for a lock; True when none are
        left (the daemon calls it now and then while writes wait)."""
        with self._lock:
            if self._db is None or not self._pending:
                return not self._pending
            self._db.execute("PRAGMA busy_timeout=100")
            try:
                self._flush()
            finally:
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return not self._pending

    def _write(
        self, sql: str, params: list[Any], *, token: bool = False, refs: dict | None = None
    ) -> int:
        with self._lock:
            if self._db is None:
                raise DataError(f"{self.path}: the history is closed")
            item = _Pending(sql, params, refs=dict(refs or {}))
            if token:
                item.token = self._next_token
                self._next_token -= 1
            if len(self._pending) >= MAX_PENDING:
                log.error("History %s: %d writes wait; dropping the oldest", self.path, MAX_PENDING)
                del self._pending[0]
            self._pending.append(item)
            last_id = self._flush()
            if item in self._pending:
                return item.token or 0
            return self._tokens.pop(item.token, last_id) if item.token else last_id

    def _flush(self) -> int:
        """Write the waiting rows in order, in one transaction; keep them all on failure."""
        if not self._pending:
            return 0
        written: dict[int, int] = {}
        last_id = 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for item in list(self._pending):
                    params = list(item.params)
                    for index, stand_in in item.refs.items():
                        params[index] = written.get(stand_in, self._tokens.get(stand_in, stand_in))
                    try:
                        cur = self._db.execute(item.sql, params)
                    except sqlite3.Error:
                        raise
                    except Exception as exc:  # a value SQLite cannot take: only this row is lost
                        log.error("History %s: cannot store %r: %s", self.path, params, exc)
                        self._pending.remove(item)
                        continue
                    last_id = int(cur.lastrowid or 0)
                    if item.token is not None:
                        written[item.token] = last_id
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._note_problem(exc)
            return 0
        self._tokens.update(written)
        if self._problem is not None:
            log.warning(
                "History %s can be written again: %d waiting writes went in",
                self.path,
                len(self._pending),
            )
            self._problem = None
        self._pending.clear()
        return last_id

    def _note_problem(self, exc: sqlite3.Error) -> None:
        text = str(exc)
        if "locked" in text or "busy" in text:
            problem = "locked by another program; writes wait in memory"
        elif "full" in text:
            problem = "the disk is full; writes wait in memory"
        elif isinstance(exc, sqlite3.OperationalError):
            problem = f"cannot be written ({text}); writes wait in memory"
        else:
            problem = f"damaged ({text}); it will be set aside at the next start"
            self._damaged = True
        if problem != self._problem:
            log.error("History %s: %s (%d waiting)", self.path, problem, len(self._pending))
        self._problem = problem

    # --- reads ----------------------------------------------------------------------------

    def ratings(self) -> dict[str, int]:
        """The latest rating of every rated path."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, rating FROM ratings WHERE id IN"
                " (SELECT MAX(id) FROM ratings GROUP BY path)"
            ).fetchall()
        return {_path_text(path): rating for path, rating in rows}

    def ratings_by_mood(self) -> dict[str | None, dict[str, int]]:
        """Mood -> the latest rating of every path rated in it (None: given in no mood)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT emotion, path, rating FROM ratings WHERE id IN"
                " (SELECT MAX(id) FROM ratings GROUP BY emotion, path) ORDER BY id"
            ).fetchall()
        out: dict[str | None, dict[str, int]] = {}
        for emotion, path, rating in rows:
            out.setdefault(emotion, {})[_path_text(path)] = rating
        return out

    def rating_rows(self, since: float = 0.0) -> list[RatingRow]:
        rows = self._select("SELECT time, path, rating, emotion FROM ratings", since)
        return [RatingRow(r[0], _path_text(r[1]), *r[2:]) for r in rows]

    def moods_set(self, since: float = 0.0) -> list[MoodSetRow]:
        rows = self._select("SELECT time, emotion, until FROM moods_set", since)
        return [MoodSetRow(*r) for r in rows]

    def corrections(self, since: float = 0.0) -> list[CorrectionRow]:
        rows = self._select(
            "SELECT time, window_id, read, emotion, sample_file FROM corrections", since
        )
        return [CorrectionRow(*r[:4], None if r[4] is None else _path_text(r[4])) for r in rows]

    def windows(self, since: float = 0.0) -> list[WindowRow]:
        rows = self._select(
            "SELECT time, outcome, emotion, share, confidence, face_frames, total_frames, id"
            " FROM windows",
            since,
        )
        return [WindowRow(*row) for row in rows]

    def _select(self, select: str, since: float) -> list[tuple]:
        with self._lock:
            return self._db.execute(
                f"{select} WHERE time >= ? ORDER BY time, id", (since,)
            ).fetchall()

    def plays(self, since: float = 0.0) -> list[PlayRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, time, path, folder, emotion, ended, ended_time"
                " FROM plays WHERE time >= ? ORDER BY time, id",
                (since,),
            ).fetchall()
        return [PlayRow(r[0], r[1], _path_text(r[2]), *r[3:]) for r in rows]

    def close(self) -> None:
        """Write what waits (waiting longer for a lock than a single write does), then close."""
        with self._lock:
            if self._db is None:
                return
            if self._pending:
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS * 5}")
                self._flush()
            if self._pending and self._damaged:
                # Set the damaged file aside now rather than at the next start, so the
                # waiting rows have a sound file to go into.
                self._db.close()
                self._set_aside(self._problem or "damaged")
                self._flush()
            if self._pending:
                log.error(
                    "History %s: %d writes could not be saved (%s)",
                    self.path,
                    len(self._pending),
                    self._problem,
                )
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _salvage(damaged: Path, into: sqlite3.Connection) -> int:
    """Copy every row still readable from a damaged history; returns how many."""
    copied = 0
    try:
        old = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        for table in TABLES:
            try:
                # By name: a damaged file of an older schema has fewer columns.
                names = [r[1] for r in old.execute(f"PRAGMA table_info({table})")]
                if not names:
                    continue
                columns, marks = ", ".join(names), ", ".join("?" * len(names))
                rows = old.execute(f"SELECT {columns} FROM {table} ORDER BY id")
                for row in rows:
                    into.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", row)
                    copied += 1
            except sqlite3.Error:
                continue  # the rest of this table is on a damaged page
    finally:
        old.close()
    return copied


def _path_value(path: str | Path) -> str | bytes:
    """A file path as SQLite can keep it: text, or the raw bytes of a name that is not UTF-8."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def _path_text(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _now(at: float | None) -> float:
    return time.time() if at is None else float(at)


def _check_ending(ended: str | None) -> None:
    if ended is not None and ended not in PLAY_ENDINGS:
        raise ValueError(f"ended must be one of {', '.join(PLAY_ENDINGS)}, not {ended!r}")
