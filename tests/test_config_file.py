"""One key of a config file changes; every other byte stays as the person wrote it."""

from __future__ import annotations

import pytest

from emusify import paths
from emusify.config import load_config
from emusify.config_file import ConfigEditError, set_key

MINE = """\
# my settings
camera:
  source: 1   # the USB one

model: default   # the shipped model
music:
  volume: 0.5
listener:
    correction_minutes: 5
# tray below
tray:
  enabled: false
"""


def test_the_model_key_changes_and_nothing_else(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(MINE)
    assert set_key(path, "model", "personal-20261121T2200")
    expected = MINE.replace("model: default", "model: personal-20261121T2200")
    assert path.read_text() == expected
    assert load_config(path).model == "personal-20261121T2200"
    assert not set_key(path, "model", "personal-20261121T2200")  # already so: no write


def test_a_key_in_a_section_keeps_the_sections_indentation(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(MINE)
    set_key(path, "listener.learn_from_corrections", True)
    assert path.read_text() == MINE.replace(
        "    correction_minutes: 5\n",
        "    correction_minutes: 5\n    learn_from_corrections: true\n",
    )
    set_key(path, "listener.learn_from_corrections", False)
    assert "    learn_from_corrections: false\n# tray below\n" in path.read_text()
    assert load_config(path).listener.learn_from_corrections is False


def test_missing_keys_and_sections_are_added_at_the_end(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("music:\n  volume: 0.5")  # no final newline
    set_key(path, "model", "my model")
    set_key(path, "listener.learn_from_corrections", True)
    assert path.read_text() == (
        'music:\n  volume: 0.5\nmodel: "my model"\n\nlistener:\n  learn_from_corrections: true\n'
    )
    cfg = load_config(path)
    assert (cfg.model, cfg.listener.learn_from_corrections) == ("my model", True)


def test_windows_line_endings_are_kept(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(MINE.replace("\n", "\r\n").encode())
    set_key(path, "model", "mine")
    assert (
        path.read_bytes()
        == MINE.replace("model: default", "model: mine").replace("\n", "\r\n").encode()
    )


def test_what_cannot_be_edited_safely_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("listener: {correction_minutes: 5}\n")
    with pytest.raises(ConfigEditError, match="by hand"):
        set_key(path, "listener.learn_from_corrections", True)
    assert path.read_text() == "listener: {correction_minutes: 5}\n"
    path.write_text("model: default\n")
    with pytest.raises(Exception, match="model"):
        set_key(path, "model", "")  # an invalid value never reaches the file
    assert path.read_text() == "model: default\n"


def test_the_shipped_defaults_take_an_edit_like_a_user_copy(tmp_path):
    path = tmp_path / "config.yaml"
    original = paths.DEFAULT_CONFIG.read_text()
    path.write_text(original)
    set_key(path, "listener.learn_from_corrections", True)
    set_key(path, "model", "personal")
    text = path.read_text()
    assert text == original.replace(
        "learn_from_corrections: false", "learn_from_corrections: true"
    ).replace("\nmodel: default\n", "\nmodel: personal\n")
