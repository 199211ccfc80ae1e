"""Frame -> emotion, and a window of frames -> mood: landmarks, features and model joined.

The mood-check worker (``sensing/worker.py``) calls ``analyse`` on each frame and keeps the
probabilities and feature vectors; ``detect`` and ``evaluate`` use ``classify`` and
``observe``. Frames are analysed as they arrive and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from emusify.sensing.camera import Frame
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.features import landmark_features
from emusify.sensing.landmarks import LandmarkExtractor, Landmarks
from emusify.sensing.mood import MoodResult, tally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FramePrediction:
    emotion: str
    confidence: float  #: the probability of ``emotion``
    probs: dict[str, float]  #: every label's probability
    landmarks: Landmarks


@dataclass(frozen=True)
class FrameAnalysis:
    """The numbers one frame gives: what a mood check keeps (never the image)."""

    probs: np.ndarray  #: float32 [len(labels)]
    features: np.ndarray  #: float32 [FEATURE_SIZE], the model's input
    landmarks: Landmarks


class Recognizer:
    def __init__(self, model: EmotionModel, extractor: LandmarkExtractor):
        self.model = model
        self.extractor = extractor

    def analyse(self, bgr: np.ndarray) -> FrameAnalysis | None:
        """Landmarks, features and probabilities of one BGR image; None without a face."""
        lm = self.extractor.extract(bgr)
        if lm is None:
            return None
        features = landmark_features(lm)
        return FrameAnalysis(self.model.predict(features[None])[0], features, lm)

    def classify(self, bgr: np.ndarray) -> FramePrediction | None:
        """The emotion on the face in one BGR image, or None when no face is found."""
        found = self.analyse(bgr)
        if found is None:
            return None
        probs, lm = found.probs, found.landmarks
        best = int(probs.argmax())
        return FramePrediction(
            emotion=self.model.labels[best],
            confidence=float(probs[best]),
            probs={label: float(p) for label, p in zip(self.model.labels, probs, strict=True)},
            landmarks=lm,
        )

    def observe(
        self, frames: Iterable[Frame], min_face_frames: int, min_share: float
    ) -> MoodResult:
        """Analyse every frame of a window and tally them (see ``mood.tally`` for the rules)."""
        rows: list[np.ndarray] = []
        total = 0
        for frame in frames:
            total += 1
            found = self.analyse(frame.image)
            if found is not None:
                rows.append(found.probs)
        probs = np.stack(rows) if rows else np.zeros((0, len(self.model.labels)), np.float32)
        result = tally(probs, self.model.labels, total, min_face_frames, min_share)
        log.info("window: %s", result.describe())
        return result
