"""The control channel: JSON lines over a private Unix socket, clear errors both ways."""

from __future__ import annotations

import json
import socket
import stat
import threading

import pytest

from emusify import control
from emusify.control import ControlClient, ControlError, ControlServer, NotRunning
from emusify.errors import EmusifyError


def echo_handler(request):
    if request["cmd"] == "refuse":
        raise EmusifyError("not now")
    if request["cmd"] == "crash":
        raise RuntimeError("boom")
    return {"got": request["cmd"], "thread": threading.current_thread().name}


def test_a_request_gets_the_handlers_result():
    with ControlServer(echo_handler):
        assert ControlClient().request("status")["got"] == "status"


def test_the_socket_is_readable_by_this_user_only():
    with ControlServer(echo_handler) as server:
        mode = server.path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700
    assert not server.path.exists(), "the socket is removed on stop"


def test_a_refusal_reaches_the_client_as_a_control_error_with_the_reason():
    with ControlServer(echo_handler):
        with pytest.raises(ControlError, match="not now"):
            ControlClient().request("refuse")
        with pytest.raises(ControlError, match="internal error: boom"):
            ControlClient().request("crash")
        # and the server keeps serving
        assert ControlClient().request("again")["got"] == "again"


def test_bad_lines_are_explained_and_the_connection_stays_usable():
    with ControlServer(echo_handler) as server, socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.path))
        stream = s.makefile("rwb")
        stream.write(b'not json\n[1]\n{"cmd": "status"}\n')
        stream.flush()
        assert json.loads(stream.readline()) == {"ok": False, "error": "not a JSON request line"}
        assert "cmd" in json.loads(stream.readline())["error"]
        assert json.loads(stream.readline())["result"]["got"] == "status"


def test_no_daemon_means_a_clear_not_running_error():
    with pytest.raises(NotRunning, match=r"Emusify is not running.*emusify run"):
        ControlClient().request("status")


def test_a_stale_socket_file_is_replaced_and_reads_as_not_running(private_home):
    path = control.socket_path()
    path.parent.mkdir(parents=True)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: like a crashed daemon
    with pytest.raises(NotRunning):
        ControlClient().request("status")
    with ControlServer(echo_handler):
        assert ControlClient().request("status")["got"] == "status"


def test_the_loopback_fallback_needs_the_token():
    """Where there are no Unix sockets: 127.0.0.1 plus a secret in a private file."""
    with ControlServer(echo_handler, use_tcp=True) as server:
        assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
        assert ControlClient(use_tcp=True).request("status")["got"] == "status"
        port = json.loads(server.path.read_text())["port"]
        with socket.create_connection(("127.0.0.1", port)) as s:
            stream = s.makefile("rwb")
            stream.write(b'{"cmd": "status", "token": "guess"}\n')
            stream.flush()
            assert json.loads(stream.readline()) == {"ok": False, "error": "bad token"}


# --- emusify ctl ---------------------------------------------------------------------------

STATUS = {
    "mood": "happy",
    "confidence": 0.91,
    "share": 0.72,
    "last_outcome": "mood",
    "last_check": 1_700_000_000.0,
    "next_check": 1_700_000_300.0,
    "checking": False,
    "checks_paused": False,
    "music_paused": False,
    "camera": "closed",
    "camera_error": None,
    "camera_source": "0",
    "music": {"state": "playing", "folder": "happy", "audio_error": None, "note": None},
    "track": "Emusify demo – Sunny Steps",
    "pid": 4242,
    "version": "0.1.0",
}


@pytest.fixture
def daemon_stub():
    """A control server answering like the daemon and recording what it was asked."""
    asked: list[str] = []

    def handler(request):
        asked.append(request["cmd"])
        return STATUS

    with ControlServer(handler):
        yield asked


def test_ctl_status_prints_mood_track_next_check_camera_and_audio(daemon_stub, capsys):
    from emusify import cli

    assert cli.main(["ctl", "status"]) == 0
    out = capsys.readouterr().out
    assert "Mood:       happy (confidence 91%, share 72%)" in out
    assert "Track:      Emusify demo – Sunny Steps (playing, folder happy)" in out
    assert "Next check: " in out and "Last check: " in out and "(mood)" in out
    assert "Camera:     closed (0)" in out
    assert "Audio:      ok" in out
    assert daemon_stub == ["status"]


def test_ctl_status_json_is_the_daemons_status(daemon_stub, capsys):
    from emusify import cli

    assert cli.main(["ctl", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


def test_ctl_pause_and_resume_can_target_music_or_checks(daemon_stub, capsys):
    from emusify import cli

    for argv in (["pause"], ["pause", "music"], ["resume", "checks"], ["skip"], ["quit"]):
        assert cli.main(["ctl", *argv]) == 0
    assert daemon_stub == ["pause", "pause-music", "resume-checks", "skip", "quit"]
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Done: pause music."
    assert out[3] == "Skipped; now playing: Emusify demo – Sunny Steps."
    assert out[4] == "Emusify is shutting down."


def test_ctl_without_a_daemon_is_one_clear_line(capsys):
    from emusify import cli

    assert cli.main(["ctl", "skip"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emusify ctl: error: Emusify is not running")
    assert "Traceback" not in err


def test_ctl_refuses_a_target_on_other_actions(daemon_stub, capsys):
    from emusify import cli

    assert cli.main(["ctl", "skip", "music"]) == 2
    assert "'music' goes only with pause or resume" in capsys.readouterr().err
    assert daemon_stub == []
