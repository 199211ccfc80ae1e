"""One mood check in a short-lived worker process, as the daemon sees it.

The camera, MediaPipe and the LiteRT model cost about 350 MB once MediaPipe's graph has seen a
frame, and the C allocator never gives that back. So each check starts
``python -m emusify.sensing.worker`` for its window and the daemon keeps only numbers: the
per-frame probabilities and feature vectors of the frames with a face. A worker that crashes
(a native library's segfault), hangs past its window plus a grace period or is killed is an
outcome of that check (:class:`RecognitionFailed`), never the daemon's end.

This module imports no vision library: the daemon imports it, and a test asserts that the
daemon never loads cv2, MediaPipe, LiteRT or TensorFlow.

The protocol: the request is one JSON line on the worker's stdin, which then stays open as a
lifeline (its end, when the daemon dies or gives up, stops the worker); the worker answers on a
pipe
of its own (``pass_fds``, so no native library's chatter on stdout can corrupt it) with
length-prefixed pickles (``{"kind": "opened"}``, then one ``result`` or ``error``). Its stderr,
Python log records and native lines alike, is read line by line into the daemon's log.
SIGTERM ends its window early; it releases the camera and exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np

from emusify.errors import CameraError, EmusifyError, ModelError
from emusify.sensing.mood import MoodResult, tally

log = logging.getLogger(__name__)

#: Seconds a worker may take beyond its window (start-up, model load, a slow last frame).
GRACE_SECONDS = 20.0
#: Seconds a worker gets to release the camera and exit after SIGTERM, before SIGKILL.
STOP_SECONDS = 1.0
#: Separates level, logger and message in the worker's log lines on stderr.
LOG_SEP = "\x1f"

_HEADER = struct.Struct("!I")


class RecognitionFailed(EmusifyError):
    """The worker died, hung or broke its protocol; the next check starts a fresh one."""


@dataclass(frozen=True)
class CheckRequest:
    source: int | str
    width: int
    height: int
    fps: float
    seconds: float
    model: str
    min_face_frames: int
    min_share: float
    #: ``"module:function"`` returning a ``cv2.VideoCapture``-like object: a scripted webcam
    #: for tests, imported in the worker. None for the real camera or video file.
    opener: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """What one window saw: the tally and the numbers behind it (never a frame)."""

    mood: MoodResult
    labels: tuple[str, ...]
    probs: np.ndarray  #: float32 [face frames, labels]
    features: np.ndarray  #: float32 [views with a face, feature size]: each face frame's views
    feature_version: int
    #: Wall seconds from starting the worker to its answer, and to the camera opening.
    seconds: float = 0.0
    startup_seconds: float | None = None
    #: ``time.monotonic()`` when the answer arrived (the camera was closed just before).
    finished_at: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def describe_source(source: int | str) -> str:
    return f"camera {source}" if isinstance(source, int) else f"video file {source}"


# --- framing, shared with the worker ------------------------------------------------------


def write_message(stream: IO[bytes], message: dict[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


class _Messages:
    """Reassembles length-prefixed messages from the bytes read off the pipe."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        self._buffer += data
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                return
            payload = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
            del self._buffer[: _HEADER.size + size]
            message = pickle.loads(payload)
            if not isinstance(message, dict) or "kind" not in message:
                raise RecognitionFailed("the recognition worker sent a malformed message")
            yield message


# --- the daemon's side --------------------------------------------------------------------


