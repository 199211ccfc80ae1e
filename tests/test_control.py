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


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    return tmp_path


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


def test_a_stale_socket_file_is_replaced_and_reads_as_not_running(home):
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
