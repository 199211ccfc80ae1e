"""Only Emusify's own lines reach the terminal: a headless ``emusify run`` with no sound card
and no camera says each problem once instead of repeating other libraries' chatter (ALSA's
lines from SDL, OpenCV's camera lines) at every retry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_headless_run_without_audio_or_camera_is_brief(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XDG_RUNTIME_DIR")}
    env.update(
        EMUSIFY_HOME=str(tmp_path / "home"),
        SDL_AUDIODRIVER="alsa",
        AUDIODEV="hw:9,0",  # no such sound card: opening the audio device fails
    )
    out = tmp_path / "out.txt"
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            # Checks every 5 s: the camera fails nine times, the audio is retried too.
            [
                sys.executable,
                "-m",
                "emusify",
                "run",
                "--camera",
                "9",
                "--interval",
                "5",
                "--window",
                "1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        time.sleep(45)
        assert proc.poll() is None, out.read_text()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.read_text().splitlines()
    assert len(lines) <= 12, "\n".join(lines)
    text = "\n".join(lines)
    assert "ALSA lib" not in text and "cap_v4l" not in text and "VIDEOIO" not in text
    assert "RuntimeDirWarning" not in text and "Traceback" not in text
    assert sum("No audio output" in line for line in lines) == 1, text
    assert sum("cannot open camera 9" in line for line in lines) == 1, text
    # The log keeps the details for whoever looks.
    log = (tmp_path / "home" / "state" / "log" / "emusify.log").read_text()
    assert "cannot open camera 9" in log
