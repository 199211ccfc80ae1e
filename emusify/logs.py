"""Logging for the long-running program: a rotating file in the user's log directory.

Each line names its thread, because the daemon's work is split over threads (scheduler,
mood check, control, tray) and a problem report is only readable with that. The console gets
warnings, or everything with ``-v``.

The log holds moods with times, so its files are the user's only (0600, rolled files too, in a
0700 folder). Logging never stops the program: a line that cannot be written (full disk, a
closed terminal) is counted, the first failure is said once on the console, and the file says
how many lines were lost once it can be written again. Text that is not valid UTF-8 (a file
name from a foreign disk) is written with backslash escapes instead of failing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from emusify import paths
from emusify.config import LoggingConfig
from emusify.files import FILE_MODE, private_dir, tighten

LOG_NAME = "emusify.log"
FILE_FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s [%(threadName)s] %(name)s: %(message)s"

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def log_path() -> Path:
    return paths.log_dir() / LOG_NAME


class _QuietFailures:
    """``handleError`` without a traceback per line: count, say it once, say when it is over."""

    dropped = 0
    _failed_now = False

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        self._failed_now = True
        self.dropped += 1
        if self.dropped == 1:
            self._say_once(exc)
        stream = getattr(self, "stream", None)
        if isinstance(self, logging.FileHandler) and stream is not None:
            # Drop the buffered text (it would be retried and grow); reopen on the next line.
            with contextlib.suppress(Exception):
                stream.close()
            self.stream = None  # type: ignore[assignment]

    def _say_once(self, exc: BaseException | None) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)  # type: ignore[misc]
        if self.dropped and not self._failed_now:
            lost, self.dropped = self.dropped, 0
            note = logging.LogRecord(
                record.name,
                logging.WARNING,
                __file__,
                0,
                "%d log lines were lost before the line above: the log file could not be written",
                (lost,),
                None,
            )
            super().emit(note)  # type: ignore[misc]


class PrivateRotatingFileHandler(_QuietFailures, logging.handlers.RotatingFileHandler):
    """The log file: created 0600 (rolled files keep the mode), never failing on odd text."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        return open(fd, "a", encoding="utf-8", errors="backslashreplace")

    def _say_once(self, exc: BaseException | None) -> None:
        with contextlib.suppress(Exception):
            print(
                f"emusify: cannot write the log file {self.baseFilename}: {exc}; "
                "log lines are dropped (and counted) until it can be written again",
                file=sys.stderr,
                flush=True,
            )


class QuietStreamHandler(_QuietFailures, logging.StreamHandler):
    """The console: a closed terminal or pipe is not worth a traceback per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Escaped to what the console can show, whatever its error handler is."""
        text = super().format(record)
        encoding = getattr(self.stream, "encoding", None) or "utf-8"
        try:
            return text.encode(encoding, "backslashreplace").decode(encoding, "replace")
        except LookupError:
            return text


def setup_logging(cfg: LoggingConfig, *, verbose: bool = False) -> Path:
    """Route the root logger to the rotating file and the console; return the file's path.

    Replaces handlers set up earlier in the process (such as the CLI's fallback), so calling
    it twice does not double every line.
    """
    path = log_path()
    private_dir(path.parent)
    for n in range(cfg.backups + 1):  # files an older version left readable by others
        tighten(path if n == 0 else f"{path}.{n}")
    file_level = logging.DEBUG if verbose else _LEVELS[cfg.level]
    file_handler = PrivateRotatingFileHandler(
        path, maxBytes=cfg.max_bytes, backupCount=cfg.backups, encoding="utf-8"
    )
    file_handler.setLevel(file_level)
    file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
    console = QuietStreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT))

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(min(file_level, console.level))
    # Third-party chatter (PIL plugin scans, Xlib) stays out of a debug log.
    for noisy in ("PIL", "Xlib", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
