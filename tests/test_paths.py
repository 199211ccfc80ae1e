"""Where things are: the user's music folder, and commands printed so that they work."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from emusify import paths


def test_the_music_folder_is_emusify_in_the_platforms_music_directory(monkeypatch, tmp_path):
    assert paths.music_dir() == Path(os.environ["EMUSIFY_HOME"]) / "music"
    monkeypatch.delenv("EMUSIFY_HOME")
    monkeypatch.setenv("XDG_MUSIC_DIR", str(tmp_path / "Musik"))
    assert paths.music_dir() == tmp_path / "Musik" / "Emusify"


def test_printed_commands_work_whether_or_not_emusify_is_on_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert paths.emusify_command() == f"{sys.executable} -m emusify"
    script = Path(sys.executable).parent / "emusify"
    if not script.exists():
        pytest.skip("this environment has no emusify script beside its python")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "emusify").symlink_to(script)  # what setup.sh links into ~/.local/bin
    monkeypatch.setenv("PATH", str(bin_dir))
    assert paths.emusify_command() == "emusify"


def test_the_runtime_directory_without_xdg_runtime_dir_says_nothing(monkeypatch, recwarn):
    monkeypatch.delenv("EMUSIFY_HOME")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert paths.runtime_dir().name == "emusify"
    assert not recwarn.list
