"""Logging for the long-running program: a rotating file in the user's log directory.

Each line names its thread, because the daemon's work is split over threads (scheduler,
mood check, control, tray) and a problem report is only readable with that. The console gets
warnings, or everything with ``-v``.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from emusify import paths
from emusify.config import LoggingConfig

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


def setup_logging(cfg: LoggingConfig, *, verbose: bool = False) -> Path:
    """Route the root logger to the rotating file and the console; return the file's path.

    Replaces handlers set up earlier in the process (such as the CLI's fallback), so calling
    it twice does not double every line.
    """
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    file_level = logging.DEBUG if verbose else _LEVELS[cfg.level]
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=cfg.max_bytes, backupCount=cfg.backups, encoding="utf-8"
    )
    file_handler.setLevel(file_level)
    file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
    console = logging.StreamHandler(sys.stderr)
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
