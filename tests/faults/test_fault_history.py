"""The history under a running daemon: a full disk, another program's lock, a damaged file.
Each time the daemon goes on, and every window reaches the file in the end."""

from __future__ import annotations

import sqlite3
import time


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
