"""Which folder plays for a mood: match it, or after a sustained spell, lift it.

The policy sees only decided moods, one per camera window. "Sustained" means the same
emotion was decided in consecutive windows for at least ``uplift_after_minutes`` by the
injected clock, so the switch to the uplift folder happens at the window that confirms the
mood still holds rather than at a guess in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from emusify.config import MusicConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderChoice:
    """The folder wanted for a mood, and why (shown in logs and the tray)."""

    emotion: str
    folder: str
    #: "match" (the emotion's own folder) or "lift" (the uplift folder after a long spell).
    reason: str
    #: Seconds the emotion has held, by the policy's clock.
    held_seconds: float


class MoodPolicy:
    def __init__(self, music: MusicConfig, *, clock: Callable[[], float] = time.monotonic):
        self.music = music
        self._clock = clock
        self._emotion: str | None = None
        self._since = 0.0

    def decide(self, emotion: str) -> FolderChoice:
        """Record a decided window mood and return the folder that should play now."""
        now = self._clock()
        if emotion != self._emotion:
            self._emotion = emotion
            self._since = now
        held = now - self._since
        if self.response(emotion) == "lift" and held >= self.music.uplift_after_minutes * 60:
            return FolderChoice(emotion, self.music.uplift_folder, "lift", held)
        return FolderChoice(emotion, self.folder_for(emotion), "match", held)

    def response(self, emotion: str) -> str:
        return self.music.response.get(emotion, "match")

    def folder_for(self, emotion: str) -> str:
        """The emotion's own folder; an unmapped emotion gets the default folder."""
        return self.music.folders.get(emotion, self.music.default_folder)


def with_fallback(
    wanted: str, default: str, has_tracks: Callable[[str], bool]
) -> tuple[str | None, str | None]:
    """The folder to play from and, when it is not ``wanted``, the reason (for the log).

    An empty or missing folder falls back to ``default``; when that is empty too the answer
    is None and the reason says why nothing plays, so silence is never unexplained.
    """
    if has_tracks(wanted):
        return wanted, None
    if default != wanted and has_tracks(default):
        return default, f"folder {wanted!r} has no playable tracks; playing {default!r} instead"
    if default == wanted:
        return None, f"folder {wanted!r} has no playable tracks"
    return None, f"neither folder {wanted!r} nor the default {default!r} has playable tracks"
