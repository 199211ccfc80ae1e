"""The log file: in the user's log directory, rotating, with the thread name on each line."""

from __future__ import annotations

import logging
import os
import stat
import threading

import pytest

from emusify import logs
from emusify.config import LoggingConfig


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield tmp_path
    for h in root.handlers[:]:
        root.removeHandler(h)
        h.close()
    root.handlers[:], root.level = saved[0], saved[1]


def test_lines_go_to_the_log_dir_with_thread_names(home):
    path = logs.setup_logging(LoggingConfig(level="info"))
    assert path == home / "state" / "log" / "emusify.log"
    log = logging.getLogger("emusify.test")
    worker = threading.Thread(target=lambda: log.info("from the worker"), name="mood-check")
    worker.start()
    worker.join()
    log.debug("hidden at info level")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text()
    assert "[mood-check] emusify.test: from the worker" in text
    assert "hidden" not in text


def test_verbose_shows_debug_on_the_console_and_in_the_file(capsys):
    path = logs.setup_logging(LoggingConfig(level="warning"), verbose=True)
    logging.getLogger("emusify.test").debug("details")
    assert "DEBUG [MainThread] emusify.test: details" in capsys.readouterr().err
    assert "details" in path.read_text()


def test_quiet_console_shows_warnings_only(capsys):
    logs.setup_logging(LoggingConfig(level="debug"))
    logging.getLogger("emusify.test").info("routine")
    logging.getLogger("emusify.test").warning("attention")
    err = capsys.readouterr().err
    assert "attention" in err and "routine" not in err


def test_the_file_rotates_at_max_bytes():
    path = logs.setup_logging(LoggingConfig(max_bytes=2000, backups=2))
    for i in range(200):
        logging.getLogger("emusify.test").warning("line %03d %s", i, "x" * 40)
    rotated = sorted(p.name for p in path.parent.iterdir())
    assert rotated == ["emusify.log", "emusify.log.1", "emusify.log.2"]
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())


def test_setting_up_twice_does_not_double_lines():
    path = logs.setup_logging(LoggingConfig())
    path = logs.setup_logging(LoggingConfig())
    logging.getLogger("emusify.test").warning("once")
    assert path.read_text().count("once") == 1


def test_the_log_and_its_rolled_files_are_readable_by_the_user_only(home):
    old = home / "state" / "log" / "emusify.log"
    old.parent.mkdir(parents=True)
    old.write_text("from an older version\n")
    old.chmod(0o644)
    old.parent.chmod(0o755)
    path = logs.setup_logging(LoggingConfig(max_bytes=2000, backups=2))
    for i in range(200):
        logging.getLogger("emusify.test").warning("line %03d %s", i, "x" * 40)
    files = sorted(path.parent.iterdir())
    assert [p.name for p in files] == ["emusify.log", "emusify.log.1", "emusify.log.2"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_a_path_that_is_not_utf8_is_logged_with_escapes(capsys):
    path = logs.setup_logging(LoggingConfig())
    name = os.fsdecode(b"/music/caf\xe9.mp3")  # Latin-1 bytes from an old disk
    logging.getLogger("emusify.test").warning("cannot play %s", name)
    for h in logging.getLogger().handlers:
        h.flush()
    assert "cannot play /music/caf\\udce9.mp3" in path.read_text()
    err = capsys.readouterr().err
    assert "cannot play /music/caf" in err and "Logging error" not in err
