"""Which track next: a shuffle without repeats, nudged by likes and dislikes of the mood.

A rating counts for the mood it was given in: a track liked while sad is drawn more readily
while sad, and not while happy (``ratings_for`` picks a mood's ratings).

Each folder is played in rounds. Within a round no track repeats; a round ends when every
track in it has played. Ratings change both who joins a round and the order:

- a liked track always joins and is drawn ``LIKE_WEIGHT`` times as readily, so it tends to
  come early in a round (and a mood rarely lasts a whole round);
- a disliked track joins a round only with probability ``DISLIKE_JOIN``, is drawn
  ``DISLIKE_WEIGHT`` times as readily, and never plays twice in a row, not even when it is
  the only track left.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LIKE_WEIGHT = 3.0
DISLIKE_WEIGHT = 0.3
DISLIKE_JOIN = 0.35


#: Ratings by the mood they were given in; None holds ratings given in no known mood.
MoodRatings = Mapping[str | None, Mapping[str, int]]


def ratings_for(mood: str | None, by_mood: MoodRatings) -> dict[str, int]:
    """The ratings that count in ``mood``: its own, over those given in no known mood."""
    out = dict(by_mood.get(None, {}))
    if mood is not None:
        out.update(by_mood.get(mood, {}))
    return out


@dataclass
class _Round:
    members: set[Path] = field(default_factory=set)
    played: set[Path] = field(default_factory=set)


class Chooser:
    def __init__(self, rng: random.Random | None = None):
        self._rng = rng or random.Random()
        self._rounds: dict[str, _Round] = {}
        self._last: Path | None = None

    def choose(
        self,
        folder: str,
        tracks: Sequence[Path],
        ratings: Mapping[str, int] | None = None,
    ) -> Path | None:
        """The next track from ``tracks`` (the folder's playable files), or None if none fits.

        None means every track in the folder is disliked and the only one would repeat.
        """
        ratings = ratings or {}
        available = list(dict.fromkeys(tracks))  # the caller's order, duplicates dropped
        if not available:
            return None
        rnd = self._rounds.setdefault(folder, _Round())
        rnd.members &= set(available)  # files removed from disk leave the round
        candidates = [p for p in available if p in rnd.members and p not in rnd.played]
        if not candidates:
            rnd = self._new_round(folder, available, ratings)
            candidates = [p for p in available if p in rnd.members]
        candidates = self._not_again(candidates, available, ratings)
        if not candidates:
            return None
        weights = [self._weight(p, ratings) for p in candidates]
        pick = self._rng.choices(candidates, weights=weights, k=1)[0]
        rnd.played.add(pick)
        self._last = pick
        return pick

    def _not_again(
        self, candidates: list[Path], available: list[Path], ratings: Mapping[str, int]
    ) -> list[Path]:
        """Never the track that just played, unless it is the folder's only one and not disliked."""
        last = self._last
        fresh = [p for p in candidates if p != last]
        if not fresh:  # the round offers only the track that just played: take any other
            fresh = [p for p in available if p != last]
        if not fresh and last is not None and _rating(last, ratings) >= 0:
            fresh = available
        return fresh

    def _new_round(self, folder: str, available: list[Path], ratings: Mapping[str, int]) -> _Round:
        members = {
            p for p in available if _rating(p, ratings) >= 0 or self._rng.random() < DISLIKE_JOIN
        }
        if not members:  # everything is disliked: still better than silence
            members = set(available)
        rnd = _Round(members=members)
        self._rounds[folder] = rnd
        return rnd

    @staticmethod
    def _weight(path: Path, ratings: Mapping[str, int]) -> float:
        r = _rating(path, ratings)
        return LIKE_WEIGHT if r > 0 else DISLIKE_WEIGHT if r < 0 else 1.0


def _rating(path: Path, ratings: Mapping[str, int]) -> int:
    return ratings.get(str(path), 0)
