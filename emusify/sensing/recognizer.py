"""Frame -> emotion, and a window of frames -> mood: landmarks, features and model joined.

The daemon uses it as::

    with LandmarkExtractor() as extractor:
        recognizer = Recognizer(EmotionModel.load(cfg.model), extractor)
        with open_camera(...) as cam:
            result = recognizer.observe(cam.sample(fps, seconds), min_face_frames, min_share)

Frames are analysed as they arrive and dropped; only the probabilities are kept.
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


class Recognizer:
    def __init__(self, model: EmotionModel, extractor: LandmarkExtractor):
        self.model = model
        self.extractor = extractor

    def probabilities(self, bgr: np.ndarray) -> tuple[np.ndarray, Landmarks] | None:
        """(probabilities [len(labels)], landmarks) for one BGR image, or None without a face."""
        lm = self.extractor.extract(bgr)
        if lm is None:
            return None
        return self.model.predict(landmark_features(lm)[None])[0], lm

    def classify(self, bgr: np.ndarray) -> FramePrediction | None:
        """The emotion on the face in one BGR image, or None when no face is found."""
        found = self.probabilities(bgr)
        if found is None:
            return None
        probs, lm = found
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
            found = self.probabilities(frame.image)
            if found is not None:
                rows.append(found[0])
        probs = np.stack(rows) if rows else np.zeros((0, len(self.model.labels)), np.float32)
        result = tally(probs, self.model.labels, total, min_face_frames, min_share)
        log.info("window: %s", result.describe())
        return result