class WorkerChecker:
    """Runs each check in a new worker process; ``check`` blocks for one window."""

    def __init__(
        self,
        request: CheckRequest,
        *,
        python: str = sys.executable,
        grace_seconds: float = GRACE_SECONDS,
        env: dict[str, str] | None = None,
    ):
        self.request = request
        self.python = python
        self.grace_seconds = grace_seconds
        self.env = env
        #: Set while a worker runs (for status and tests).
        self.pid: int | None = None

    @property
    def source(self) -> int | str:
        return self.request.source

    def describe(self) -> str:
        return describe_source(self.request.source)

    def check(
        self,
        stop: threading.Event,
        on_camera_open: Callable[[], None] | None = None,
    ) -> CheckResult:
        """One window. Raises CameraError (camera missing, busy or failing) or
        RecognitionFailed (worker crashed, hung, was killed or stopped by ``stop``)."""
        started = time.monotonic()
        answer = self._run([], stop, on_camera_open, self.request.seconds)
        return self._result(answer, time.monotonic() - started)

    def probe(self) -> tuple[str, ...]:
        """Load and check the model in a worker: its labels, or ModelError naming the problem.

        The daemon calls this once at start, so a broken model stops ``emusify run`` with a
        clear message instead of failing every check."""
        answer = self._run(["--probe"], threading.Event(), None, 0.0)
        if answer["kind"] == "error":
            raise ModelError(answer["message"])
        return self._result(answer, 0.0).labels

    def _run(
        self,
        extra: list[str],
        stop: threading.Event,
        on_camera_open: Callable[[], None] | None,
        seconds: float,
    ) -> dict[str, Any]:
        started = time.monotonic()
        env = dict(os.environ if self.env is None else self.env)
        debug = logging.getLogger("emusify").isEnabledFor(logging.DEBUG)
        env["EMUSIFY_WORKER_LOG_LEVEL"] = "DEBUG" if debug else "INFO"
        read_end, write_end = os.pipe()
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "emusify.sensing.worker", str(write_end), *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_end,),
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            os.close(read_end)
            raise RecognitionFailed(f"cannot start the recognition worker: {exc}") from None
        finally:
            os.close(write_end)
        self.pid = proc.pid
        relay = threading.Thread(target=_relay_log, args=(proc.stderr,), name="worker", daemon=True)
        relay.start()
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(asdict(self.request)).encode() + b"\n")
                proc.stdin.flush()
            except OSError:
                pass  # it died at once; its exit status says why
            deadline = started + seconds + self.grace_seconds
            return self._await_answer(proc, read_end, stop, started, deadline, on_camera_open)
        finally:
            os.close(read_end)
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the lifeline: a worker still running stops now
            _reap(proc)
            relay.join(timeout=2.0)
            self.pid = None

    def _await_answer(
        self,
        proc: subprocess.Popen[bytes],
        fd: int,
        stop: threading.Event,
        started: float,
        deadline: float,
        on_camera_open: Callable[[], None] | None,
    ) -> dict[str, Any]:
        messages = _Messages()
        stop_sent: float | None = None
        opened_at: float | None = None
        while True:
            now = time.monotonic()
            if stop.is_set() and stop_sent is None:
                _signal(proc, signal.SIGTERM)
                stop_sent = now
            if stop_sent is not None and now - stop_sent > STOP_SECONDS:
                log.warning(
                    "the recognition worker did not stop within %g s of SIGTERM; killed",
                    STOP_SECONDS,
                )
                _signal(proc, signal.SIGKILL)
                return {"kind": "stopped"}
            if now > deadline:
                _signal(proc, signal.SIGKILL)
                raise RecognitionFailed(
                    f"the recognition worker hung: no answer {deadline - started:.0f} s "
                    "after it started; it was killed"
                )
            # Wakes only while a window runs: for the answer, or to notice ``stop``.
            ready, _, _ = select.select([fd], [], [], min(0.1, max(0.0, deadline - now)))
            if not ready:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                if stop_sent is not None:
                    return {"kind": "stopped"}
                return {"kind": "eof", "returncode": proc.wait(timeout=5.0)}
            for message in messages.feed(data):
                if message["kind"] == "opened":
                    opened_at = time.monotonic() - started
                    if on_camera_open is not None:
                        on_camera_open()
                else:
                    message["startup_seconds"] = opened_at
                    message["finished_at"] = time.monotonic()
                    return message

    def _result(self, answer: dict[str, Any], seconds: float) -> CheckResult:
        kind = answer["kind"]
        if kind == "stopped":
            raise RecognitionFailed("the check was stopped")
        if kind == "eof":
            raise RecognitionFailed(_describe_exit(answer["returncode"]))
        if kind == "error":
            if answer.get("camera"):
                raise CameraError(answer["message"])
            raise RecognitionFailed(answer["message"])
        if kind != "result":
            raise RecognitionFailed(f"the recognition worker sent an unknown answer {kind!r}")
        labels = tuple(answer["labels"])
        probs = np.asarray(answer["probs"], dtype=np.float32).reshape(-1, len(labels))
        features = np.asarray(answer["features"], dtype=np.float32)
        if features.ndim != 2 or len(features) < len(probs):
            raise RecognitionFailed("the recognition worker sent mismatched features")
        mood = tally(
            probs,
            labels,
            int(answer["total_frames"]),
            self.request.min_face_frames,
            self.request.min_share,
        )
        return CheckResult(
            mood=mood,
            labels=labels,
            probs=probs,
            features=features,
            feature_version=int(answer["feature_version"]),
            seconds=seconds,
            startup_seconds=answer.get("startup_seconds"),
            finished_at=answer.get("finished_at", time.monotonic()),
            timings=dict(answer.get("timings") or {}),
        )


def _signal(proc: subprocess.Popen[bytes], signum: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """The worker is gone when a check ends, whatever happened: it exits by itself right after
    its answer; one that does not is ended."""
    for signum in (None, signal.SIGTERM, signal.SIGKILL):
        if signum is not None:
            log.warning("the recognition worker did not exit by itself; sending %s", signum.name)
            _signal(proc, signum)
        try:
            proc.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the recognition worker crashed ({name})"
    return f"the recognition worker exited with code {returncode} without an answer"


def _relay_log(stream: IO[bytes] | None) -> None:
    """The worker's stderr into this process's log: its records at their level, the native
    libraries' chatter at debug."""
    if stream is None:
        return
    native = logging.getLogger("emusify.worker.native")
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "backslashreplace").rstrip("\n")
            parts = line.split(LOG_SEP, 2)
            if len(parts) == 3 and parts[0].isdigit():
                logging.getLogger(parts[1]).log(int(parts[0]), "%s", parts[2])
            elif line.strip():
                native.debug("%s", line)
