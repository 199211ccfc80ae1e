"""The feature vector: one function for collection, training and run time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.sensing.features import (
    FEATURE_SIZE,
    KEY_POINTS,
    features_from_faces,
    landmark_features,
    mirror_map,
    point_mirror,
)
from emusify.sensing.landmarks import LandmarkExtractor, Landmarks

FACES = Path(__file__).parent.parent / "assets" / "faces"


@pytest.fixture(scope="module")
def extractor():
    with LandmarkExtractor() as ex:
        yield ex


@pytest.fixture(scope="module")
def face(extractor) -> Landmarks:
    lm = extractor.extract(cv2.imread(str(FACES / "surprise_0.png")))
    assert lm is not None
    return lm


def transformed(lm: Landmarks, angle_deg: float, scale: float, shift: tuple[float, float]):
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    face = lm.face.copy()
    face[:, :2] = face[:, :2] @ rot.T * scale + shift
    face[:, 2] *= scale
    return Landmarks(face.astype(np.float32), lm.image_size, lm.source)


def test_vector_has_the_declared_size_and_is_finite(face):
    x = landmark_features(face)
    assert x.shape == (FEATURE_SIZE,) and x.dtype == np.float32
    assert np.isfinite(x).all()


def test_position_size_and_in_plane_rotation_do_not_matter(face):
    x = landmark_features(face)
    for angle, scale, shift in [(0, 1, (300, -40)), (0, 3.5, (0, 0)), (25, 0.4, (12, 80))]:
        y = landmark_features(transformed(face, angle, scale, shift))
        np.testing.assert_allclose(y, x, atol=1e-4)


def test_turning_the_head_out_of_the_image_plane_does_not_matter(face):
    """The alignment undoes any 3-D rotation: the vector describes the expression, not the pose."""
    x = landmark_features(face)
    for yaw, pitch in [(25, 0), (0, -20), (-15, 10)]:
        a, b = np.deg2rad(yaw), np.deg2rad(pitch)
        turn_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        turn_x = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        centre = face.face.mean(axis=0)
        turned = (face.face - centre) @ (turn_x @ turn_y).T * 1.7 + centre
        y = landmark_features(Landmarks(turned.astype(np.float32), face.image_size, face.source))
        np.testing.assert_allclose(y, x, atol=1e-4)


def test_a_rotated_photo_gives_nearly_the_same_vector(extractor, face):
    image = cv2.resize(cv2.imread(str(FACES / "surprise_0.png")), (192, 192))
    turn = cv2.getRotationMatrix2D((96, 96), 15, 1.0)
    rotated = cv2.warpAffine(image, turn, (192, 192), borderMode=cv2.BORDER_REPLICATE)
    lm = extractor.extract(rotated)
    assert lm is not None
    x, y = landmark_features(face), landmark_features(lm)
    other = landmark_features(extractor.extract(cv2.imread(str(FACES / "happy_0.png"))))
    # Closer to the same face upright than to another face.
    assert np.linalg.norm(y - x) < 0.5 * np.linalg.norm(other - x)


def test_batch_and_single_forms_agree(face, extractor):
    other = extractor.extract(cv2.imread(str(FACES / "angry_0.png")))
    batch = features_from_faces(np.stack([face.face, other.face]))
    np.testing.assert_array_equal(batch[0], landmark_features(face))
    np.testing.assert_array_equal(batch[1], landmark_features(other))


def test_left_right_pairs_match_what_mediapipe_sees_in_a_flipped_photo(extractor):
    """Landmark i of the flipped image is landmark mirror[i] of the original."""
    errors = []
    for name in ("neutral_0.png", "happy_2.png"):
        image = cv2.imread(str(FACES / name))
        a, b = extractor.extract(image), extractor.extract(cv2.flip(image, 1))
        unflipped = b.face.copy()
        unflipped[:, 0] = b.image_size[0] - unflipped[:, 0]
        eye_distance = np.linalg.norm(a.face[33, :2] - a.face[263, :2])
        errors.append(
            np.linalg.norm(unflipped[:, :2] - a.face[point_mirror(), :2], axis=1) / eye_distance
        )
    assert np.median(np.concatenate(errors)) < 0.08


def test_mirror_map_turns_features_into_those_of_the_mirrored_face(face):
    flipped = face.face.copy()
    flipped[:, 0] = -flipped[:, 0]
    flipped = flipped[point_mirror()]  # relabel: the left eye is now the right one
    mirrored = landmark_features(Landmarks(flipped, face.image_size, face.source))
    index, sign = mirror_map()
    np.testing.assert_allclose(landmark_features(face)[index] * sign, mirrored, atol=1e-4)


def test_mirror_tables_are_consistent():
    mirror = point_mirror()
    assert (mirror[mirror] == np.arange(len(mirror))).all()
    assert {int(mirror[p]) for p in KEY_POINTS} == set(KEY_POINTS)
    index, _ = mirror_map()
    assert sorted(index) == list(range(FEATURE_SIZE))
