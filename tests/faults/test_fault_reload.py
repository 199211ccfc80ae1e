"""Edits, damage and surprises the running daemon meets in its files: the config file changed
under it, a model whose moods have no folder, a damaged history, a damaged model."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time

from damage import damage_largest_weights
from emusify_process import emusify_cli

from emusify import paths
from emusify.sensing.classifier import LABELS_FILE, MODEL_FILE


def edit(path, text: str) -> None:
    path.write_text(text)
    t = time.time() - 2  # written and settled, as after an editor's save
    os.utime(path, (t, t))


def test_a_config_edit_while_running_applies_and_a_bad_one_is_named_and_kept_out(
    start_daemon, tmp_path, songs
):
    d = start_daemon(interval=3600)
    s = d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
    assert s["next_check"] > time.time() + 3000 and s["config_error"] is None
    config = tmp_path / "config.yaml"
    base = config.read_text()

    edit(config, base + "schedule:\n  sample_fps: .nan\n")
    assert d.ctl("pause", "music").returncode == 0  # a wake-up reads the file again
    began = time.monotonic()
    s = d.wait_status(lambda s: s["config_error"], timeout=30, what="the config error")
    assert time.monotonic() - began < 5
    assert "schedule.sample_fps: nan is not allowed" in s["config_error"]
    assert "last good configuration stays in force" in s["config_error"]
    assert "Config:" in d.ctl("status").stdout

    fixed = base.replace("music:\n", "music:\n  volume: 0.3\n")
    edit(config, fixed + "schedule:\n  sample_fps: 2\n")
    began = time.monotonic()
    assert d.ctl("resume", "music").returncode == 0
    s = d.wait_status(lambda s: s["config_error"] is None, timeout=30, what="the fix")
    assert time.monotonic() - began < 5, "read at the command's wake-up, not the slow timer"
    assert s["music"]["volume"] == 0.3
    assert d.quit() == 0
    assert "changed: schedule.sample_fps, music.volume" in d.log()


def test_model_moods_without_a_folder_are_said_in_the_log_and_status(start_daemon, tmp_path):
    model = shutil.copytree(
        paths.PROJECT_MODELS / "default",
        tmp_path / "mine",
        ignore=shutil.ignore_patterns("*.keras"),
    )
    meta = json.loads((model / LABELS_FILE).read_text())
    meta["labels"] = ["bored" if x == "neutral" else x for x in meta["labels"]]
    (model / LABELS_FILE).write_text(json.dumps(meta))
    d = start_daemon(f"model: {model}\n")
    s = d.wait_status(lambda s: s["model_note"], what="the model note")
    assert s["model_note"] == (
        "the model's mood(s) 'bored' have no folder in music.folders; "
        "they play the default folder 'calm'"
    )
    assert "Model:" in d.ctl("status").stdout
    assert d.quit() == 0
    assert "have no folder in music.folders" in d.log()


def test_a_damaged_model_stops_emusify_run_with_one_clear_line(start_daemon, tmp_path):
    model = shutil.copytree(
        paths.PROJECT_MODELS / "default",
        tmp_path / "damaged",
        ignore=shutil.ignore_patterns("*.keras"),
    )
    damage_largest_weights(model / MODEL_FILE)
    d = start_daemon(f"model: {model}\n")
    assert d.proc.wait(timeout=120) == 2
    out = d.output()
    assert out.splitlines()[-1].startswith("emusify run: error: ")
    assert "reference input" in out.splitlines()[-1]
    shown = [line for line in out.splitlines() if not line.startswith("DEBUG ")]
    assert not [line for line in shown if "Traceback" in line], "no traceback above debug level"


def test_a_damaged_history_is_set_aside_at_start_and_said_in_status(start_daemon):
    d = start_daemon(interval=3600)
    d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
    assert d.quit() == 0
    db = d.history_path
    before = d.windows()
    raw = sqlite3.connect(db)
    for i in range(400):  # enough rows for several pages
        raw.execute(
            "INSERT INTO windows (time, outcome, face_frames, total_frames) VALUES (?, ?, 1, 1)",
            (i, "no_face"),
        )
    raw.commit()
    raw.close()
    with open(db, "r+b") as f:
        f.seek(4096 * 9)
        f.write(b"\xa5" * 4096 * 2)  # two damaged pages

    again = start_daemon(interval=3600)
    s = again.wait_status(lambda s: s["history_error"], what="the history note")
    assert "set aside as" in s["history_error"] and "damaged" in s["history_error"]
    assert "History:" in again.ctl("status").stdout
    assert again.quit() == 0
    [aside] = db.parent.glob("history.sqlite3.damaged-*[0-9]")
    assert aside.stat().st_size > 0, "kept beside, never overwritten"
    assert again.windows()[0] == before[0], "the readable rows were copied over"


def test_a_locked_history_is_said_in_status_until_the_lock_goes(start_daemon):
    d = start_daemon(interval=3600)
    s = d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
    other = sqlite3.connect(d.history_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        d.ctl("check")
        s = d.wait_status(lambda s: s["history_error"], what="the lock in the status")
        assert "locked by another program; writes wait in memory" in s["history_error"]
    finally:
        other.execute("COMMIT")
        other.close()
    s = d.wait_status(lambda s: s["history_error"] is None, timeout=40, what="the retry")
    assert d.quit() == 0
    assert len(d.windows()) == 2


def test_an_invalid_config_at_start_is_one_clear_message(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("schedule:\n  interval_minutes: .inf\n  window_seconds: 400\n")
    env = {**os.environ, "EMUSIFY_HOME": str(tmp_path / "home")}
    done = emusify_cli(env, "run", "--config", str(config), "--no-tray")
    assert done.returncode == 2
    assert "2 problem(s)" in done.stderr and "interval_minutes: inf is not allowed" in done.stderr
    assert "Traceback" not in done.stderr


def test_at_rest_an_edit_is_picked_up_by_the_slow_timer(start_daemon, tmp_path):
    """No command, no check due for an hour: the file is still read within about 15 s."""
    d = start_daemon("schedule:\n  check_at_start: false\n", interval=3600)
    s = d.wait_status(lambda s: s["next_check"], what="the daemon")
    assert s["music"]["volume"] == 0.8
    config = tmp_path / "config.yaml"
    edit(config, config.read_text().replace("music:\n", "music:\n  volume: 0.5\n"))
    s = d.wait_status(lambda s: s["music"]["volume"] == 0.5, timeout=40, what="the reload")
    assert s["last_check"] is None, "no check was needed for it"
    assert d.quit() == 0
    assert "changed: music.volume" in d.log()
