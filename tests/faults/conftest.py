"""Fault-suite fixtures: a real small disk that fills up, and the logging set-up restored.

A full disk is made for real where the machine allows it: a small tmpfs mounted for the test
(needs root, as in the project's container and CI). Elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from emusify_process import songs, start_daemon  # noqa: F401 - fixtures for this folder


@dataclass
class SmallDisk:
    """A mounted tmpfs of a few hundred KB; ``fill()`` takes every free byte, ``free()`` gives
    them back."""

    root: Path

    @property
    def filler(self) -> Path:
        return self.root / "filler"

    def fill(self) -> None:
        chunk = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        assert shutil.disk_usage(self.root).free < 4096

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _can_mount() -> bool:
    return os.name == "posix" and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if not _can_mount():
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    root = tmp_path / "disk"
    root.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(root)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for h in root.handlers[:]:
        root.removeHandler(h)
        with contextlib.suppress(Exception):
            h.close()
    root.handlers[:], root.level = saved[0], saved[1]
