"""What a running Emusify touches, seen by Python audit hooks in every one of its processes.

tests/privacy/site/sitecustomize.py records, in the daemon and in any Python process it
starts, each file opened for writing, each SQLite database, each socket and each camera
open and release. Around real mood checks (one of them failing) the record must show only
the history, the log and, when switched on, sample sessions written; no socket but the local
control socket; and the camera released after every window.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from emusify_process import Launcher, make_songs

SITE = Path(__file__).parent / "site"


def audited_env(log: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "EMUSIFY_AUDIT_LOG": str(log)}


def probe(event: dict) -> bool:
    """A library looking for a shared library: ``ctypes.util.find_library`` runs the compiler
    on an empty temp file and sends its output to /dev/null (sounddevice does it on import)."""
    return event["path"] == os.devnull or any("ctypes/util.py" in f for f in event["stack"])


def events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A daemon that ran two good checks and one whose camera went missing, then quit."""
    tmp = tmp_path_factory.mktemp("audited")
    start_daemon = Launcher(tmp, make_songs(tmp / "songs"))
    log = tmp / "audit.jsonl"
    video = tmp / "camera.mp4"
    video.write_bytes((Path(__file__).parent.parent / "assets" / "happy_faces.mp4").read_bytes())
    try:
        d = start_daemon(env=audited_env(log), camera=str(video), interval=3600)
        s = d.wait_status(lambda s: s["last_outcome"] == "mood", what="the first window")
        for unplug in (False, True):
            if unplug:
                video.rename(video.with_suffix(".gone"))
            assert d.ctl("check").returncode == 0
            s = d.wait_status(
                lambda s, last=s["last_check"]: not s["checking"] and s["last_check"] != last,
                what="the window",
            )
        assert s["last_outcome"] == "no_camera"
        assert d.quit() == 0
    finally:
        start_daemon.kill_all()
    return d, events(log)


def workers(seen: list[dict]) -> set[int]:
    """Pids of check workers (``python -m emusify.sensing.worker FD [--probe]``)."""
    return {e["pid"] for e in seen if e["event"] == "start" and str(e["argv"][1]).isdigit()}


def test_the_hook_runs_in_the_daemon_and_in_every_check_worker(audited):
    d, seen = audited
    starts = {e["pid"] for e in seen if e["event"] == "start"}
    assert d.proc.pid in starts
    assert len(workers(seen)) >= 4, "the model probe and a worker for each of three checks"
    camera_pids = {e["pid"] for e in seen if e["event"].startswith("emusify.camera")}
    assert camera_pids and camera_pids <= workers(seen), "the camera lives in workers only"


def test_files_written_are_only_the_history_and_the_log(audited):
    d, seen = audited
    state = d.state.resolve()
    allowed = {d.history_path.resolve(), d.log_path.resolve()}
    written = {Path(e["path"]).resolve() for e in seen if e["event"] == "write" and not probe(e)}
    databases = {Path(e["path"]).resolve() for e in seen if e["event"] == "sqlite"}
    runtime = (Path(d.env["EMUSIFY_HOME"]) / "run").resolve()
    lock = runtime / "emusify.lock"
    unexpected = {
        p
        for p in written
        if p not in allowed and p != lock and not p.name.startswith("emusify.log.")
    }
    assert unexpected == set(), f"written outside the history and the log: {unexpected}"
    assert d.log_path.resolve() in written
    assert databases == {d.history_path.resolve()}
    assert all(state in p.parents or p.parent == runtime for p in written)


def test_no_socket_but_the_local_control_socket(audited):
    d, seen = audited
    sockets = [e for e in seen if e["event"].startswith("socket")]
    families = {e["family"] for e in sockets}
    assert families <= {socket.AF_UNIX}, f"a network socket was made: {sockets}"
    control = str(Path(d.env["EMUSIFY_HOME"]) / "run" / "control.sock")
    addresses = {e["address"] for e in sockets if e["event"] != "socket"}
    assert addresses <= {control}, addresses


def test_the_camera_is_released_after_every_window_also_when_one_fails(audited):
    _d, seen = audited
    camera = [e["event"].rsplit(".", 1)[1] for e in seen if e["event"].startswith("emusify.camera")]
    assert camera.count("open") == 2, "two windows had a camera, the third found none"
    assert camera == ["open", "release"] * 2, "each open is released before the next"


def test_collect_writes_only_its_sample_session_and_never_a_frame(tmp_path):
    """Sample sessions are the one other thing written, and only when the user collects."""
    log = tmp_path / "audit.jsonl"
    out = tmp_path / "samples"
    video = Path(__file__).parent.parent / "assets" / "happy_faces_2.mp4"
    env = {**os.environ, **audited_env(log), "EMUSIFY_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "emusify.cli",
            "collect",
            "happy",
            "--camera",
            str(video),
            "--samples",
            "5",
            "--out",
            str(out),
            "--headless",
            "--countdown",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = events(log)
    written = {Path(e["path"]) for e in seen if e["event"] == "write" and not probe(e)}
    written.discard(tmp_path / "home" / "config" / "config.yaml")  # first run: your config copy
    assert written, "the session was written"
    assert all(out in p.parents for p in written), written
    assert {p.suffix for p in written} <= {".tmp", ".npz"}
    assert not [e for e in seen if e["event"].startswith("socket")]
    camera = [e["event"] for e in seen if e["event"].startswith("emusify.camera")]
    assert camera == ["emusify.camera.open", "emusify.camera.release"]


def test_everything_the_daemon_keeps_is_readable_by_the_user_only(audited):
    d, _seen = audited
    home = Path(d.env["EMUSIFY_HOME"])
    kept = [p for p in home.rglob("*") if not p.is_symlink()]
    assert d.history_path in kept and d.log_path in kept
    loose = {
        str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in kept
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}, "readable by others"
    assert stat.S_IMODE(d.state.stat().st_mode) == 0o700
