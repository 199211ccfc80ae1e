"""Faults around the log: a full disk, odd file names, a closed terminal."""

from __future__ import annotations

import logging
import os

import pytest

from emusify import logs
from emusify.config import LoggingConfig

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_a_full_disk_under_the_log_is_said_once_and_logging_resumes_after(
    small_disk, monkeypatch, capsys
):
    monkeypatch.setenv("EMUSIFY_HOME", str(small_disk.root))
    path = logs.setup_logging(LoggingConfig())
    log = logging.getLogger("emusify.test")
    log.warning("before the disk filled")
    small_disk.fill()
    for i in range(300):  # 25 s of a busy daemon
        log.warning("line %d while the disk is full %s", i, "x" * 60)
    err = capsys.readouterr().err
    assert err.count("cannot write the log file") == 1
    assert "No space left on device" in err
    assert "Logging error" not in err and "Traceback" not in err

    small_disk.free()
    log.warning("after space came back")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text()
    assert text.startswith(text[: text.index("before the disk filled")])
    *_, back, note = text.splitlines()
    assert back.endswith("after space came back")
    assert note.endswith(
        "log lines were lost before the line above: the log file could not be written"
    )
    assert "Logging error" not in capsys.readouterr().err


def test_a_closed_console_does_not_print_a_traceback_per_line(monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    path = logs.setup_logging(LoggingConfig())
    console = next(
        h for h in logging.getLogger().handlers if isinstance(h, logs.QuietStreamHandler)
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # the terminal the daemon was started from is gone
    console.setStream(os.fdopen(write_end, "w"))
    for i in range(50):
        logging.getLogger("emusify.test").warning("line %d", i)
    assert "Logging error" not in capfd.readouterr().err
    assert "line 49" in path.read_text(), "the file goes on"
