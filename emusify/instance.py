"""One Emusify daemon per user: an exclusive lock on a file in the runtime directory.

The lock is an OS file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows), not the
existence of a file, so the kernel drops it when the holder dies: a lock file left behind by a
crashed process never blocks the next start. The holder's pid is written into the file only so
that a refused second start can say who is running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import IO

from emusify import paths
from emusify.errors import EmusifyError
from emusify.files import private_dir

log = logging.getLogger(__name__)

LOCK_NAME = "emusify.lock"


class AlreadyRunning(EmusifyError):
    """Another Emusify daemon of this user holds the lock."""

    def __init__(self, lock_path: Path, pid: int | None):
        self.lock_path = lock_path
        self.pid = pid
        who = f" (pid {pid})" if pid else ""
        ctl = f"{paths.emusify_command()} ctl"
        super().__init__(
            f"Emusify is already running{who}; lock held on {lock_path}. "
            f"Use `{ctl} status` to talk to it or `{ctl} quit` to stop it."
        )


def lock_path() -> Path:
    return paths.runtime_dir() / LOCK_NAME


class InstanceLock:
    """Hold the per-user lock for as long as the daemon runs. Use as a context manager."""

    def __init__(self, path: Path | None = None):
        self.path = path or lock_path()
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> InstanceLock:
        private_dir(self.path.parent)  # it holds the control socket too
        # "a+" never truncates: the pid of a running holder stays readable for the message.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # also one an older version made 0644
        handle = open(fd, "a+", encoding="ascii")  # noqa: SIM115 - kept open on purpose
        try:
            _lock(handle)
        except OSError:
            pid = _read_pid(handle)
            handle.close()
            raise AlreadyRunning(self.path, pid) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        log.debug("holding the instance lock %s", self.path)
        return self

    def release(self) -> None:
        if self._file is None:
            return
        handle, self._file = self._file, None
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        _unlock(handle)
        handle.close()
        log.debug("released the instance lock %s", self.path)

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_pid(path: Path | None = None) -> int | None:
    """The pid of the running daemon, or None when nobody holds the lock."""
    path = path or lock_path()
    if not path.exists():
        return None
    probe = InstanceLock(path)
    try:
        probe.acquire()
    except AlreadyRunning as exc:
        return exc.pid or -1
    probe.release()
    return None


def _read_pid(handle: IO[str]) -> int | None:
    try:
        handle.seek(0)
        text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        with contextlib.suppress(OSError):
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
