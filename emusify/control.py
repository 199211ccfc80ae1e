"""The local control channel: JSON lines over a Unix socket (0600) in the runtime directory.

One request per line, one reply per line::

    -> {"cmd": "status"}
    <- {"ok": true, "result": {...}}
    <- {"ok": false, "error": "unknown command 'x'; known: ..."}

Only this user can connect: the socket is created mode 0600 inside a 0700 directory. Where
the platform has no Unix sockets (older Windows Pythons) the server listens on 127.0.0.1 and
writes its port and a random token to a 0600 file in the same directory; a client must send
the token with each request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emusify import paths
from emusify.errors import EmusifyError
from emusify.instance import ensure_private_dir

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
TCP_ADDRESS_NAME = "control.json"
MAX_LINE = 64 * 1024
HAS_UNIX_SOCKETS = hasattr(socket, "AF_UNIX")

#: Handles one request dict and returns the reply's result (raise EmusifyError for a refusal).
Handler = Callable[[dict[str, Any]], Any]


class ControlError(EmusifyError):
    """The daemon cannot be reached, or it refused a request."""


class NotRunning(ControlError):
    """No daemon is listening on the control channel."""


def socket_path() -> Path:
    return paths.runtime_dir() / SOCKET_NAME


def tcp_address_path() -> Path:
    return paths.runtime_dir() / TCP_ADDRESS_NAME


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in iter(lambda: self.rfile.readline(MAX_LINE), b""):
            reply = self.server.reply_to(raw)
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.BaseServer):
    """Shared reply logic for the Unix and TCP servers."""

    daemon_threads = True
    handler: Handler
    token: str | None = None

    def reply_to(self, raw: bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"ok": False, "error": "not a JSON request line"}
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": 'a request is an object with a "cmd" text'}
        if self.token is not None and not secrets.compare_digest(
            str(request.get("token", "")), self.token
        ):
            return {"ok": False, "error": "bad token"}
        try:
            return {"ok": True, "result": self.handler(request)}
        except EmusifyError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not take the control thread down
            log.exception("control request %r failed", request.get("cmd"))
            return {"ok": False, "error": f"internal error: {exc}"}


class _UnixServer(_Server, socketserver.UnixStreamServer):
    pass


class _TCPServer(_Server, socketserver.TCPServer):
    allow_reuse_address = True


class ControlServer:
    """Serve ``handler`` on the control channel from a background thread."""

    def __init__(self, handler: Handler, *, path: Path | None = None, use_tcp: bool = False):
        self.handler = handler
        self.use_tcp = use_tcp or not HAS_UNIX_SOCKETS
        self.path = path or (tcp_address_path() if self.use_tcp else socket_path())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ControlServer:
        ensure_private_dir(self.path.parent)
        # The caller holds the instance lock, so a socket file here is a stale leftover.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.use_tcp:
            server: _Server = _TCPServer(("127.0.0.1", 0), _RequestHandler)
            server.token = secrets.token_hex(16)
            port = server.server_address[1]
            _write_private(self.path, json.dumps({"port": port, "token": server.token}))
        else:
            old_umask = os.umask(0o177)  # the socket is born 0600: no window for others
            try:
                server = _UnixServer(str(self.path), _RequestHandler)
            finally:
                os.umask(old_umask)
            os.chmod(self.path, 0o600)
        server.handler = self.handler
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="control"
        )
        self._thread.daemon = True
        self._thread.start()
        log.info("control channel at %s", self.path)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


class ControlClient:
    """Talk to the running daemon. Each ``request`` is one round trip on one connection."""

    def __init__(self, path: Path | None = None, *, use_tcp: bool = False, timeout: float = 10.0):
        self.use_tcp = use_tcp or not HAS_UNIX_SOCKETS
        self.path = path or (tcp_address_path() if self.use_tcp else socket_path())
        self.timeout = timeout

    def _connect(self) -> tuple[socket.socket, str | None]:
        not_running = NotRunning(
            f"Emusify is not running (nothing listens on {self.path}); start it with `emusify run`"
        )
        try:
            if self.use_tcp:
                address = json.loads(self.path.read_text(encoding="utf-8"))
                sock = socket.create_connection(
                    ("127.0.0.1", int(address["port"])), timeout=self.timeout
                )
                return sock, str(address["token"])
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
            except OSError:
                sock.close()
                raise
            return sock, None
        except (FileNotFoundError, ConnectionRefusedError):
            raise not_running from None
        except (OSError, ValueError, KeyError) as exc:
            raise ControlError(f"cannot reach Emusify through {self.path}: {exc}") from None

    def request(self, cmd: str, **fields: Any) -> Any:
        """Send one command; return its result or raise ControlError with the daemon's reason."""
        sock, token = self._connect()
        message: dict[str, Any] = {"cmd": cmd, **fields}
        if token is not None:
            message["token"] = token
        with sock, sock.makefile("rwb") as stream:
            try:
                stream.write(json.dumps(message).encode() + b"\n")
                stream.flush()
                line = stream.readline(MAX_LINE)
            except OSError as exc:
                raise ControlError(f"no answer from Emusify on {self.path}: {exc}") from None
        if not line:
            raise ControlError(f"Emusify closed the control connection on {self.path}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(f"emusify refused {cmd!r}: {reply.get('error')}")
        return reply.get("result")
