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

One mesh is a noisy reading: the same face's mesh changes with the face crop the mesh model
sees (the readings of a tight crop and of the same face in a webcam frame agree on only about
three faces in four). ``views`` therefore reads each picture four ways, as it is, mirrored,
reframed the other way (a tight crop put into a webcam-sized frame, or the face cut out of a
webcam frame as a tight crop) and that mirrored, and the recognizer averages the model's
readings of all four (validation accuracy 0.635-0.647 with one view, 0.669 with four; see
docs/model.md). Because the reframing goes through one canonical crop of the face, a tight
crop and a webcam frame of the same face give nearly the same four views.
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
EXTRACTOR_VERSION = 3
#: Points in MediaPipe's refined face mesh (468 mesh points + 10 iris points).
FACE_POINTS = 478
#: Images whose shorter side is below this are upscaled to it before detection.
MIN_SIDE = 192
#: Detection threshold of FaceMesh's face detector (Holistic keeps MediaPipe's default 0.5).
FACE_CONFIDENCE = 0.3
#: Margin added on each side (as a fraction of the size) for the last, padded attempt.
PAD_FRACTION = 0.25
#: The views of one picture (see ``LandmarkExtractor.views``), in order.
VIEWS = ("image", "mirrored", "reframed", "reframed_mirrored")
#: A face whose mesh spans at least this share of the image's width fills the image (a tight
#: crop); its reframed view puts it into a webcam-sized frame, else the face is cut out.
TIGHT_SHARE = 0.5
#: The canonical tight crop: a square of CROP_SIDE pixels in which the mesh spans these shares
#: of the width and the height, its middle this share of the side below the crop's middle
#: (the medians over FER2013's training faces).
CROP_SIDE = 192
CROP_SPAN = (0.81, 0.91)
CROP_DROP = 0.04
#: The webcam-sized frame (width, height) a tight crop is put into, and its grey level (the
#: layout of ``../shared/tools/frame-faces.py``).
FRAME_SIZE = (640, 480)
FRAME_GREY = 128


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


def webcam_frame(image: np.ndarray) -> np.ndarray:
    """The image centred in a mid-grey 640x480 frame, as a webcam would show the face: 48x48
    FER2013 faces scaled 4x, larger images at most 400 pixels on their longer side (the
    layout of ``../shared/tools/frame-faces.py``). Keeps the channel order."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    height, width = image.shape[:2]
    if (height, width) == (48, 48):
        image = cv2.resize(image, (192, 192), interpolation=cv2.INTER_CUBIC)
    elif max(height, width) > 400:
        scale = 400 / max(height, width)
        size = (round(width * scale), round(height * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    frame_width, frame_height = FRAME_SIZE
    out = np.full((frame_height, frame_width, 3), FRAME_GREY, np.uint8)
    top, left = (frame_height - height) // 2, (frame_width - width) // 2
    out[top : top + height, left : left + width] = image
    return out


def face_crop(image: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The canonical tight crop (CROP_SIDE square) of the face whose mesh is ``face`` (pixels
    of ``image``); edges beyond the image repeat its border, as in a cropped photo."""
    x0, y0 = face[:, :2].min(axis=0)
    x1, y1 = face[:, :2].max(axis=0)
    side = max((x1 - x0) / CROP_SPAN[0], (y1 - y0) / CROP_SPAN[1], 1.0)
    scale = CROP_SIDE / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CROP_DROP * side
    half = CROP_SIDE / 2
    warp = np.float32([[scale, 0, half - cx * scale], [0, scale, half - cy * scale]])
    shrink = scale < 1
    return cv2.warpAffine(
        image,
        warp,
        (CROP_SIDE, CROP_SIDE),
        flags=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )


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
        return self

    def _holistic_graph(self) -> Any:
        """Holistic, made on first need: it is rarely needed (FaceMesh finds almost every
        face) and loading its pose and hand models would cost every mood check's worker."""
        if self._holistic is None:
            self._holistic = import_mediapipe().solutions.holistic.Holistic(
                static_image_mode=self.static_image_mode,
                model_complexity=1,
                refine_face_landmarks=True,
            )
        return self._holistic

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
        return self._extract(self._rgb(bgr))

    def views(self, bgr: np.ndarray) -> list[Landmarks | None]:
        """The face's landmarks in each of the VIEWS of a BGR image (None where not found;
        all None without a face). Each view's landmarks are in that view's pixels: a mirrored
        view holds a mirrored face, which the model reads as it reads the face itself."""
        rgb = self._rgb(bgr)
        found = self._extract(rgb)
        mirrored = self._extract(_mirror(rgb), holistic=found is not None)
        if found is not None:
            face = found.face
        elif mirrored is not None:
            face = mirrored.face.copy()
            face[:, 0] = rgb.shape[1] - face[:, 0]  # back into the image's pixels
        else:
            return [None] * len(VIEWS)
        crop = face_crop(rgb, face)
        width = float(np.ptp(face[:, 0]))
        other = webcam_frame(crop) if width >= TIGHT_SHARE * rgb.shape[1] else crop
        return [found, mirrored, self._extract(other), self._extract(_mirror(other))]

    def _rgb(self, bgr: np.ndarray) -> np.ndarray:
        if self._face_mesh is None:
            self.open()
        if bgr is None or bgr.ndim not in (2, 3) or bgr.size == 0:
            raise ValueError("extract() needs a non-empty BGR image array")
        return _prepare(bgr)

    def _extract(self, rgb: np.ndarray, holistic: bool = True) -> Landmarks | None:
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
        if not (self.fallback and holistic):
            return None
        result = self._holistic_graph().process(rgb)
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


def _mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def _optional(landmark_list: Any, width: int, height: int, with_visibility: bool = False):
    if landmark_list is None:
        return None
    return _to_pixels(landmark_list, width, height, with_visibility)
