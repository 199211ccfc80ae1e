"""The window tally: the rules that turn per-frame probabilities into a mood, or none."""

from __future__ import annotations

import numpy as np
import pytest

from emusify.sensing.mood import MoodResult, tally

LABELS = ["angry", "happy", "sad"]


def frames(*rows: list[float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


def test_the_most_voted_emotion_is_the_mood_with_its_share_and_confidence():
    probs = frames(
        [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.1, 0.7, 0.2], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]
    )
    result = tally(probs, LABELS, total_frames=8, min_face_frames=3, min_share=0.5)
    assert result.outcome == "mood" and result.emotion == "happy"
    assert result.share == pytest.approx(3 / 5)
    assert result.confidence == pytest.approx((0.8 + 0.6 + 0.7) / 3)
    assert (result.face_frames, result.total_frames) == (5, 8)
    assert result.counts == {"angry": 1, "happy": 3, "sad": 1}
    assert "happy" in result.describe() and "5 of 8" in result.describe()


def test_too_few_face_frames_is_no_face_not_an_error():
    probs = frames([0.1, 0.9, 0.0], [0.1, 0.9, 0.0])
    result = tally(probs, LABELS, total_frames=40, min_face_frames=8, min_share=0.4)
    assert result.outcome == "no_face" and result.emotion is None
    assert result.face_frames == 2 and result.leading == "happy"


def test_no_faces_at_all():
    result = tally(np.zeros((0, 3)), LABELS, total_frames=30, min_face_frames=1, min_share=0.4)
    assert result == MoodResult("no_face", None, 0.0, 0.0, 0, 30, {k: 0 for k in LABELS})
    assert result.describe().startswith("no face")


def test_a_split_window_is_uncertain():
    probs = frames(*[[0.6, 0.3, 0.1]] * 4, *[[0.1, 0.6, 0.3]] * 3, *[[0.1, 0.3, 0.6]] * 3)
    result = tally(probs, LABELS, total_frames=10, min_face_frames=5, min_share=0.5)
    assert result.outcome == "uncertain" and result.emotion is None
    assert result.leading == "angry" and result.share == pytest.approx(0.4)
    assert result.describe().startswith("uncertain")


def test_a_share_exactly_at_the_threshold_counts():
    probs = frames(*[[0.6, 0.3, 0.1]] * 2, *[[0.1, 0.6, 0.3]] * 2)
    result = tally(probs, LABELS, total_frames=4, min_face_frames=4, min_share=0.5)
    assert result.outcome == "mood"


def test_tied_votes_go_to_the_larger_summed_probability():
    probs = frames([0.5, 0.4, 0.1], [0.5, 0.4, 0.1], [0.05, 0.9, 0.05], [0.0, 0.95, 0.05])
    result = tally(probs, LABELS, total_frames=4, min_face_frames=1, min_share=0.4)
    assert result.emotion == "happy"


def test_more_face_frames_than_frames_is_a_programming_error():
    with pytest.raises(ValueError):
        tally(frames([0.2, 0.5, 0.3]), LABELS, total_frames=0, min_face_frames=1, min_share=0.4)
