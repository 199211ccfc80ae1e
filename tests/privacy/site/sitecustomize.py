"""Test-only: record what an Emusify process does that touches privacy, via Python audit hooks.

Put this folder first on PYTHONPATH and name a file in EMUSIFY_AUDIT_LOG: every Python process
started with that environment (the daemon, and each worker it starts for a mood check) appends
one JSON line per event to that file: files opened for writing, SQLite databases opened,
sockets created, bound or connected, and the camera opened and released (the
``emusify.camera.*`` audit events of emusify/sensing/camera.py). Without the variable this
file does nothing. Production code never imports it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback

_LOG = os.environ.get("EMUSIFY_AUDIT_LOG")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _install(log_file: str) -> None:
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    inside = threading.local()

    def record(event: str, **fields: object) -> None:
        line = json.dumps({"event": event, "pid": os.getpid(), **fields}, default=repr)
        os.write(fd, line.encode() + b"\n")

    def hook(event: str, args: tuple) -> None:
        if getattr(inside, "busy", False):
            return
        inside.busy = True
        try:
            if event == "open":
                path, mode, flags = args
                if isinstance(path, int):
                    return  # an already open descriptor, counted when it was opened
                writes = any(c in mode for c in "wax+") if mode else bool(flags & _WRITE_FLAGS)
                if writes:
                    where = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[-8:-1]]
                    record("write", path=os.fsdecode(path), stack=where)
            elif event == "sqlite3.connect":
                record("sqlite", path=os.fsdecode(args[0]) if args[0] else "")
            elif event == "socket.__new__":
                record("socket", family=int(args[1]))
            elif event in ("socket.bind", "socket.connect"):
                sock, address = args
                record(event, family=int(sock.family), address=address)
            elif event.startswith("emusify."):
                record(event, args=[str(a) for a in args])
        finally:
            inside.busy = False

    sys.addaudithook(hook)
    record("start", argv=sys.argv)


if _LOG:
    _install(_LOG)
