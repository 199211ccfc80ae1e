"""The tray's "Open report": written by a child process, shown by the browser."""

from __future__ import annotations

import os
import stat
import sys
import webbrowser

from scripted_history import write_scripted_history

from emusify import paths
from emusify.desktop.tray import write_and_open_report


def browser(tmp_path, monkeypatch, exit_code: int = 0):
    """A browser command (webbrowser honours $BROWSER) that notes the address it was given."""
    # webbrowser reads $BROWSER once per process: make it read this test's.
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    seen = tmp_path / "browser-saw.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {seen}\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER", str(script))
    return seen


def test_open_report_writes_the_page_in_a_child_and_opens_it(tmp_path, monkeypatch):
    write_scripted_history(paths.history_path())
    seen = browser(tmp_path, monkeypatch)
    out = tmp_path / "report.html"
    assert write_and_open_report(out) == (True, f"Report: {out} opened in the browser.")
    assert "Does the music help?" in out.read_text()
    assert seen.read_text().strip() == out.as_uri()


def test_without_a_browser_the_log_says_where_the_report_is(tmp_path, monkeypatch, caplog):
    browser(tmp_path, monkeypatch, exit_code=1)
    out = tmp_path / "report.html"
    opened, message = write_and_open_report(out)
    assert not opened and message == f"Report: no browser to show it; it is at {out}"
    assert "No history yet" in out.read_text()
    assert f"it is at {out}" in caplog.text
