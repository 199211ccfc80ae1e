"""``emusify history``: the recent rows as a table or JSON, and a clear that asks first."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime

import pytest
from scripted_history import write_scripted_history

from emusify import cli, paths
from emusify.history import History


@pytest.fixture
def scripted(private_home):
    return write_scripted_history(paths.history_path())


def test_the_table_lists_checks_corrections_moods_set_and_plays_in_order(scripted, capsys):
    assert cli.main(["history", "--since", "2026-11-16", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["checks"]) == scripted["checks"]
    assert len(data["corrections"]) == scripted["corrections"]
    assert len(data["plays"]) == scripted["plays"]
    assert data["checks"][0]["time_iso"].startswith("2026-11-16T09:00:00")
    assert {"read", "emotion", "window_id", "sample_file"} <= set(data["corrections"][0])

    assert cli.main(["history", "--since", "2026-11-20 09:10"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split() == ["time", "what", "details"]
    assert lines[1].startswith("2026-11-20 09:15:00  check")
    times = [line[:19] for line in lines[1:] if line[:4] == "2026"]
    assert times == sorted(times) and len(times) > 20
    assert "play        /songs/" in table
    assert "Since 2026-11-20 09:10:00: 13 checks" in table


def test_a_correction_reads_as_one(scripted, capsys):
    cli.main(["history", "--since", "2026-11-16"])
    table = capsys.readouterr().out
    assert "correction  the check read sad, you said fear" in table
    assert "mood set    sad until" in table


def test_one_row_of_a_kind_is_counted_in_the_singular(capsys):
    at = datetime(2026, 11, 20, 9, 0).timestamp()
    with History(paths.history_path()) as h:
        window = h.record_window("mood", "sad", 1.0, 0.9, 1, 1, at=at)
        h.record_correction(window, "sad", "fear", at=at + 60)
        h.record_mood_set("fear", at + 3600, at=at + 60)
        h.record_play("/songs/calm/calm-0.ogg", "calm", "fear", at=at + 61)
        h.rate("/songs/calm/calm-0.ogg", 1, emotion="fear", at=at + 120)
    assert cli.main(["history", "--since", "2026-11-20"]) == 0
    table = capsys.readouterr().out
    assert "1/1 frame with a face" in table
    assert table.rstrip().endswith(": 1 check, 1 correction, 1 mood set, 1 play, 1 rating.")


def test_a_bad_date_is_one_clear_line(scripted, capsys):
    assert cli.main(["history", "--since", "last tuesday"]) == 2
    assert "give a date as YYYY-MM-DD" in capsys.readouterr().err


def test_clear_refuses_without_a_terminal_and_without_yes(scripted, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal
    assert cli.main(["history", "--clear"]) == 2
    assert "add --yes" in capsys.readouterr().err
    with History(paths.history_path()) as h:
        assert len(h.windows()) == scripted["checks"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_clear_asks_and_only_yes_deletes(scripted, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert cli.main(["history", "--clear"]) == 1
    assert "Nothing was deleted" in capsys.readouterr().out
    with History(paths.history_path()) as h:
        assert len(h.windows()) == scripted["checks"]
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert cli.main(["history", "--clear"]) == 0
    with History(paths.history_path()) as h:
        assert h.windows() == [] and h.plays() == [] and h.corrections() == []


def test_clear_with_yes_for_scripts(scripted, capsys):
    assert cli.main(["history", "--clear", "--yes"]) == 0
    assert "is now empty" in capsys.readouterr().out
    assert cli.main(["history", "--since", "2026-01-01"]) == 0
    assert "Nothing in the history since 2026-01-01" in capsys.readouterr().out
