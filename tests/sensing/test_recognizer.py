"""Frame -> emotion and window -> mood, with real MediaPipe, the real default model and real
video files of faces standing in for the webcam."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.sensing.camera import Frame, open_camera
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.landmarks import LandmarkExtractor
from emusify.sensing.recognizer import Recognizer

ASSETS = Path(__file__).parent.parent / "assets"


@pytest.fixture(scope="module")
def recognizer():
    with LandmarkExtractor() as extractor:
        yield Recognizer(EmotionModel.load("default"), extractor)


def test_a_happy_face_is_happy(recognizer):
    prediction = recognizer.classify(cv2.imread(str(ASSETS / "faces" / "happy_0.png")))
    assert prediction is not None
    assert prediction.emotion == "happy"
    assert prediction.confidence == max(prediction.probs.values()) > 0.5
    assert sum(prediction.probs.values()) == pytest.approx(1, abs=1e-4)
    assert prediction.landmarks.face.shape == (478, 3)


def test_a_frame_is_read_as_the_mean_of_its_views(recognizer):
    """What a check keeps of a frame: every view's feature vector and the mean reading."""
    from emusify.sensing.features import FEATURE_SIZE
    from emusify.sensing.landmarks import VIEWS

    found = recognizer.analyse(cv2.imread(str(ASSETS / "faces" / "sad_1.png")))
    assert found is not None
    assert found.features.shape == (len(VIEWS), FEATURE_SIZE)
    readings = recognizer.model.predict(found.features)
    np.testing.assert_allclose(found.probs, readings.mean(axis=0), atol=1e-6)
    assert len({tuple(np.round(r, 3)) for r in readings}) == len(VIEWS)  # four readings


def test_no_face_gives_none(recognizer):
    assert recognizer.classify(np.full((480, 640, 3), 40, np.uint8)) is None


@pytest.mark.parametrize("emotion", ["happy", "sad"])
def test_a_window_of_video_gives_the_mood_on_the_faces(recognizer, emotion):
    with open_camera(str(ASSETS / f"{emotion}_faces.mp4")) as cam:
        result = recognizer.observe(cam.sample(fps=5, seconds=20), min_face_frames=8, min_share=0.4)
    assert result.outcome == "mood" and result.emotion == emotion
    assert result.total_frames == 40 and result.face_frames >= 36
    assert sum(result.counts.values()) == result.face_frames


def test_a_window_without_faces_is_no_face(recognizer):
    frames = [
        Frame(np.full((240, 320, 3), v, np.uint8), t) for t, v in enumerate(range(0, 200, 20))
    ]
    result = recognizer.observe(iter(frames), min_face_frames=3, min_share=0.4)
    assert result.outcome == "no_face" and result.emotion is None
    assert (result.face_frames, result.total_frames) == (0, 10)


def test_too_few_faces_in_a_window_is_no_face(recognizer):
    face = cv2.resize(cv2.imread(str(ASSETS / "faces" / "happy_0.png")), (192, 192))
    blank = np.zeros((192, 192, 3), np.uint8)
    frames = [Frame(face if i < 2 else blank, i / 4) for i in range(12)]
    result = recognizer.observe(frames, min_face_frames=3, min_share=0.4)
    assert result.outcome == "no_face" and result.face_frames == 2 and result.total_frames == 12
