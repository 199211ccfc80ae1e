"""Fixes for pystray's X backend (python-xlib), the backend that runs without PyGObject.

Each works around one defect seen on a real X server with a real tray (Xvfb + trayer), and
each is tested there (tests/test_tray.py). They touch pystray's private attributes, so every
one fails soft: with another pystray version the icon still shows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)


class Docking:
    """Keeps the icon docked in the X system tray, over a connection of its own.

    pystray's X backend asks the tray to dock the icon once, when it is shown. A tray that
    is not ready yet (Emusify started at login before the panel, or a panel restarted later)
    misses that request and the icon never appears. This checks now and then whether the
    icon window sits in a tray (its parent is not the root window) and asks again if not.
    """

    DOCKING = 0.5  #: seconds between checks while the icon is not docked
    DOCKED = 5.0  #: and once it is

    def __init__(self, conn: Any, window: Any):
        self._conn = conn
        self._window = window
        self._root = conn.screen().root
        self._selection = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
        self._opcode = conn.intern_atom("_NET_SYSTEM_TRAY_OPCODE")
        self._docked = False
        self._told_no_tray = False

    @classmethod
    def attach(cls, icon: Any) -> Docking | None:
        from Xlib import display

        try:
            conn = display.Display(icon._display.get_display_name())
            return cls(conn, conn.create_resource_object("window", icon._window.id))
        except Exception:
            log.warning("Cannot watch the tray icon's docking", exc_info=True)
            return None

    def next_check(self) -> float:
        return self.DOCKED if self._docked else self.DOCKING

    def ensure(self) -> None:
        from Xlib import X
        from Xlib.protocol import event

        try:
            self._docked = self._window.query_tree().parent.id != self._root.id
            if self._docked:
                return
            owner = self._conn.get_selection_owner(self._selection)
            if owner == X.NONE:
                if not self._told_no_tray:
                    log.warning(
                        "No system tray on this display (yet): the icon shows once one starts; "
                        "`emusify ctl` works meanwhile"
                    )
                    self._told_no_tray = True
                return  # ask again at the next check
            request = event.ClientMessage(
                window=owner.id,
                client_type=self._opcode,
                data=(32, (X.CurrentTime, 0, self._window.id, 0, 0)),  # 0: REQUEST_DOCK
            )
            owner.send_event(request, event_mask=X.NoEventMask)
            self._conn.flush()
            log.info("Asked the system tray to show the icon again")
        except Exception:
            log.debug("docking check failed", exc_info=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()


def patch_backend(icon: Any) -> None:
    """Fixes for pystray's X backend, applied before ``icon.run()`` in the same thread.

    * It handles clicks but never asks the X server for them: its icon window selects only
      exposure and structure events, so a click never arrives and the default action (the
      control window) cannot open (pystray issue #151). Add ButtonPressMask.
    * It records its loop thread only after it lets the setup thread run, so making the icon
      visible can fail with AttributeError now and then. The loop runs in this thread: record
      it up front.
    * Changes from other threads reach its loop as a message sent over the loop's own X
      connection while the loop is blocked reading it, and now and then that message is
      lost and the caller waits forever. Messages from other threads go over a connection
      of their own instead.
    * It logs an error with a traceback whenever no tray takes the icon; Docking handles
      that case and says so in one line, so those records are dropped.
    * It stretches the icon to the slot the tray gives it, and trays often give a tall,
      narrow one (24 x 32 in trayer): a round face becomes an egg. The icon is scaled to fit
      and centred instead.
    """
    from Xlib import X, display
    from Xlib.protocol import event

    loop_thread = threading.current_thread()
    name = icon._display.get_display_name()
    own_send = icon._send_message

    def send_message(window: Any, client_type: int, *data: int) -> None:
        if threading.current_thread() is loop_thread:
            own_send(window, client_type, *data)
            return
        conn = display.Display(name)
        try:
            message = event.ClientMessage(
                window=window.id,
                client_type=client_type,
                data=(32, (X.CurrentTime, *data, *[0] * (4 - len(data)))),
            )
            conn.send_event(window.id, message, event_mask=X.NoEventMask)
            conn.sync()
        finally:
            with contextlib.suppress(Exception):  # the display may be going away
                conn.close()

    try:
        icon._window.change_attributes(
            event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask
        )
        icon._display.flush()
        icon._thread = loop_thread
        icon._send_message = send_message
        icon._log.addFilter(_drop_docking_errors)
        icon._assert_icon_data = lambda width, height: _fit_icon(icon, width, height)
    except Exception:  # another pystray version: the icon still shows, clicks may not work
        log.warning("Cannot adjust pystray's X backend", exc_info=True)


def letterbox(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to fit ``size`` without distortion, centred on black (X has no alpha)."""
    width, height = size
    side = max(1, min(width, height))
    out = Image.new("RGB", size)
    out.paste(
        image.resize((side, side), Image.LANCZOS), ((width - side) // 2, (height - side) // 2)
    )
    return out


def _fit_icon(icon: Any, width: int, height: int) -> None:
    if icon._icon_data is not None and icon._icon_data.size == (width, height):
        return
    data = letterbox(icon._icon, (width, height))
    data.tostring = data.tobytes  # what pystray's put_pil_image call expects
    icon._icon_data = data


def _drop_docking_errors(record: logging.LogRecord) -> bool:
    return record.getMessage() != "Failed to dock icon"
