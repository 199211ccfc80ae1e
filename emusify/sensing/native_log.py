"""Route the C++ log lines of MediaPipe, LiteRT and TensorFlow into Python logging.

Those libraries write lines such as ``W0000 ... inference_feedback_manager.cc:114] ...`` and
``INFO: Created TensorFlow Lite XNNPACK delegate`` straight to file descriptor 2; no
environment variable silences them (mediapipe issues 5737, 6040). A user running
``emusify detect`` should see the answer, not a dozen lines of engine chatter, so file
descriptor 2 becomes a pipe whose lines are read by a thread: recognised native log lines go
to the ``emusify.native`` logger (debug, or error for fatal ones), anything else is passed
through unchanged. Python's own ``sys.stderr`` keeps writing to the terminal directly, so
tracebacks and log messages never depend on the thread.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from typing import TextIO

log = logging.getLogger("emusify.native")

#: Lines that native libraries write to fd 2 on their own: glog/absl
#: (``W0000 00:00:1795245258.815052   15300 file.cc:114] text``, MediaPipe, LiteRT, TensorFlow),
#: TFLite's ``INFO:``, TensorFlow's dated lines (``2026-11-21 10:00:00.000000: I tensorflow/...``),
#: alsa-lib's (``ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default``, from SDL when
#: there is no sound card) and OpenCV's (``[ WARN:0@1.674] global cap_v4l.cpp:913 ...``). Emusify
#: says what matters to the user (no audio device, no camera) once, in its own words.
_NATIVE = re.compile(
    r"^(?:(?P<level>[IWEF])\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|INFO: |WARNING: All log messages before absl::InitializeLog\(\)"
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWE] \S+:\d+\] "
    r"|ALSA lib |\[ ?(?:INFO|WARN|ERROR|DEBUG):\d+@[\d.]+\] )"
)

_routed = False


def route_native_stderr() -> bool:
    """Start routing, once per process; False where it does not apply (tests, non-POSIX)."""
    global _routed
    if _routed or os.name != "posix" or sys.stderr is not sys.__stderr__:
        return False
    try:
        if sys.stderr.fileno() != 2:
            return False
    except (AttributeError, OSError, ValueError):
        return False
    sys.stderr.flush()
    terminal = os.fdopen(
        os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace"
    )
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = terminal
    threading.Thread(
        target=_pump, args=(read_end, terminal), name="native-log", daemon=True
    ).start()
    _routed = True
    return True


def _pump(read_end: int, terminal: TextIO) -> None:
    with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = _NATIVE.match(line)
            if match is None:
                terminal.write(line)
                terminal.flush()
            elif match.group("level") == "F":
                log.error("%s", line.rstrip())
            else:
                log.debug("%s", line.rstrip())
