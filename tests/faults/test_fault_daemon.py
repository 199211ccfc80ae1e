"""Faults around a running ``emusify run``: each keeps it running, or ends it with one clear
line, and nothing stored is lost. The daemon is a real process driven from outside."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from emusify_process import emusify_cli


def test_a_missing_camera_is_shown_in_the_status_and_the_daemon_goes_on(start_daemon, tmp_path):
    d = start_daemon(camera=str(tmp_path / "unplugged.mp4"))
    s = d.wait_status(lambda s: s["camera"] == "unavailable", what="the camera error")
    assert "no such file" in s["camera_error"]
    assert s["last_outcome"] == "no_camera"
    assert d.ctl("check").returncode == 0, "commands still work"
    assert d.quit() == 0
    assert [w[1] for w in d.windows()][:1] == ["no_camera"]


def test_no_audio_device_keeps_the_mood_checks_going(start_daemon):
    d = start_daemon(env={"SDL_AUDIODRIVER": "no-such-driver"})
    s = d.wait_status(lambda s: s["mood"] == "happy", what="a mood without audio")
    assert s["music"]["state"] == "no_audio"
    assert "No audio output" in s["music"]["audio_error"]
    assert "Audio:      No audio output" in d.ctl("status").stdout
    assert d.quit() == 0


def test_a_corrupt_track_is_skipped_and_a_good_one_plays(start_daemon, songs):
    for good in (songs / "happy").iterdir():
        good.unlink()
    (songs / "happy" / "broken.mp3").write_bytes(b"ID3" + os.urandom(20_000))
    shutil.copy(songs / "calm" / "calm-0.wav", songs / "happy" / "fine.wav")
    d = start_daemon()
    s = d.wait_status(lambda s: s["music"]["state"] == "playing", what="music")
    assert Path(s["music"]["path"]).name == "fine.wav"
    d.ctl("skip")
    s = d.wait_status(lambda s: s["music"]["state"] == "playing", what="music after a skip")
    assert Path(s["music"]["path"]).name == "fine.wav", "the broken file is never tried again"
    assert d.quit() == 0
    assert d.log().count("broken.mp3") >= 1 and "Traceback" not in d.log()


def test_folders_emptied_while_playing_fall_back_to_the_default_folder(start_daemon, songs):
    d = start_daemon()
    d.wait_status(lambda s: s["music"]["folder"] == "happy", what="the happy folder")
    shutil.rmtree(songs / "happy")
    assert d.ctl("skip").returncode == 0
    s = d.wait_status(lambda s: s["music"]["folder"] == "calm", what="the fallback")
    assert "happy" in s["music"]["note"]
    shutil.rmtree(songs / "calm")
    shutil.rmtree(songs / "sad")
    d.ctl("skip")
    s = d.wait_status(lambda s: s["music"]["state"] == "stopped", what="nothing left to play")
    assert s["music"]["note"]
    assert d.ctl("check").returncode == 0, "still running and checking"
    assert d.quit() == 0


def test_kill_9_mid_window_loses_nothing_stored_and_the_next_start_works(start_daemon):
    d = start_daemon(interval=5, window=4)
    d.wait_status(lambda s: s["last_outcome"] == "mood", what="a first window")
    d.wait_status(lambda s: s["camera"] == "open", what="the next window under way")
    before = d.windows()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    assert d.windows()[: len(before)] == before

    again = start_daemon(interval=5, window=4)  # same home: stale socket, dead lock holder
    s = again.wait_status(lambda s: s["last_outcome"] == "mood", what="a window after restart")
    assert s["pid"] == again.proc.pid
    assert again.quit() == 0
    after = again.windows()
    assert after[: len(before)] == before and len(after) > len(before)


def test_hundreds_of_idle_control_clients_leave_few_threads_and_status_answers(start_daemon):
    import socket

    d = start_daemon()
    d.wait_status(lambda s: s["pid"] > 0, what="the daemon")
    path = Path(d.env["EMUSIFY_HOME"]) / "run" / "control.sock"
    clients = []
    try:
        for _ in range(300):
            c = socket.socket(socket.AF_UNIX)
            c.connect(str(path))
            clients.append(c)
        began = time.monotonic()
        s = d.status()
        took = time.monotonic() - began
        threads = len(os.listdir(f"/proc/{d.proc.pid}/task"))
        print(f"300 idle clients: {threads} threads, ctl status in {took:.2f} s")
        assert threads < 40
        assert s["pid"] == d.proc.pid
    finally:
        for c in clients:
            c.close()
    assert d.quit() == 0


def test_ctl_into_a_closed_pipe_prints_no_traceback(start_daemon):
    d = start_daemon()
    d.wait_status(lambda s: s["pid"] > 0, what="the daemon")
    for args in (["status"], ["status", "--json"]):
        cmd = " ".join([os.environ.get("PYTHON", __import__("sys").executable), "-m"])
        done = subprocess.run(
            f"{cmd} emusify.cli ctl {' '.join(args)} | head -c 1",
            shell=True,
            env=d.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert d.quit() == 0


def test_a_track_name_that_is_not_utf8_is_played_logged_and_shown(start_daemon, songs):
    happy = songs / "happy"
    for f in happy.iterdir():
        os.rename(f, os.fsencode(happy) + b"/caf\xe9-" + os.fsencode(f.name))
    d = start_daemon()
    s = d.wait_status(lambda s: s["music"]["state"] == "playing", what="music")
    assert "caf" in s["music"]["path"]
    text = d.ctl("status")
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert d.quit() == 0
    assert "UnicodeEncodeError" not in d.output() and "Logging error" not in d.output()
    assert "caf\\udce9" in d.log() or "caf\\xe9" in d.log()


def test_an_interval_that_is_not_a_number_is_refused_before_anything_starts(tmp_path):
    env = {**os.environ, "EMUSIFY_HOME": str(tmp_path / "home")}
    for value, shown in (("nan", "nan"), ("inf", "inf"), ("1e12", "1e+12")):
        done = emusify_cli(env, "run", "--interval", value, "--no-tray")
        assert done.returncode == 2, done.stderr
        assert f"--interval {shown}: " in done.stderr
        assert "use a number of seconds > 0" in done.stderr
        assert "Traceback" not in done.stderr
