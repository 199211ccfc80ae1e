"""The worker process of one mood check: camera, landmarks, features and model live here.

Started by :class:`emusify.sensing.check.WorkerChecker` as
``python -m emusify.sensing.worker FD`` with the request as one JSON line on stdin; answers on
file descriptor FD (see ``check`` for the protocol) and exits. Frames never leave this
process: only per-frame probabilities and feature vectors of the frames with a face do.

``python -m emusify.sensing.worker FD --probe`` loads and checks the model only, so the daemon
can refuse a broken model at start without loading LiteRT itself.

The camera is released on every way out: the window's end, an error, SIGTERM (the daemon's
pause or quit) and the daemon's death (Linux sends SIGTERM to an orphaned worker, and the end of
stdin says so too). A stop raises :class:`_Stopped` once, whatever number of SIGTERMs come, and
never inside the camera's opening: neither the opening nor the release is cut short halfway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

from emusify.errors import CameraError, EmusifyError
from emusify.sensing.check import LOG_SEP, CheckRequest, write_message

log = logging.getLogger("emusify.worker")


#: Seconds an orphaned worker gets to stop by itself before the kernel ends it (SIGALRM).
ORPHAN_EXIT_SECONDS = 2


class _Stopped(BaseException):
    """SIGTERM: end the window now (BaseException, so no ``except Exception`` swallows it)."""


_stopping = False
_deferring = False
_deferred = False


def _stop() -> None:
    """Raise _Stopped the first time only, and not while the camera is being opened.

    A stop often comes as several SIGTERMs: when the daemon is killed, the parent-death signal
    comes again each time one of its threads (which the worker is handed to in turn) exits, and
    the lifeline adds one. A second raise would land in the camera's release and skip it or its
    log line, or land outside ``main`` and skip the quick exit.
    """
    global _stopping, _deferred
    if _stopping:
        return
    if _deferring:
        _deferred = True
        return
    _stopping = True
    raise _Stopped


@contextlib.contextmanager
def _stop_deferred() -> Iterator[None]:
    """A stop that comes in here is raised at its end. Raised inside ``Camera.open`` (in its
    log line, say), it would leave a device open that no ``with`` or ``finally`` releases."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    if _deferred:
        _stop()


def _on_sigterm(_signum: int, _frame: object) -> None:
    _stop()


_answered = threading.Event()


def _answer(out: IO[bytes], message: dict[str, Any]) -> None:
    """The last message: from here on, the daemon closing our stdin is no reason to stop."""
    _answered.set()
    write_message(out, message)


def _watch_lifeline() -> None:
    """The daemon keeps our stdin open while it waits; its end means nobody waits any more.

    Then stop, and should the main thread be stuck in a native call, SIGALRM's default action
    ends the process a little later (no Python code needed): no orphan keeps the camera."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdin.buffer.read()
    if not _answered.is_set():
        signal.alarm(ORPHAN_EXIT_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)


def _die_with_parent() -> None:
    """Linux: SIGTERM when the daemon dies, so no orphan keeps the camera open."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the daemon died before prctl took effect
        _stop()


