"""A really full disk (a small tmpfs) under collect's samples and under the history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from emusify.learning import samples

ASSETS = Path(__file__).parent.parent / "assets"
HAPPY = ASSETS / "happy_faces_2.mp4"  #: 40 frames, one face each


def collect(out: Path, n: int, env_home: Path) -> subprocess.CompletedProcess:
    """``emusify collect`` as a user runs it, in its own process (stray output shows)."""
    argv = ["collect", "happy", "--camera", str(HAPPY), "--samples", str(n), "--out", str(out)]
    return subprocess.run(
        [sys.executable, "-m", "emusify.cli", *argv, "--headless", "--countdown", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "EMUSIFY_HOME": str(env_home)},
    )


def test_a_full_disk_while_collecting_is_one_clear_message_and_earlier_sessions_stay(
    small_disk, tmp_path
):
    out = small_disk.root / "samples"
    first = collect(out, 5, tmp_path / "home")
    assert first.returncode == 0, first.stderr
    [earlier] = sorted(out.rglob("*.npz"))
    before = earlier.read_bytes()

    small_disk.fill()
    done = collect(out, 20, tmp_path / "home")
    assert done.returncode == 2
    assert "the disk is full" in done.stderr and "Earlier sample files are unchanged" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr and "ZipFile" not in done.stderr
    assert sorted(out.rglob("*.npz")) == [earlier] and earlier.read_bytes() == before
    assert not list(out.rglob("*.tmp"))
    assert samples.read_session(earlier).info.count == 5
