"""The history under a running daemon: a full disk, another program's lock, a damaged file.
Each time the daemon goes on, and every window reaches the file in the end."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from emusify.history import History


def next_window(d, after: float | None) -> dict:
    """Ask for a check now and wait until its window is done."""
    assert d.ctl("check").returncode == 0
    return d.wait_status(
        lambda s: not s["checking"] and s["last_check"] != after, what="the window to end"
    )


def test_a_full_disk_under_the_history_keeps_every_window_waiting_until_there_is_room(
    start_daemon, small_disk
):
    d = start_daemon(emusify_home=small_disk.root, interval=3600)
    s = d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
    small_disk.fill()
    s = next_window(d, s["last_check"])
    s = next_window(d, s["last_check"])
    assert s["pid"] == d.proc.pid, "still running"
    out = d.output()
    assert "the disk is full; writes wait in memory" in out
    assert "Logging error" not in out
    assert out.count("cannot write the log file") <= 1, "said once if at all"

    small_disk.free()
    next_window(d, s["last_check"])
    assert d.quit() == 0
    assert [w[1] for w in d.windows()] == ["mood"] * 4, "nothing dropped"


def test_a_history_locked_by_another_program_is_waited_for_and_nothing_is_dropped(start_daemon):
    d = start_daemon(interval=3600)
    s = d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
    other = sqlite3.connect(d.history_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # a backup tool, or the sqlite3 shell mid-transaction
    try:
        s = next_window(d, s["last_check"])
        s = next_window(d, s["last_check"])
        assert "locked by another program" in d.output()
    finally:
        other.execute("COMMIT")
        other.close()
    time.sleep(0.5)
    next_window(d, s["last_check"])
    assert d.quit() == 0
    assert len(d.windows()) == 4
    assert "database is locked" not in d.log().split("locked by another program")[0]


def test_kill_9_in_the_middle_of_history_writes_keeps_every_committed_row(tmp_path):
    """A process writing windows as fast as it can is killed; the file opens clean (not set
    aside) with every row it had reported written."""
    db = tmp_path / "history.sqlite3"
    code = (
        "import sys\nfrom emusify.history import History\n"
        f"h = History({str(db)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    h.record_window('mood', 'happy', 0.5, 0.5, i, 80)\n"
        "    print(i, flush=True)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert writer.stdout is not None
    reported = 0
    for line in writer.stdout:
        reported = int(line)
        if reported >= 300:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with History(db) as h:
        assert h.set_aside is None, "not damaged"
        rows = h.windows()
    assert len(rows) >= reported
    assert [r.face_frames for r in rows] == list(range(1, len(rows) + 1)), "in order, no gaps"
