"""Scripted cameras for the mood-check worker process, where the webcam would be.

A test names ``worker_cameras:scripted`` as the checker's opener; the worker imports it (the
test puts this folder on the worker's PYTHONPATH). Which camera each window gets comes from
``EMUSIFY_TEST_CAMERAS``, a comma-separated list used in order (the last one repeats):

* ``video:PATH``  the video file as it is
* ``live:PATH``   the video in real time, looping, as a webcam delivers frames
* ``busy``        a webcam another program holds: it does not open
* ``abort:N``     a webcam whose driver kills the process (SIGABRT) at the N-th frame
* ``slowopen``    a webcam (the happy faces, live) that takes 2 s to open
* ``hang``        a webcam whose driver blocks forever in its first read
* ``stuck``       the same, deaf to SIGTERM as a native call is (the handler never runs)
* ``unplug:N``    a webcam (the happy faces, live) unplugged after N frames: nothing comes

Every open and release is appended to the file ``EMUSIFY_TEST_CAMERA_LOG``, so a test can
tell which window got which camera and that the worker released it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import cv2

HAPPY = Path(__file__).parent / "assets" / "happy_faces.mp4"
#: A webcam's release (stream off, buffers unmapped) is not instant: a live one takes this long.
RELEASE_SECONDS = 0.05
#: How long a ``slowopen`` webcam takes to open.
SLOW_OPEN_SECONDS = 2.0


def _log_file() -> Path:
    return Path(os.environ["EMUSIFY_TEST_CAMERA_LOG"])


def _write(line: str) -> None:
    with _log_file().open("a") as f:
        f.write(line + "\n")


class Logged:
    """A capture that records its release in the camera log."""

    def __init__(self, inner: Any, window: int):
        self.inner = inner
        self.window = window

    def isOpened(self) -> bool:
        return self.inner is not None and self.inner.isOpened()

    def read(self) -> tuple[bool, Any]:
        return self.inner.read()

    def grab(self) -> bool:
        return self.inner.grab()

    def get(self, prop: int) -> float:
        return self.inner.get(prop)

    def set(self, prop: int, value: float) -> bool:
        return self.inner.set(prop, value)

    def release(self) -> None:
        if self.inner is not None:
            self.inner.release()
        _write(f"release {self.window}")


class Live(Logged):
    """Frames in real time; its release takes as long as a webcam's driver takes to stop."""

    def read(self) -> tuple[bool, Any]:
        time.sleep(0.05)
        ok, image = self.inner.read()
        if not ok:
            self.inner.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self.inner.read()
        return ok, image

    def release(self) -> None:
        time.sleep(RELEASE_SECONDS)
        super().release()


class Hanging(Logged):
    def read(self) -> tuple[bool, Any]:
        while True:
            time.sleep(3600)


class Stuck(Live):
    """A driver stuck in a read that no signal interrupts, as a native call can be."""

    def read(self) -> tuple[bool, Any]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        _write(f"stuck {self.window}")
        while True:
            time.sleep(3600)


class Aborting(Live):
    def __init__(self, inner: Any, window: int, at: int):
        super().__init__(inner, window)
        self.left = at

    def read(self) -> tuple[bool, Any]:
        self.left -= 1
        if self.left <= 0:
            os.abort()
        return super().read()


class Unplugged(Live):
    def __init__(self, inner: Any, window: int, after: int):
        super().__init__(inner, window)
        self.left = after

    def read(self) -> tuple[bool, Any]:
        self.left -= 1
        if self.left < 0:
            time.sleep(0.05)
            return False, None
        return super().read()


def scripted(_source: int | str) -> Logged:
    log = _log_file()
    window = (
        sum(1 for line in log.read_text().splitlines() if line.startswith("open"))
        if (log.exists())
        else 0
    )
    specs = os.environ["EMUSIFY_TEST_CAMERAS"].split(",")
    kind, _, arg = specs[min(window, len(specs) - 1)].partition(":")
    _write(f"open {window} {kind}")
    if kind == "video":
        return Logged(cv2.VideoCapture(arg), window)
    if kind == "live":
        return Live(cv2.VideoCapture(arg), window)
    if kind == "busy":
        return Logged(None, window)
    if kind == "abort":
        happy = Path(__file__).parent / "assets" / "happy_faces.mp4"
        return Aborting(cv2.VideoCapture(str(happy)), window, int(arg or 1))
    if kind == "unplug":
        return Unplugged(cv2.VideoCapture(str(HAPPY)), window, int(arg or 1))
    if kind == "slowopen":
        capture = Live(cv2.VideoCapture(str(HAPPY)), window)
        time.sleep(SLOW_OPEN_SECONDS)
        return capture
    if kind == "stuck":
        return Stuck(cv2.VideoCapture(str(HAPPY)), window)
    if kind == "hang":
        return Hanging(
            cv2.VideoCapture(arg or str(Path(__file__).parent / "assets" / "happy_faces.mp4")),
            window,
        )
    raise ValueError(f"unknown scripted camera {kind!r}")
