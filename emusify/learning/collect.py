"""Recording a person's own landmark samples for one emotion, from a camera or video file.

One call of :func:`collect` is one session: frames are read, the face's landmarks in each
view of the frame (``LandmarkExtractor.views``, as a mood check reads it) become feature
vectors, and the vectors go to a :class:`~emusify.learning.samples.SessionWriter` that is
checkpointed every few seconds, so a crash loses at most that much. Ctrl-C, SIGTERM, the
target count, the end of a video file or ``q`` in the preview all end the session the same
way: what was recorded is saved. Frames never leave memory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import cv2
import numpy as np

from emusify import paths
from emusify.desktop.display import display_available
from emusify.errors import CameraError, DataError
from emusify.learning.samples import SessionWriter, check_emotion_name
from emusify.sensing.camera import Camera, Frame
from emusify.sensing.check import describe_source
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION, view_features
from emusify.sensing.landmarks import LandmarkExtractor, Landmarks, import_mediapipe

log = logging.getLogger(__name__)

#: Long enough for any session: collection ends on the target count or when stopped.
_OPEN_ENDED = 24 * 3600.0


@dataclass(frozen=True)
class CollectSettings:
    emotion: str
    #: samples to record: a frame with a face gives one per view it is found in (up to four,
    #: ``LandmarkExtractor.views``), as a mood check reads it
    target: int = 1000
    countdown: float = 3.0  #: seconds shown before recording starts
    fps: float = 10.0  #: frames analysed per second
    checkpoint_seconds: float = 5.0  #: at most this much is lost if the process is killed
    out_dir: Path | None = None  #: samples folder; the user data directory if None

    def __post_init__(self) -> None:
        if self.target < 1:
            raise DataError(f"the sample count must be at least 1, not {self.target}")
        if not 0 < self.fps <= 60:
            raise DataError(f"frames per second must be above 0 and at most 60, not {self.fps}")
        if self.countdown < 0 or self.checkpoint_seconds <= 0:
            raise DataError("the countdown and checkpoint interval cannot be negative")


@dataclass(frozen=True)
class CollectResult:
    emotion: str
    path: Path | None  #: the session's file; None when no face was seen
    samples: int
    frames: int  #: frames analysed while recording (with or without a face)
    reason: str  #: "target", "stopped", "end of video" or "camera stopped"


class Progress(Protocol):
    """What the person sees while recording: a preview window or a terminal line."""

    def countdown(self, frame: Frame, seconds_left: int) -> bool: ...

    def update(self, frame: Frame, face: Landmarks | None, count: int, target: int) -> bool:
        """Show progress; False means the person asked to stop."""

    def close(self) -> None: ...


class StopFlag:
    """Set by SIGINT/SIGTERM so the loop ends between frames and saves what it has."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """First Ctrl-C or SIGTERM sets ``flag``; a second Ctrl-C interrupts for real."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: object) -> None:
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def collect(
    settings: CollectSettings,
    camera: Camera,
    extractor: LandmarkExtractor,
    progress: Progress,
    *,
    stop: StopFlag | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CollectResult:
    """Record one session from an open ``camera``; saves on every way out of the loop.

    A failed checkpoint (a full disk) does not end recording: the samples stay in memory and
    the next checkpoint tries again. If the final save fails, DataError says how many samples
    could not be saved and which file, if any, holds the earlier ones.
    """
    emotion = check_emotion_name(settings.emotion)
    writer = SessionWriter(
        settings.out_dir or paths.samples_dir(),
        emotion,
        source=describe_source(
            str(Path(camera.source).resolve()) if camera.is_file else camera.source
        ),
        feature_version=FEATURE_VERSION,
        feature_size=FEATURE_SIZE,
    )
    stop = stop or StopFlag()
    failure: CameraError | None = None
    reason, frames = "camera stopped", 0
    path: Path | None = None
    with stop_on_signals(stop):
        try:
            reason, frames = _record(settings, camera, extractor, progress, writer, stop, clock)
        except CameraError as exc:  # e.g. unplugged mid-session: keep what was recorded
            failure = exc
        finally:  # on every way out, a second Ctrl-C included, what was recorded is saved
            progress.close()
            path = _final_save(writer)
    if failure is not None:
        kept = f"; {writer.count} samples were kept in {path}" if path else ""
        raise CameraError(f"{failure}{kept}") from failure
    log.info("%s: %d samples from %d frames (%s)", emotion, writer.count, frames, reason)
    return CollectResult(emotion, path, writer.count, frames, reason)


def _record(
    settings: CollectSettings,
    camera: Camera,
    extractor: LandmarkExtractor,
    progress: Progress,
    writer: SessionWriter,
    stop: StopFlag,
    clock: Callable[[], float],
) -> tuple[str, int]:
    """The frame loop; returns why it ended and how many frames it analysed."""
    frames = 0
    last_checkpoint = clock()
    # The countdown gives a person time to get ready; a video file needs none and would lose
    # its first seconds to it.
    countdown = 0.0 if camera.is_file else settings.countdown
    for frame in camera.sample(settings.fps, _OPEN_ENDED):
        if stop:
            return "stopped", frames
        if frame.t < countdown:
            if not progress.countdown(frame, math.ceil(countdown - frame.t)):
                return "stopped", frames
            continue
        frames += 1
        views = extractor.views(frame.image)
        for vector in view_features(views)[: settings.target - writer.count]:
            writer.append(vector)
        face = views[0]  # the frame's own view, whose mesh the preview draws
        if not progress.update(frame, face, writer.count, settings.target):
            return "stopped", frames
        if writer.count >= settings.target:
            return "target", frames
        if clock() - last_checkpoint >= settings.checkpoint_seconds:
            last_checkpoint = clock()
            _checkpoint(writer)
    if stop:
        return "stopped", frames
    return ("end of video" if camera.is_file else "camera stopped"), frames


def _checkpoint(writer: SessionWriter) -> None:
    if writer.unsaved == 0:
        return
    try:
        writer.save()
    except DataError as exc:
        log.warning("%s; recording goes on and the samples are kept in memory", exc)


def _final_save(writer: SessionWriter) -> Path | None:
    if writer.count == 0:
        return None
    if writer.unsaved == 0 and writer.path is not None:
        return writer.path
    try:
        return writer.save()
    except DataError as exc:
        held = (
            f" {writer.path} holds the first {writer.saved_count} of them."
            if writer.path
            else " No file was written for this session."
        )
        raise DataError(
            f"{exc} {writer.unsaved} of the {writer.count} samples recorded in this session "
            f"could not be saved.{held}"
        ) from exc


# --- what the person sees -----------------------------------------------------------------


class TerminalProgress:
    """A one-line progress bar on a terminal; a plain line every 10 % (at most every 100
    samples) when the output is not a terminal, e.g. a log."""

    def __init__(self, emotion: str, stream: TextIO | None = None, width: int = 30):
        self.emotion = emotion
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_countdown: int | None = None
        self._last_step = -1
        self._shown = False
        self._pending = ""

    def countdown(self, frame: Frame, seconds_left: int) -> bool:
        if seconds_left != self._last_countdown:
            self._last_countdown = seconds_left
            end = "" if self.tty else "\n"
            self._write(f"Recording '{self.emotion}' in {seconds_left}…", end)
        return True

    def update(self, frame: Frame, face: Landmarks | None, count: int, target: int) -> bool:
        if self.tty:
            filled = round(min(1.0, count / target) * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            face_note = "face" if face is not None else "no face"
            self._write(f"{self.emotion}: [{bar}] {count}/{target} ({face_note})", "")
            return True
        line = f"{self.emotion}: {count}/{target} samples"
        step = count // max(1, min(100, target // 10))
        if step != self._last_step:
            self._last_step = step
            self._write(line, "\n")
            self._pending = ""
        else:
            self._pending = line
        return True

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
        elif self._pending:  # the final count, when it fell between two steps
            self._write(self._pending, "\n")
            self._pending = ""

    def _write(self, text: str, end: str) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        self.stream.write(f"{prefix}{text}{end}")
        self.stream.flush()
        self._shown = True


class PreviewWindow:
    """An OpenCV window with the face mesh drawn and a counter; ``q`` or Esc stops."""

    #: Small camera images are enlarged to this height so the counter stays readable.
    MIN_HEIGHT = 480

    def __init__(self, emotion: str, title: str = "Emusify: collecting"):
        self.emotion = emotion
        self.title = title
        self._open = False
        self._edges: np.ndarray | None = None

    def countdown(self, frame: Frame, seconds_left: int) -> bool:
        image = self._canvas(frame)
        h, w = image.shape[:2]
        _text(image, str(seconds_left), (w // 2 - 25, h // 2 + 25), scale=3.0, thickness=5)
        _text(image, f"Get ready to show '{self.emotion}'", (12, 34))
        return self._show(image)

    def update(self, frame: Frame, face: Landmarks | None, count: int, target: int) -> bool:
        image = self._canvas(frame)
        if face is not None:
            self._draw_mesh(image, face)
        note = "" if face is not None else "  (no face)"
        _text(image, f"{self.emotion}: {count}/{target}{note}", (12, 34))
        _text(image, "q: stop and keep", (12, image.shape[0] - 14), scale=0.6)
        return self._show(image)

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
            self._open = False

    def _canvas(self, frame: Frame) -> np.ndarray:
        h, w = frame.image.shape[:2]
        if h >= self.MIN_HEIGHT:
            return frame.image.copy()
        size = (round(w * self.MIN_HEIGHT / h), self.MIN_HEIGHT)
        return cv2.resize(frame.image, size, interpolation=cv2.INTER_LINEAR)

    def open(self) -> PreviewWindow:
        """Create the window now; cv2.error if this OpenCV has no GUI (a "headless" build)."""
        if not self._open:
            cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
            self._open = True
        return self

    def _show(self, image: np.ndarray) -> bool:
        self.open()
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), ord("Q"), 27):
            return False
        # The window's close button counts as stop, too.
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def _draw_mesh(self, image: np.ndarray, face: Landmarks) -> None:
        if self._edges is None:
            mp = import_mediapipe()
            tesselation = mp.solutions.face_mesh_connections.FACEMESH_TESSELATION
            self._edges = np.array(sorted(tesselation), dtype=np.int32)
        h, w = image.shape[:2]
        scale = np.array([w / face.image_size[0], h / face.image_size[1]], np.float32)
        points = np.round(face.face[:, :2] * scale).astype(np.int32)
        mesh = image.copy()
        cv2.polylines(mesh, list(points[self._edges]), False, MESH_COLOUR, 1, cv2.LINE_AA)
        cv2.addWeighted(mesh, 0.6, image, 0.4, 0, dst=image)


#: BGR colour of the face mesh in the preview.
MESH_COLOUR = (80, 220, 80)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale=0.8, thickness=2) -> None:
    """White text with a dark outline: readable on any background."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, text, origin, font, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def make_progress(emotion: str, headless: bool) -> Progress:
    """The preview window when there is a display and it was not refused, else the terminal."""
    if not headless and display_available():
        try:
            return PreviewWindow(emotion).open()
        except cv2.error as exc:
            log.warning("no preview window (%s); showing progress here instead", exc.err)
    return TerminalProgress(emotion)
