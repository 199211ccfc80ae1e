"""One interface over a webcam (device index) and a video file, open only for one window.

Frames stay in memory: nothing here writes an image anywhere. Use as::

    with open_camera(source, width, height) as cam:
        for frame in cam.sample(fps=4, seconds=20):
            ...

The device is released when the ``with`` block ends, also on error or interruption.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from emusify.errors import CameraError
from emusify.sensing.check import describe_source

log = logging.getLogger(__name__)

#: How long a webcam may deliver nothing before the window is given up.
STALL_SECONDS = 2.0


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` Emusify uses; a scripted source in tests provides it."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def grab(self) -> bool: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  #: BGR, uint8, height x width x 3
    t: float  #: seconds since the window began (video time for a file)


class Camera:
    """A webcam or video file. Not thread-safe: one window at a time."""

    def __init__(
        self,
        source: int | str,
        width: int = 640,
        height: int = 480,
        *,
        opener: Callable[[int | str], Capture] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        self.source = source
        self.width = width
        self.height = height
        self._opener = opener or _open_cv
        self._clock = clock
        self._cap: Capture | None = None

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, str)

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    def open(self) -> Camera:
        if self._cap is not None:
            return self
        if self.is_file and not Path(self.source).is_file():
            raise CameraError(f"{describe_source(self.source)}: no such file")
        cap = self._opener(self.source)
        try:
            if not cap.isOpened():
                what = "not a readable video" if self.is_file else "missing, busy or not permitted"
                raise CameraError(f"cannot open {describe_source(self.source)}: {what}")
            if not self.is_file:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        except BaseException:  # also a stop (SIGTERM) that lands while the device is set up
            cap.release()
            raise
        self._cap = cap
        sys.audit("emusify.camera.open", describe_source(self.source))  # for privacy checks
        log.debug("opened %s", describe_source(self.source))
        return self

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
            sys.audit("emusify.camera.release", describe_source(self.source))
            log.debug("released %s", describe_source(self.source))

    def __enter__(self) -> Camera:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sample(self, fps: float, seconds: float) -> Iterator[Frame]:
        """Yield about ``fps`` frames per second for ``seconds``.

        A video file is sampled by its own timeline as fast as it decodes, and a file shorter
        than the window simply ends the window early. A webcam is sampled in real time; one
        that stops delivering frames raises CameraError.
        """
        if self._cap is None:
            raise CameraError(f"{describe_source(self.source)} is not open")
        if fps <= 0 or seconds <= 0:
            raise ValueError("fps and seconds must be positive")
        if self.is_file:
            yield from self._sample_file(fps, seconds)
        else:
            yield from self._sample_live(fps, seconds)

    def _sample_file(self, fps: float, seconds: float) -> Iterator[Frame]:
        assert self._cap is not None
        native = self._cap.get(cv2.CAP_PROP_FPS) or 0.0
        native = native if 1.0 <= native <= 240.0 else 25.0
        step = 1.0 / fps
        next_t = 0.0
        index = 0
        while True:
            t = index / native
            if t >= seconds:
                return
            ok, image = self._cap.read()
            if not ok or image is None:
                return
            index += 1
            if t + 1e-9 >= next_t:
                next_t += step
                yield Frame(_as_bgr(image), t)

    def _sample_live(self, fps: float, seconds: float) -> Iterator[Frame]:
        assert self._cap is not None
        start = self._clock()
        step = 1.0 / fps
        next_t = 0.0
        last_ok = start
        while True:
            now = self._clock()
            t = now - start
            if t >= seconds:
                return
            ok, image = self._cap.read()  # reading keeps the driver's buffer fresh
            now = self._clock()
            if not ok or image is None:
                if now - last_ok > STALL_SECONDS:
                    raise CameraError(
                        f"{describe_source(self.source)} stopped delivering frames "
                        f"{now - start:.1f} s into the window (unplugged or taken by another "
                        "program?)"
                    )
                time.sleep(0.05)
                continue
            last_ok = now
            if t + 1e-9 >= next_t:
                next_t = max(next_t + step, t)
                yield Frame(_as_bgr(image), t)


def _open_cv(source: int | str) -> Capture:
    return cv2.VideoCapture(source)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def open_camera(source: int | str, width: int = 640, height: int = 480, **kw: Any) -> Camera:
    """A closed Camera; ``with open_camera(...) as cam`` opens it for the window only."""
    return Camera(source, width, height, **kw)
