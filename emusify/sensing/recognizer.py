"""Frame -> emotion, and a window of frames -> mood: landmarks, features and model joined.

The mood-check worker (``sensing/worker.py``) calls ``analyse`` on each frame and keeps the
probabilities and feature vectors; ``detect`` uses ``classify`` and ``observe``. A frame's
reading is the mean of the model's readings of its views (``LandmarkExtractor.views``), as in
training and ``evaluate``. Frames are analysed as they arrive and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from emusify.sensing.camera import Frame
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.features import view_features
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

    probs: np.ndarray  #: float32 [len(labels)], the mean over the views with a face
    features: np.ndarray  #: float32 [views with a face, FEATURE_SIZE], the model's inputs
    landmarks: Landmarks  #: of the first view with a face (the image itself, as a rule)


class Recognizer:
    def __init__(self, model: EmotionModel, extractor: LandmarkExtractor):
        self.model = model
        self.extractor = extractor

    def analyse(self, bgr: np.ndarray) -> FrameAnalysis | None:
        """Landmarks, features and probabilities of one BGR image; None without a face."""
        views = self.extractor.views(bgr)
        features = view_features(views)
        if not len(features):
            return None
        probs = self.model.predict(features).mean(axis=0, dtype=np.float64)
        first = next(lm for lm in views if lm is not None)
        return FrameAnalysis(probs.astype(np.float32), features, first)

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
