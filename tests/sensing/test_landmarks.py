"""Landmark extraction: real MediaPipe on real face images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.sensing.features import point_mirror
from emusify.sensing.landmarks import (
    CROP_SIDE,
    FACE_POINTS,
    FRAME_SIZE,
    VIEWS,
    LandmarkExtractor,
    face_crop,
)

FACES = Path(__file__).parent.parent / "assets" / "faces"


@pytest.fixture(scope="module")
def extractor():
    with LandmarkExtractor() as ex:
        yield ex


@pytest.mark.parametrize("name", ["happy_0.png", "sad_1.png", "surprise_2.png"])
def test_finds_the_face_in_a_small_grey_photo(extractor, name):
    image = cv2.imread(str(FACES / name))  # 48x48, upscaled inside
    lm = extractor.extract(image)
    assert lm is not None
    assert lm.face.shape == (FACE_POINTS, 3) and lm.face.dtype == np.float32
    width, height = lm.image_size
    assert width == height >= 192
    xy = lm.face[:, :2]
    assert (xy > -0.1 * width).all() and (xy < 1.1 * width).all()
    # The face's right eye (landmark 33) is on the image's left, the chin below the nose.
    assert lm.face[33, 0] < lm.face[263, 0]
    assert lm.face[152, 1] > lm.face[1, 1]


def test_landmarks_follow_the_face_in_a_bigger_frame(extractor):
    face = cv2.resize(cv2.imread(str(FACES / "happy_0.png")), (160, 160))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[200:360, 400:560] = face  # a webcam-like frame with the face off centre
    lm = extractor.extract(frame)
    assert lm is not None
    assert lm.image_size == (640, 480)
    centre = lm.face[:, :2].mean(axis=0)
    assert 400 < centre[0] < 560 and 200 < centre[1] < 360


def test_a_face_gets_the_same_landmarks_as_a_tight_crop_and_in_a_webcam_frame(extractor):
    """One face model and one kind of face crop whether or not the image shows a body, so the
    reading does not depend on how the person sits (Holistic only when FaceMesh fails)."""
    from emusify.sensing.features import landmark_features

    pairs = [("sad_1", "happy_1"), ("happy_0", "sad_1"), ("surprise_0", "angry_0")]
    pairs += [("angry_1", "happy_2"), ("neutral_0", "happy_0")]
    ratios = []
    for name, other_name in pairs:
        crop = cv2.imread(str(FACES / f"{name}.png"))
        frame = np.full((480, 640, 3), 128, np.uint8)
        frame[144:336, 224:416] = cv2.resize(crop, (192, 192), interpolation=cv2.INTER_CUBIC)
        tight, framed = extractor.extract(crop), extractor.extract(frame)
        other = extractor.extract(cv2.imread(str(FACES / f"{other_name}.png")))
        assert tight is not None and framed is not None and other is not None
        assert {tight.source, framed.source} <= {"face_mesh", "face_mesh_padded"}
        x = landmark_features(tight)
        ratios.append(
            np.linalg.norm(landmark_features(framed) - x)
            / np.linalg.norm(landmark_features(other) - x)
        )
    # Each face is closer to itself in the other setting than to another face, most much closer.
    assert max(ratios) < 1 and np.median(ratios) < 0.5, ratios


def _in_frame(crop: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[144:336, 224:416] = cv2.resize(crop, (192, 192), interpolation=cv2.INTER_CUBIC)
    return frame


def test_a_tight_crop_is_read_in_four_views_the_reframed_one_webcam_sized(extractor):
    views = extractor.views(cv2.imread(str(FACES / "sad_1.png")))
    assert len(views) == len(VIEWS) and all(v is not None for v in views)
    assert [v.image_size for v in views] == [(192, 192)] * 2 + [FRAME_SIZE] * 2
    image, mirrored, framed, framed_mirrored = (v.face for v in views)
    # The mirrored view is another reading of the same face: mirrored back, point for point
    # (the face's right eye is the mirrored face's left), it nearly matches the image's mesh.
    back = 192 - mirrored[point_mirror(), 0]
    assert np.median(np.abs(back - image[:, 0])) < 0.04 * 192  # 4 % of the width
    assert np.median(np.abs(back - image[:, 0])) > 0  # a reading of its own, not a copy
    back = FRAME_SIZE[0] - framed_mirrored[point_mirror(), 0]
    assert np.median(np.abs(back - framed[:, 0])) < 0.04 * FRAME_SIZE[0]


def test_a_face_in_a_webcam_frame_is_reframed_as_a_tight_crop(extractor):
    views = extractor.views(_in_frame(cv2.imread(str(FACES / "happy_0.png"))))
    assert all(v is not None for v in views)
    assert [v.image_size for v in views] == [FRAME_SIZE] * 2 + [(CROP_SIDE, CROP_SIDE)] * 2
    tight = views[2].face[:, :2]
    span = tight.max(axis=0) - tight.min(axis=0)
    assert 0.7 * CROP_SIDE < span[0] < 0.95 * CROP_SIDE  # the canonical crop's share


def test_a_crop_and_its_webcam_frame_give_nearly_the_same_views(extractor):
    """Reframing goes through one canonical crop, so how the face was framed matters little:
    each view of the crop is closer to the matching view of the frame than to another face."""
    from emusify.sensing.features import features_from_faces

    crop = cv2.imread(str(FACES / "surprise_0.png"))
    other = cv2.imread(str(FACES / "happy_1.png"))
    a = features_from_faces(np.stack([v.face for v in extractor.views(crop)]))
    b = features_from_faces(np.stack([v.face for v in extractor.views(_in_frame(crop))]))
    c = features_from_faces(np.stack([v.face for v in extractor.views(other)]))
    matching = [(0, 2), (1, 3), (2, 0), (3, 1)]  # image <-> reframed, mirrored <-> its pair
    for i, j in matching:
        assert np.linalg.norm(a[i] - b[j]) < np.linalg.norm(a[i] - c[i])


def test_the_canonical_crop_is_square_and_centred_on_the_face(extractor):
    frame = _in_frame(cv2.imread(str(FACES / "angry_0.png")))
    lm = extractor.extract(frame)
    crop = face_crop(frame, lm.face)
    assert crop.shape == (CROP_SIDE, CROP_SIDE, 3)
    again = extractor.extract(crop)
    assert again is not None
    centre = again.face[:, :2].mean(axis=0)
    assert np.all(np.abs(centre - CROP_SIDE / 2) < 0.15 * CROP_SIDE)


def test_an_image_without_a_face_has_no_view(extractor):
    assert extractor.views(np.full((240, 320, 3), 128, np.uint8)) == [None] * len(VIEWS)


def test_an_image_without_a_face_gives_none(extractor):
    rng = np.random.default_rng(0)
    assert extractor.extract(np.full((240, 320, 3), 128, np.uint8)) is None
    assert extractor.extract(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) is None


def test_grey_and_bgra_images_are_accepted(extractor):
    grey = cv2.imread(str(FACES / "happy_1.png"), cv2.IMREAD_GRAYSCALE)
    assert extractor.extract(grey) is not None
    assert extractor.extract(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGRA)) is not None


def test_close_releases_the_graphs_and_a_closed_extractor_reopens():
    ex = LandmarkExtractor()
    with ex:
        assert ex._face_mesh is not None
        assert ex._holistic is None  # made only when FaceMesh finds no face
        assert ex.extract(np.full((240, 320, 3), 128, np.uint8)) is None
        assert ex._holistic is not None
    assert ex._holistic is None and ex._face_mesh is None
    assert ex.extract(cv2.imread(str(FACES / "happy_0.png"))) is not None  # opens on demand
    ex.close()


def test_run_time_pipeline_never_imports_tensorflow():
    """TensorFlow costs ~5 s and ~700 MB: only training may load it (mediapipe would)."""
    code = (
        "import sys, cv2\n"
        "from emusify.sensing.landmarks import LandmarkExtractor\n"
        "from emusify.sensing.recognizer import Recognizer\n"
        "with LandmarkExtractor() as ex:\n"
        f"    assert ex.extract(cv2.imread({str(FACES / 'happy_0.png')!r})) is not None\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
