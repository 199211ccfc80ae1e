"""Face landmarks from one BGR image with MediaPipe, always from the same model and face crop.

MediaPipe's 478-point face mesh depends a little on how the face was cropped before the mesh
model saw it. Holistic crops the face from its pose detector (it needs a body, so it finds
most tight face crops but almost no face in a webcam-like frame without shoulders); FaceMesh
crops it from a face detector of its own. A model trained on one kind of crop reads the other
slightly differently, so the reading would depend on how the person sits. The extractor
therefore takes the face from FaceMesh (``static_image_mode`` always, so its crop always comes
from the face detector, never from the previous frame's mesh), first on the image and then
on the image with a margin around it (its detector misses faces that fill the whole image).
Holistic (``model_complexity=1``, the only complexity whose models ship inside the
``mediapipe==0.10.21`` wheel) is only the last resort for the few faces FaceMesh misses.

Small images are upscaled before MediaPipe sees them: its detectors work poorly on faces
under about 100 pixels. The extractor never stores an image.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: Bump when what ``extract`` returns for the same image changes (it keys the landmark cache).
EXTRACTOR_VERSION = 2
#: Points in MediaPipe's refined face mesh (468 mesh points + 10 iris points).
FACE_POINTS = 478
#: Images whose shorter side is below this are upscaled to it before detection.
MIN_SIDE = 192
#: Detection threshold of FaceMesh's face detector (Holistic keeps MediaPipe's default 0.5).
FACE_CONFIDENCE = 0.3
#: Margin added on each side (as a fraction of the size) for the last, padded attempt.
PAD_FRACTION = 0.25


@dataclass(frozen=True)
class Landmarks:
    """One face's landmarks in pixel units of the analysed image (x right, y down, z depth).

    ``face`` is float32 [478, 3]; MediaPipe's z uses the same scale as x. ``pose`` is
    [33, 4] (x, y, z, visibility) and the hands [21, 3], or None when absent (always None when
    the face came from the FaceMesh fallback).
    """

    face: np.ndarray
    image_size: tuple[int, int]  #: (width, height) of the image the landmarks refer to
    source: str  #: "holistic", "face_mesh" or "face_mesh_padded"
    pose: np.ndarray | None = None
    left_hand: np.ndarray | None = None
    right_hand: np.ndarray | None = None


def import_mediapipe() -> Any:
    """``import mediapipe`` without letting it import TensorFlow.

    mediapipe 0.10.21 imports TensorFlow, if it is installed, only to open files in its Tasks
    metadata module (and falls back to ``open`` without it). That costs ~5 s and ~700 MB in a
    program that never trains, so TensorFlow is hidden while mediapipe is imported, unless it
    is already loaded.
    """
    if "mediapipe" in sys.modules or "tensorflow" in sys.modules:
        import mediapipe

        return mediapipe
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # "import tensorflow" fails
    try:
        import mediapipe
    finally:
        if sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return mediapipe


def _to_pixels(landmark_list: Any, width: int, height: int, with_visibility: bool = False):
    rows = [
        (p.x * width, p.y * height, p.z * width, p.visibility)
        if with_visibility
        else (p.x * width, p.y * height, p.z * width)
        for p in landmark_list.landmark
    ]
    return np.asarray(rows, dtype=np.float32)


def _prepare(bgr: np.ndarray) -> np.ndarray:
    """RGB uint8 with a shorter side of at least MIN_SIDE pixels."""
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    elif bgr.shape[2] == 4:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_BGRA2BGR)
    height, width = bgr.shape[:2]
    side = min(height, width)
    if side < MIN_SIDE:
        scale = MIN_SIDE / side
        size = (round(width * scale), round(height * scale))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class LandmarkExtractor:
    """MediaPipe graphs for one thread; use as a context manager so they are closed.

    ``static_image_mode`` applies to the Holistic fallback only (False lets it track a body
    between consecutive video frames); the face mesh always comes from a fresh face detection,
    as in training. ``fallback=False`` leaves Holistic out.
    """

    def __init__(self, *, static_image_mode: bool = True, fallback: bool = True):
        self.static_image_mode = static_image_mode
        self.fallback = fallback
        self._holistic: Any = None
        self._face_mesh: Any = None

    def open(self) -> LandmarkExtractor:
        if self._face_mesh is None:
            mp = import_mediapipe()
            self._face_mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=FACE_CONFIDENCE,
            )
            if self.fallback:
                self._holistic = mp.solutions.holistic.Holistic(
                    static_image_mode=self.static_image_mode,
                    model_complexity=1,
                    refine_face_landmarks=True,
                )
        return self

    def close(self) -> None:
        for graph in (self._holistic, self._face_mesh):
            if graph is not None:
                graph.close()
        self._holistic = self._face_mesh = None

    def __enter__(self) -> LandmarkExtractor:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extract(self, bgr: np.ndarray) -> Landmarks | None:
        """The landmarks of the (most prominent) face in a BGR image, or None if none is found."""
        if self._face_mesh is None:
            self.open()
        if bgr is None or bgr.ndim not in (2, 3) or bgr.size == 0:
            raise ValueError("extract() needs a non-empty BGR image array")
        rgb = _prepare(bgr)
        height, width = rgb.shape[:2]
        face = self._face_mesh_face(rgb)
        if face is not None:
            return Landmarks(face=face, image_size=(width, height), source="face_mesh")
        pad = round(PAD_FRACTION * max(height, width))
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        face = self._face_mesh_face(padded)
        if face is not None:
            face[:, :2] -= pad  # back into the unpadded image's coordinates
            return Landmarks(face=face, image_size=(width, height), source="face_mesh_padded")
        if self._holistic is None:
            return None
        result = self._holistic.process(rgb)
        if result.face_landmarks is None:
            return None
        return Landmarks(
            face=_to_pixels(result.face_landmarks, width, height),
            image_size=(width, height),
            source="holistic",
            pose=_optional(result.pose_landmarks, width, height, with_visibility=True),
            left_hand=_optional(result.left_hand_landmarks, width, height),
            right_hand=_optional(result.right_hand_landmarks, width, height),
        )

    def _face_mesh_face(self, rgb: np.ndarray) -> np.ndarray | None:
        result = self._face_mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        height, width = rgb.shape[:2]
        return _to_pixels(result.multi_face_landmarks[0], width, height)


def _optional(landmark_list: Any, width: int, height: int, with_visibility: bool = False):
    if landmark_list is None:
        return None
    return _to_pixels(landmark_list, width, height, with_visibility)