def _setup_logging() -> None:
    """Records go to stderr as level, logger and message; the daemon relays them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(levelno)d{LOG_SEP}%(name)s{LOG_SEP}%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = os.environ.get("EMUSIFY_WORKER_LOG_LEVEL", "INFO")
    root.setLevel(logging.DEBUG if level == "DEBUG" else logging.INFO)


def _resolve_opener(spec: str | None) -> Any:
    if not spec:
        return None
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _load_model(name: str) -> Any:
    from emusify.sensing.classifier import EmotionModel

    return EmotionModel.load(name)


def probe(request: CheckRequest, out: IO[bytes]) -> None:
    """Load and check the model; answer with its labels."""
    model = _load_model(request.model)
    _answer(
        out, {"kind": "result", "labels": list(model.labels), "total_frames": 0, **_empty(model)}
    )


def _empty(model: Any) -> dict[str, Any]:
    import numpy as np

    from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION

    return {
        "probs": np.zeros((0, len(model.labels)), np.float32),
        "features": np.zeros((0, FEATURE_SIZE), np.float32),
        "feature_version": FEATURE_VERSION,
    }


def observe(request: CheckRequest, out: IO[bytes]) -> None:
    """One window: analyse the frames as they arrive, keep only the numbers, answer."""
    import numpy as np

    from emusify.sensing.camera import open_camera
    from emusify.sensing.check import describe_source
    from emusify.sensing.features import FEATURE_VERSION
    from emusify.sensing.landmarks import LandmarkExtractor
    from emusify.sensing.recognizer import Recognizer

    source = request.source
    if isinstance(source, str):
        # OpenCV crashes the process on a path that is not valid UTF-8: say so instead.
        try:
            os.fsencode(source).decode("utf-8")
        except UnicodeDecodeError:
            raise CameraError(
                f"{describe_source(source)}: the path is not valid UTF-8, which OpenCV cannot "
                "open; rename the file"
            ) from None
    started = time.monotonic()
    model = _load_model(request.model)
    opener = _resolve_opener(request.opener)
    kw = {"opener": opener} if opener else {}
    probs: list[np.ndarray] = []
    features: list[np.ndarray] = []
    total = 0
    analyse = 0.0
    # MediaPipe's graphs are left to the process's end (os._exit): closing one that a stop cut
    # off mid-frame waits for that frame, and the answer or the stop would wait with it.
    recognizer = Recognizer(model, LandmarkExtractor().open())
    loaded = time.monotonic() - started
    cam = open_camera(source, request.width, request.height, **kw)
    try:
        with _stop_deferred():
            cam.open()
        write_message(out, {"kind": "opened"})
        for frame in cam.sample(request.fps, request.seconds):
            total += 1
            t0 = time.perf_counter()
            found = recognizer.analyse(frame.image)
            analyse += time.perf_counter() - t0
            if found is not None:
                probs.append(found.probs)
                features.append(found.features)
    finally:
        cam.close()
    message = {
        "kind": "result",
        "labels": list(model.labels),
        "total_frames": total,
        "feature_version": FEATURE_VERSION,
        "probs": np.stack(probs) if probs else _empty(model)["probs"],
        "features": np.concatenate(features) if features else _empty(model)["features"],
        "timings": {"load_seconds": loaded, "analyse_seconds": analyse},
    }
    _answer(out, message)


def main(argv: list[str] | None = None) -> int:
    global _stopping
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = _serve(argv)
        _stopping = True  # done: a SIGTERM from here on has nothing left to stop
    except _Stopped:  # raised once (see _stop); a camera that was open is released by now
        log.debug("stopped (camera released)")
        code = 0
    return code


def _serve(argv: list[str]) -> int:
    try:
        _die_with_parent()
        _setup_logging()
        out = os.fdopen(int(argv[0]), "wb")
    except (IndexError, ValueError, OSError):
        return 2
    with out:
        try:
            request = CheckRequest(**json.loads(sys.stdin.buffer.readline()))
            threading.Thread(target=_watch_lifeline, name="lifeline", daemon=True).start()
            if "--probe" in argv:
                probe(request, out)
            else:
                observe(request, out)
        except CameraError as exc:
            _answer(out, {"kind": "error", "camera": True, "message": str(exc)})
        except EmusifyError as exc:
            _answer(out, {"kind": "error", "camera": False, "message": str(exc)})
        except Exception as exc:
            log.exception("the mood check failed")
            _answer(
                out, {"kind": "error", "camera": False, "message": f"recognition failed: {exc}"}
            )
    return 0


if __name__ == "__main__":
    code = main()
    # Everything that matters is done (camera released, answer sent): skip the interpreter's
    # teardown of MediaPipe's threads, which can take seconds on a busy machine.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)
