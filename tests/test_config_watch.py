"""The config re-read on change: valid edits take over, invalid ones are named and kept out."""

from __future__ import annotations

import logging
import os
import time

import pytest

from emusify.config import load_config, with_overrides
from emusify.config_watch import ConfigWatcher, changed_keys


def write(path, text: str, age: float = 5.0) -> None:
    """Write ``text`` with a modification time ``age`` seconds ago (an editor long done)."""
    path.write_text(text)
    t = time.time() - age
    os.utime(path, (t, t))


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "config.yaml"
    write(path, "schedule:\n  interval_minutes: 5\n", age=60)
    return path


def test_an_unchanged_file_is_not_read_again(cfg_file):
    reads = []
    watcher = ConfigWatcher(load_config(cfg_file), load=lambda p: reads.append(p) or None)
    assert watcher.check() is None and reads == []


def test_a_valid_edit_replaces_the_configuration_and_names_the_keys(cfg_file, caplog):
    caplog.set_level(logging.INFO)
    watcher = ConfigWatcher(load_config(cfg_file))
    write(cfg_file, "schedule:\n  interval_minutes: 2\nmusic:\n  volume: 0.5\n", age=2)
    new = watcher.check()
    assert new.schedule.interval_minutes == 2 and new.music.volume == 0.5
    assert watcher.current is new and watcher.error is None
    assert "changed: schedule.interval_minutes, music.volume" in caplog.text
    assert watcher.check() is None, "read once per change"


def test_an_invalid_edit_keeps_the_last_good_one_and_says_why_once(cfg_file, caplog):
    good = load_config(cfg_file)
    watcher = ConfigWatcher(good)
    write(cfg_file, "schedule:\n  interval_minutes: .nan\n", age=2)
    assert watcher.check() is None
    assert watcher.current is good
    assert "schedule.interval_minutes: nan is not allowed" in watcher.error
    assert "last good configuration stays in force" in watcher.error
    write(cfg_file, "schedule:\n  interval_minutes: .nan\n# still bad\n", age=1)
    assert watcher.check() is None
    assert caplog.text.count("interval_minutes: nan is not allowed") == 1
    write(cfg_file, "schedule:\n  interval_minutes: 3\n", age=1)
    assert watcher.check().schedule.interval_minutes == 3
    assert watcher.error is None


def test_a_file_being_written_is_read_once_it_settles(cfg_file):
    watcher = ConfigWatcher(load_config(cfg_file))
    write(cfg_file, "schedule:\n  interval_minutes: 2\n", age=0)
    assert watcher.check() is None
    os.utime(cfg_file, (time.time() - 2, time.time() - 2))
    assert watcher.check().schedule.interval_minutes == 2


def test_a_deleted_file_keeps_the_configuration(cfg_file):
    good = load_config(cfg_file)
    watcher = ConfigWatcher(good)
    cfg_file.unlink()
    assert watcher.check() is None and watcher.current is good
    assert "the file is gone" in watcher.error


def test_command_line_overrides_stay_on_top(cfg_file):
    def pinned(cfg):
        return with_overrides(cfg, schedule={"window_seconds": 5.0})

    watcher = ConfigWatcher(pinned(load_config(cfg_file)), adjust=pinned)
    write(cfg_file, "schedule:\n  interval_minutes: 2\n  window_seconds: 30\n", age=2)
    new = watcher.check()
    assert (new.schedule.interval_minutes, new.schedule.window_seconds) == (2, 5.0)


def test_changed_keys_lists_top_level_and_section_keys(cfg_file):
    a = load_config(cfg_file)
    write(cfg_file, "model: other\ncamera:\n  width: 320\n")
    assert changed_keys(a, load_config(cfg_file)) == ["camera.width", "model"]
