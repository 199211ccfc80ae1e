"""The control channel: JSON lines over a private Unix socket, clear errors both ways."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from pathlib import Path

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


# --- hardening: bounded threads, idle timeout, an error reply for every bad line ----------


def ask(stream, line: bytes) -> dict:
    stream.write(line)
    stream.flush()
    return json.loads(stream.readline())


@pytest.fixture
def connected():
    with ControlServer(echo_handler) as server, socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.path))
        s.settimeout(5)
        yield server, s, s.makefile("rwb")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"[" * 30_000 + b"\n", "the request is nested too deeply"),
        (b'{"a":' * 10_000 + b"\n", "the request is nested too deeply"),
        (b'"status"\n', 'a request is an object with a "cmd" text'),
        (b'{"cmd": 3}\n', 'a request is an object with a "cmd" text'),
        (b"\xff\xfe\n", "not a JSON request line"),
        (b"\n", "not a JSON request line"),
    ],
    ids=["deep-list", "deep-object", "text", "cmd-number", "not-utf8", "empty"],
)
def test_every_bad_line_gets_an_error_reply_and_the_connection_goes_on(connected, line, error):
    _server, _s, stream = connected
    assert ask(stream, line) == {"ok": False, "error": error}
    assert ask(stream, b'{"cmd": "status"}\n')["result"]["got"] == "status"


def test_a_recursion_error_is_never_logged_as_a_traceback(connected, caplog):
    _server, _s, stream = connected
    ask(stream, b"[" * 60_000 + b"\n")
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def test_a_line_longer_than_the_limit_is_refused_and_the_connection_closed(connected):
    _server, s, stream = connected
    s.sendall(b"x" * (control.MAX_LINE + 10))
    reply = json.loads(stream.readline())
    assert reply == {"ok": False, "error": f"request line longer than {control.MAX_LINE} bytes"}
    assert stream.readline() == b"", "closed after the error"
    assert ControlClient().request("status")["got"] == "status"


def test_extra_keys_reach_the_handler_as_sent():
    seen = []
    with ControlServer(lambda r: seen.append(r) or "ok"):
        assert ControlClient().request("mood", arg="happy") == "ok"
    assert seen == [{"cmd": "mood", "arg": "happy"}]


def test_nan_in_a_result_becomes_null_so_the_reply_stays_json():
    result = {"confidence": float("nan"), "share": float("inf"), "list": [float("-inf"), 1.5]}
    with ControlServer(lambda r: result) as server, socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.path))
        stream = s.makefile("rwb")
        stream.write(b'{"cmd": "status"}\n')
        stream.flush()
        line = stream.readline().decode()
    assert "NaN" not in line and "Infinity" not in line
    assert json.loads(line)["result"] == {"confidence": None, "share": None, "list": [None, 1.5]}


def test_a_result_that_is_not_json_is_an_error_reply():
    with (
        ControlServer(lambda r: {"x": object()}),
        pytest.raises(ControlError, match="internal error: the reply is not JSON"),
    ):
        ControlClient().request("status")


def test_an_idle_client_is_disconnected(monkeypatch):
    monkeypatch.setattr(control, "IDLE_SECONDS", 0.3)
    with ControlServer(echo_handler) as server, socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.path))
        s.settimeout(5)
        began = time.monotonic()
        assert s.recv(10) == b""
        assert 0.2 < time.monotonic() - began < 3
        assert server.connections == 0


def idle_clients(path, n: int) -> list[socket.socket]:
    clients = []
    for _ in range(n):
        c = socket.socket(socket.AF_UNIX)
        c.connect(str(path))
        clients.append(c)
    return clients


def test_hundreds_of_idle_clients_cost_no_threads_and_status_still_answers():
    before = threading.active_count()
    with ControlServer(echo_handler) as server:
        clients = idle_clients(server.path, 300)
        try:
            assert ControlClient().request("status")["got"] == "status"
            deadline = time.monotonic() + 5
            while server.connections < 300 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.connections >= 300
            # the selector thread and at most the request pool, however many clients
            assert threading.active_count() - before <= 1 + control.WORKERS
        finally:
            for c in clients:
                c.close()


def test_past_the_connection_limit_the_longest_idle_client_makes_room(monkeypatch):
    monkeypatch.setattr(control, "MAX_CONNECTIONS", 5)
    with ControlServer(echo_handler) as server:
        clients = idle_clients(server.path, 5)
        try:
            assert ControlClient().request("status")["got"] == "status"
            clients[0].settimeout(5)
            assert clients[0].recv(10) == b"", "the first, longest idle, was closed"
        finally:
            for c in clients:
                c.close()


def test_two_hundred_simultaneous_connects_are_all_answered():
    with ControlServer(echo_handler) as server:
        socks = []
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            s.connect(str(server.path))  # all queued before the server accepts any
            socks.append(s)
        answered = 0
        for s in socks:
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(b'{"cmd": "status"}\n')
            answered += json.loads(s.makefile("rb").readline())["ok"]
            s.close()
    assert answered == 200


def switches(thread: threading.Thread) -> int:
    """Times the thread was scheduled off the CPU: it grows with every wake-up."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_the_server_sleeps_at_rest_without_polling():
    with ControlServer(echo_handler) as server:
        ControlClient().request("status")  # the client has gone: nobody is connected
        time.sleep(0.2)
        before = switches(server._thread)
        time.sleep(2.0)
        assert switches(server._thread) == before, "the control thread woke up at rest"
        assert ControlClient().request("status")["got"] == "status"
        began = time.monotonic()
    assert time.monotonic() - began < 1, "stop wakes it at once"
