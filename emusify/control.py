"""The local control channel: JSON lines over a Unix socket (0600) in the runtime directory.

One request per line, one reply per line::

    -> {"cmd": "status"}                  (other keys, such as "arg", reach the handler as sent)
    <- {"ok": true, "result": {...}}
    <- {"ok": false, "error": "unknown command 'x'; known: ..."}

Only this user can connect: the socket is created mode 0600 inside a 0700 directory. Where
the platform has no Unix sockets (older Windows Pythons) the server listens on 127.0.0.1 and
writes its port and a random token to a 0600 file in the same directory; a client must send
the token with each request.

The server is one thread around a selector, so idle clients cost a descriptor each, never a
thread; requests run on a small pool (a command may wait for the daemon's scheduler). It
sleeps in ``select`` until a client or the stop pipe wakes it: nothing wakes it at rest. A
client that sends nothing for ``IDLE_SECONDS`` is disconnected, a line longer than
``MAX_LINE`` is answered with an error and the connection closed, and every other bad line
(not JSON, nested too deep, not an object) gets an error reply on the same connection.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import math
import os
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emusify import paths
from emusify.errors import EmusifyError
from emusify.files import private_dir

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
TCP_ADDRESS_NAME = "control.json"
MAX_LINE = 64 * 1024
#: The longest reply a client reads (a status is about 1 KB).
MAX_REPLY = 16 * 1024 * 1024
HAS_UNIX_SOCKETS = hasattr(socket, "AF_UNIX")
#: Pending connections the kernel queues before ``accept`` (capped by net.core.somaxconn).
BACKLOG = 512
#: A connection that sends nothing for this long is closed (clients send at once).
IDLE_SECONDS = 30.0
#: Open connections at most; past it the longest-idle one is closed to make room.
MAX_CONNECTIONS = 512
#: Threads that run requests; the rest wait their turn.
WORKERS = 4

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


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, so the JSON stays standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def encode_reply(reply: dict[str, Any]) -> bytes:
    """One reply line: standard JSON (no NaN), whatever the handler returned."""
    try:
        text = json.dumps(finite(reply), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        log.error("control reply could not be encoded: %s", exc)
        text = json.dumps({"ok": False, "error": f"internal error: the reply is not JSON: {exc}"})
    return text.encode() + b"\n"


def parse_request(raw: bytes, token: str | None = None) -> dict[str, Any] | str:
    """The request object of one line, or the error text to send back."""
    try:
        request = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return "not a JSON request line"
    except RecursionError:
        return "the request is nested too deeply"
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        return 'a request is an object with a "cmd" text'
    if token is not None and not secrets.compare_digest(str(request.get("token", "")), token):
        return "bad token"
    return request


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    last_active: float
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    busy: bool = False  #: a request of this connection is running
    closing: bool = False  #: close once the outbox is sent


class ControlServer:
    """Serve ``handler`` on the control channel from one background thread."""

    def __init__(self, handler: Handler, *, path: Path | None = None, use_tcp: bool = False):
        self.handler = handler
        self.use_tcp = use_tcp or not HAS_UNIX_SOCKETS
        self.path = path or (tcp_address_path() if self.use_tcp else socket_path())
        self.token: str | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._selector: selectors.BaseSelector | None = None
        self._connections: dict[int, _Connection] = {}
        self._wake_r, self._wake_w = -1, -1
        self._done: list[tuple[_Connection, bytes]] = []  # replies from the pool
        self._done_lock = threading.Lock()
        self._stopping = False

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> ControlServer:
        private_dir(self.path.parent)
        # The caller holds the instance lock, so a socket file here is a stale leftover.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.use_tcp:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            self.token = secrets.token_hex(16)
            port = listener.getsockname()[1]
            _write_private(self.path, json.dumps({"port": port, "token": self.token}))
        else:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_umask = os.umask(0o177)  # the socket is born 0600: no window for others
            try:
                listener.bind(str(self.path))
            except OSError:
                listener.close()
                raise
            finally:
                os.umask(old_umask)
            os.chmod(self.path, 0o600)
        listener.listen(BACKLOG)
        listener.setblocking(False)
        self._listener = listener
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="control")
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()
        log.info("control channel at %s", self.path)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping = True
        self._wake()
        self._thread.join(timeout=5)
        self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connections(self) -> int:
        """Open client connections (for tests and the soak benchmark)."""
        return len(self._connections)

    # --- the selector thread --------------------------------------------------------------

    def _serve(self) -> None:
        assert self._selector is not None
        try:
            while not self._stopping:
                for key, events in self._selector.select(self._timeout()):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            os.read(self._wake_r, 4096)
                    else:
                        conn: _Connection = key.data
                        if events & selectors.EVENT_WRITE:
                            self._send(conn)
                        if events & selectors.EVENT_READ and conn.sock.fileno() >= 0:
                            self._receive(conn)
                self._collect_replies()
                self._close_idle()
        except Exception:  # a bug here must not pass silently: the channel would be dead
            log.exception("the control channel failed")
        finally:
            self._close_all()

    def _timeout(self) -> float | None:
        """Until the next idle deadline; None (sleep until woken) when nobody is connected."""
        idle = [c.last_active for c in self._connections.values() if not c.busy]
        if not idle:
            return None
        return max(0.0, min(idle) + IDLE_SECONDS - time.monotonic())

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        for _ in range(BACKLOG):  # drain a burst in one wake-up
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: keep serving those we have
                log.warning("control channel: cannot accept a connection: %s", exc)
                return
            if len(self._connections) >= MAX_CONNECTIONS:
                self._evict_one()
            sock.setblocking(False)
            conn = _Connection(sock, time.monotonic())
            self._connections[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _evict_one(self) -> None:
        idle = [c for c in self._connections.values() if not c.busy]
        if idle:
            oldest = min(idle, key=lambda c: c.last_active)
            log.warning(
                "control channel: %d connections open; closing the longest idle", MAX_CONNECTIONS
            )
            self._close(oldest)

    def _receive(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        conn.last_active = time.monotonic()
        conn.inbox += data
        self._next_request(conn)

    def _next_request(self, conn: _Connection) -> None:
        """Start the next complete line of ``conn`` (one at a time, replies in order)."""
        if conn.busy or conn.closing:
            return
        end = conn.inbox.find(b"\n")
        if end < 0:
            if len(conn.inbox) > MAX_LINE:
                conn.inbox.clear()
                conn.closing = True  # the rest of the line would be read as new requests
                self._reply(
                    conn, {"ok": False, "error": f"request line longer than {MAX_LINE} bytes"}
                )
            return
        raw = bytes(conn.inbox[:end])
        del conn.inbox[: end + 1]
        if len(raw) > MAX_LINE:
            self._reply(conn, {"ok": False, "error": f"request line longer than {MAX_LINE} bytes"})
            return
        request = parse_request(raw, self.token)
        if isinstance(request, str):
            self._reply(conn, {"ok": False, "error": request})
            return
        conn.busy = True
        assert self._pool is not None
        try:
            self._pool.submit(self._run, conn, request)
        except RuntimeError:  # the pool is shut down: we are stopping
            conn.busy = False

    def _run(self, conn: _Connection, request: dict[str, Any]) -> None:
        """In a pool thread: call the handler, hand the reply to the selector thread."""
        try:
            reply = {"ok": True, "result": self.handler(request)}
        except EmusifyError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not take the control channel down
            log.exception("control request %r failed", request.get("cmd"))
            reply = {"ok": False, "error": f"internal error: {exc}"}
        line = encode_reply(reply)
        with self._done_lock:
            self._done.append((conn, line))
        self._wake()

    def _collect_replies(self) -> None:
        with self._done_lock:
            done, self._done = self._done, []
        for conn, line in done:
            conn.busy = False
            conn.last_active = time.monotonic()
            if conn.sock.fileno() < 0:
                continue  # closed meanwhile
            conn.outbox += line
            self._send(conn)
            if conn.sock.fileno() >= 0:
                self._next_request(conn)

    def _reply(self, conn: _Connection, reply: dict[str, Any]) -> None:
        conn.outbox += encode_reply(reply)
        self._send(conn)
        if conn.sock.fileno() >= 0 and not conn.closing:
            self._next_request(conn)

    def _send(self, conn: _Connection) -> None:
        assert self._selector is not None
        try:
            while conn.outbox:
                sent = conn.sock.send(conn.outbox)
                del conn.outbox[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # the client went away; its reply has nobody to read it
            self._close(conn)
            return
        if conn.outbox:
            self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
            return
        if conn.closing:
            self._close(conn)
            return
        if self._selector.get_key(conn.sock).events != selectors.EVENT_READ:
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _close_idle(self) -> None:
        now = time.monotonic()
        for conn in list(self._connections.values()):
            if not conn.busy and now - conn.last_active >= IDLE_SECONDS:
                log.debug("control channel: closing a connection idle for %.0f s", IDLE_SECONDS)
                self._close(conn)

    def _close(self, conn: _Connection) -> None:
        fd = conn.sock.fileno()
        if fd < 0:
            return
        self._connections.pop(fd, None)
        assert self._selector is not None
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _close_all(self) -> None:
        for conn in list(self._connections.values()):
            self._close(conn)
        if self._selector is not None:
            self._selector.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._done_lock:  # no late reply may write into a reused descriptor
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _wake(self) -> None:
        with self._done_lock, contextlib.suppress(OSError):  # a full pipe is a pending wake-up
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")


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
                line = stream.readline(MAX_REPLY)
            except OSError as exc:
                raise ControlError(f"no answer from Emusify on {self.path}: {exc}") from None
        if not line:
            raise ControlError(f"Emusify closed the control connection on {self.path}")
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            raise ControlError(
                f"Emusify answered something that is not JSON on {self.path}"
            ) from None
        if not isinstance(reply, dict):
            raise ControlError(f"Emusify answered something that is not a reply on {self.path}")
        if not reply.get("ok"):
            raise ControlError(f"emusify refused {cmd!r}: {reply.get('error')}")
        return reply.get("result")
