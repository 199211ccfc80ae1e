"""The window tally: per-frame probabilities -> one mood for the window, or a reason for none.

Each face frame votes for its most probable emotion. The emotion with most votes (ties go to
the larger summed probability) is the window's mood if enough frames showed a face
(``min_face_frames``) and it won a large enough share of them (``min_share``). Otherwise the
outcome is "no_face" or "uncertain": ordinary results that leave the music as it is, not
errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Outcome = Literal["mood", "no_face", "uncertain"]


@dataclass(frozen=True)
class MoodResult:
    outcome: Outcome
    emotion: str | None  #: the mood; None unless outcome == "mood"
    share: float  #: share of face frames that voted for the leading emotion (0 without faces)
    confidence: float  #: mean probability of the leading emotion in the frames that chose it
    face_frames: int
    total_frames: int
    counts: dict[str, int] = field(default_factory=dict)  #: votes per label
    leading: str | None = None  #: the most voted emotion, also when the outcome is not "mood"

    def describe(self) -> str:
        """One line for people: what was seen and why it does or does not count."""
        seen = f"{self.face_frames} of {self.total_frames} frames with a face"
        if self.outcome == "no_face":
            return f"no face ({seen})"
        text = (
            f"{self.leading} in {self.share:.0%} of face frames, confidence {self.confidence:.2f}"
        )
        if self.outcome == "uncertain":
            return f"uncertain: {text} ({seen})"
        return f"{text} ({seen})"


def tally(
    probs: np.ndarray,
    labels: Sequence[str],
    total_frames: int,
    min_face_frames: int,
    min_share: float,
) -> MoodResult:
    """The mood of a window from the probabilities [face_frames, len(labels)] of its face frames.

    ``total_frames`` counts every frame of the window, with or without a face.
    """
    probs = np.asarray(probs, dtype=np.float32).reshape(-1, len(labels))
    face_frames = len(probs)
    if total_frames < face_frames:
        raise ValueError("total_frames cannot be less than the number of face frames")
    votes = probs.argmax(axis=1)
    counts_array = np.bincount(votes, minlength=len(labels))
    counts = {label: int(n) for label, n in zip(labels, counts_array, strict=True)}
    if face_frames == 0:
        return MoodResult("no_face", None, 0.0, 0.0, 0, total_frames, counts)
    # Most votes first, then the larger summed probability.
    order = np.lexsort((-probs.sum(axis=0), -counts_array))
    best = int(order[0])
    share = float(counts_array[best] / face_frames)
    confidence = float(probs[votes == best, best].mean())
    leading = labels[best]
    if face_frames < min_face_frames:
        outcome: Outcome = "no_face"
    elif share < min_share:
        outcome = "uncertain"
    else:
        outcome = "mood"
    emotion = leading if outcome == "mood" else None
    return MoodResult(
        outcome, emotion, share, confidence, face_frames, total_frames, counts, leading
    )
