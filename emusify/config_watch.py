"""The configuration file re-read while Emusify runs: an edit takes effect without a restart.

The watcher is asked, never polls by itself: the daemon calls :meth:`ConfigWatcher.check`
whenever its scheduler wakes anyway (and at a slow pace at rest), and one ``stat`` says
whether the file changed. A changed file is read and validated like at start; a valid one
replaces the current configuration, an invalid one is kept out: the last good configuration
stays in force and ``error`` says what is wrong (for the status), logged once per distinct
problem. Command-line overrides (``--interval``, ``--camera``) stay on top of every reload.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emusify.config import Config, load_config
from emusify.errors import EmusifyError

log = logging.getLogger(__name__)

#: A file changed less than this long ago may still be being written: read it next time.
SETTLE_SECONDS = 0.5


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ, e.g. ``["schedule.interval_minutes"]``."""
    out = []
    for f in dataclasses.fields(old):
        if f.metadata.get("internal"):
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
            out += [f"{f.name}.{g.name}" for g in dataclasses.fields(a) if _differs(a, b, g.name)]
        elif a != b:
            out.append(f.name)
    return out


def _differs(a: Any, b: Any, name: str) -> bool:
    return getattr(a, name) != getattr(b, name)


class ConfigWatcher:
    """Holds the configuration in force and reloads it when its file changes."""

    def __init__(
        self,
        current: Config,
        *,
        adjust: Callable[[Config], Config] = lambda cfg: cfg,
        load: Callable[[Path], Config] = load_config,
        clock: Callable[[], float] = time.time,
    ):
        if current.path is None:
            raise ValueError("a configuration read from a file is needed to watch it")
        self.path = Path(current.path)
        self.current = current
        #: What is wrong with the file now (the last good configuration is in force), or None.
        self.error: str | None = None
        #: The keys the last reload changed.
        self.last_changes: list[str] = []
        self._adjust = adjust
        self._load = load
        self._clock = clock
        self._stamp = _stamp(self.path)

    def check(self) -> Config | None:
        """The new configuration if the file changed to a valid, different one; else None."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return None
        if stamp is None:
            self._fail(f"{self.path}: the file is gone; the last configuration stays in force")
            self._stamp = None
            return None
        if self._clock() - stamp[0] / 1e9 < SETTLE_SECONDS:
            return None  # an editor may be half-way through writing it
        self._stamp = stamp
        try:
            new = self._adjust(self._load(self.path))
        except EmusifyError as exc:
            self._fail(f"{exc}\n(the last good configuration stays in force)")
            return None
        if self.error is not None:
            log.info("The configuration %s is valid again", self.path)
        self.error = None
        keys = changed_keys(self.current, new)
        if not keys:
            return None
        log.info("Configuration %s changed: %s", self.path, ", ".join(keys))
        self.current = new
        self.last_changes = keys
        return new

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.warning("Configuration not reloaded: %s", message)
        self.error = message
