"""The listener's say over the mood: set it by hand, correct a check, teach the model.

A mood set by hand (``emusify ctl mood sad``, the tray's "I feel ...") holds for
``listener.manual_mood_minutes`` or until ``ctl mood auto``; then the checks decide again.
When it comes at most ``listener.correction_minutes`` after a check that read another mood,
it is a correction of that check: the history keeps it, and with learning switched on
(``listener.learn_from_corrections``, ``ctl learn on``, the tray) the check's per-frame
feature vectors become a labelled sample session (numbers only, never an image), which
``emusify samples`` lists and ``emusify learn`` / ``emusify train --samples`` train on.

This object only keeps that state and writes it down; the daemon owns the schedule and the
music and calls it from its scheduler thread. It imports nothing heavy: numpy and the
samples writer are imported when a correction is kept.
"""

from __future__ import annotations

import difflib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emusify import paths
from emusify.config import EMOTIONS, Config, ListenerConfig
from emusify.errors import DataError, EmusifyError

if TYPE_CHECKING:
    from emusify.history import History

log = logging.getLogger(__name__)


def moods_of(cfg: Config) -> tuple[str, ...]:
    """The moods a listener can set: the emotions, and any other label given a folder."""
    return tuple(dict.fromkeys([*EMOTIONS, *cfg.music.folders]))


@dataclass(frozen=True)
class CheckSeen:
    """The latest check that decided a mood, as a correction needs it."""

    window_id: int | None
    emotion: str
    time: float  #: Unix time the check ended
    #: float32 [face frames, feature size], or None when the check returned none.
    features: Any = None
    feature_version: int | None = None


@dataclass(frozen=True)
class Correction:
    read: str
    emotion: str
    window_id: int | None
    #: The sample session written from the check, or None (learning off, or nothing to keep).
    sample_file: Path | None


class Listener:
    def __init__(
        self,
        cfg: ListenerConfig,
        history: History,
        *,
        config_path: Path | None = None,
        samples_root: Path | None = None,
        moods: tuple[str, ...] = EMOTIONS,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.cfg = cfg
        #: The moods a listener may set (the emotions, and any folder-mapped label).
        self.moods = moods
        self.history = history
        self.config_path = config_path
        self.samples_root = samples_root
        self._wall = wall_clock
        self.learn = cfg.learn_from_corrections
        #: The hand-set mood and until when it holds (None: the checks decide).
        self.mood: str | None = None
        self.until: float | None = None
        self._last_check: CheckSeen | None = None

    # --- what the daemon tells it ---------------------------------------------------------

    def saw_check(self, check: CheckSeen) -> None:
        """A check decided a mood (kept for a possible correction, for correction_minutes)."""
        self._last_check = check

    def holding(self) -> bool:
        """True while a hand-set mood holds; False (and forgotten) once its time is up."""
        if self.until is None:
            return False
        if self._wall() < self.until:
            return True
        log.info("The mood set by hand (%s) has run out; the checks decide again", self.mood)
        self.until = None
        return False

    def seconds_left(self) -> float | None:
        return None if self.until is None else max(0.0, self.until - self._wall())

    # --- what the listener says -----------------------------------------------------------

    def set_mood(self, emotion: str) -> Correction | None:
        """Hold ``emotion`` for the configured time; a correction if a check just read another."""
        if emotion not in self.moods:
            hint = difflib.get_close_matches(emotion, self.moods, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise EmusifyError(
                f"unknown mood {emotion!r}{extra}; use one of {', '.join(self.moods)}, or auto"
            )
        now = self._wall()
        self.mood = emotion
        self.until = now + self.cfg.manual_mood_minutes * 60
        self._write(self.history.record_mood_set, emotion, self.until, at=now)
        log.info("Mood set by hand: %s, for %.0f minutes", emotion, self.cfg.manual_mood_minutes)
        check = self._last_check
        if (
            check is None
            or check.emotion == emotion
            or now - check.time > self.cfg.correction_minutes * 60
        ):
            return None
        self._last_check = None  # one correction per check
        sample = self._keep_samples(check, emotion) if self.learn else None
        self._write(
            self.history.record_correction, check.window_id, check.emotion, emotion, sample, at=now
        )
        log.info(
            "Correction: the check read %s, the listener says %s%s",
            check.emotion,
            emotion,
            f"; kept {sample}" if sample else "",
        )
        return Correction(check.emotion, emotion, check.window_id, sample)

    def auto(self) -> None:
        """Give the mood back to the checks now."""
        self.until = None
        self._write(self.history.record_mood_set, None, None, at=self._wall())
        log.info("Mood back to automatic: the checks decide again")

    def set_learn(self, on: bool) -> None:
        """Switch learning from corrections, now and in the config file (for the next start)."""
        self.learn = on
        log.info("Learning from corrections switched %s", "on" if on else "off")
        if self.config_path is None or self.config_path == paths.DEFAULT_CONFIG:
            return
        from emusify.config_file import set_key

        try:
            set_key(self.config_path, "listener.learn_from_corrections", on)
        except EmusifyError as exc:
            log.warning("Learning is %s until Emusify stops: %s", "on" if on else "off", exc)

    # --- internals ------------------------------------------------------------------------

    def _write(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """A failing history is logged; the mood set by hand still holds."""
        try:
            call(*args, **kwargs)
        except sqlite3.Error as exc:
            log.error("History %s: %s failed: %s", self.history.path, call.__name__, exc)

    def _keep_samples(self, check: CheckSeen, emotion: str) -> Path | None:
        features = check.features
        if features is None or check.feature_version is None or len(features) == 0:
            log.info("The corrected check returned no face measurements; nothing to keep")
            return None
        from emusify.learning.samples import SessionWriter

        ended = datetime.fromtimestamp(check.time, timezone.utc)
        stamp = ended.astimezone().isoformat(timespec="seconds")
        writer = SessionWriter(
            self.samples_root or paths.samples_dir(),
            emotion,
            source=f"correction: the check at {stamp} read {check.emotion}",
            feature_version=check.feature_version,
            feature_size=int(features.shape[1]),
            started=ended,
        )
        for row in features:
            writer.append(row)
        try:
            return writer.save(ended=ended)
        except DataError as exc:
            log.error("The corrected check's samples were not kept: %s", exc)
            return None
