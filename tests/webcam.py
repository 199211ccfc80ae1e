"""A webcam for tests: ``cv2.VideoCapture``'s interface over scripted frames, and a clock.

Pass it to ``emusify.sensing.camera.Camera`` through ``opener`` with the same clock, so that a
window of live sampling runs in no real time. After its ``good`` frames it delivers nothing, as an
unplugged camera does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FakeClock:
    """Monotonic seconds that move only when the webcam delivers (or fails to deliver)."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScriptedWebcam:
    """Delivers ``good`` frames (cycling through ``frames``) 0.1 s apart, then nothing."""

    def __init__(
        self,
        clock: FakeClock,
        good: int,
        frames: Sequence[np.ndarray] = (np.zeros((48, 64, 3), np.uint8),),
        *,
        opened: bool = True,
    ):
        self.clock = clock
        self.good = good
        self.frames = list(frames)
        self.opened = opened
        self.delivered = 0
        self.released = False
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.clock.now += 0.1
        if self.delivered < self.good:
            self.delivered += 1
            return True, self.frames[(self.delivered - 1) % len(self.frames)]
        return False, None

    def grab(self) -> bool:
        return self.delivered < self.good

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def release(self) -> None:
        self.released = True
