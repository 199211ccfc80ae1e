"""The tray front end (pystray) and its Tk control window, over the daemon's commands.

``import pystray`` fails at import time without a display, so it is imported inside
:meth:`Tray.run` only, after :func:`display_available` said yes. pystray's X backend (what runs
without PyGObject) has no menu: there a click on the icon opens a small Tk window with the same
status and actions. Backends with menus get both the menu and the window as the default item.

Threads: pystray's loop runs in the thread that calls :meth:`Tray.run` (the main thread, as
macOS requires); icon updates are applied by a ``tray-update`` thread so that the daemon's
scheduler never waits for the X server; the Tk window lives in its own ``control-window``
thread and is only touched from there; commands run in short-lived threads so a click never
blocks either loop.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emusify.daemon import Daemon, DaemonStatus
from emusify.icons import draw_icon

log = logging.getLogger(__name__)

APP_TITLE = "Emusify"
#: Windows cuts tray tooltips at 128 characters.
MAX_TOOLTIP = 127


def display_available() -> bool:
    """Whether a tray can be shown: always on macOS and Windows, with $DISPLAY or Wayland else."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def icon_name(status: DaemonStatus) -> str:
    """Which icon shows the daemon's state; paused and problems win over the mood."""
    if status.checks_paused:
        return "paused"
    if status.camera == "unavailable":
        return "no_camera"
    if status.last_outcome == "no_face":
        return "no_face"
    return status.mood or "idle"


def mood_line(status: DaemonStatus) -> str:
    if status.checks_paused:
        return "Mood checks paused"
    if status.camera == "unavailable":
        return "No camera"
    text = f"Mood: {status.mood}" if status.mood else "Mood: not known yet"
    if status.mood and status.confidence is not None:
        text += f" ({status.confidence:.0%})"
    if status.last_outcome == "no_face":
        text += ", no face at the last check"
    if status.checking:
        text += ", checking…"
    return text


def track_line(status: DaemonStatus) -> str:
    music = status.music
    if music.get("state") == "no_audio":
        return "No audio output"
    track = status.track
    if not track:
        return "Nothing playing"
    return f"{'Paused' if music.get('state') == 'paused' else 'Playing'}: {track}"


def tooltip(status: DaemonStatus) -> str:
    text = f"{APP_TITLE} – {mood_line(status)} – {track_line(status)}"
    return text if len(text) <= MAX_TOOLTIP else text[: MAX_TOOLTIP - 1] + "…"


def open_path(path: Path) -> None:
    """Show a folder or file with the desktop's default application."""
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.Popen([opener, str(path)], start_new_session=True)
    except OSError as exc:
        log.warning("Cannot open %s: %s", path, exc)


class Actions:
    """The user's actions, shared by the tray menu and the control window."""

    def __init__(self, daemon: Daemon, songs_dir: Path, config_path: Path | None):
        self.daemon = daemon
        self.songs_dir = songs_dir
        self.config_path = config_path

    def send(self, name: str) -> None:
        """Run a daemon command without blocking the calling UI loop."""

        def go() -> None:
            try:
                self.daemon.command(name)
            except Exception as exc:
                log.warning("%s: %s", name, exc)

        threading.Thread(target=go, name=f"command-{name}", daemon=True).start()

    def toggle_checks(self) -> None:
        paused = self.daemon.status().checks_paused
        self.send("resume-checks" if paused else "pause-checks")

    def toggle_music(self) -> None:
        paused = self.daemon.status().music_paused
        self.send("resume-music" if paused else "pause-music")

    def open_songs(self) -> None:
        open_path(self.songs_dir)

    def open_config(self) -> None:
        if self.config_path is not None:
            open_path(self.config_path)


class Tray:
    """The tray icon; :meth:`run` blocks until the daemon has stopped."""

    def __init__(self, daemon: Daemon, actions: Actions):
        self.daemon = daemon
        self.actions = actions
        self._updates: queue.Queue[DaemonStatus | None] = queue.Queue()
        self._ready = threading.Event()
        self._window = ControlWindow(daemon, actions)
        self._icon: Any = None
        self._shown: str | None = None

    def run(self) -> None:
        import pystray

        status = self.daemon.status()
        self._shown = icon_name(status)
        self._icon = pystray.Icon(
            "emusify", draw_icon(self._shown), tooltip(status), menu=self._menu(pystray)
        )
        log.info(
            "Tray icon shown (%s backend%s)",
            type(self._icon).__module__.rsplit("_", 1)[-1],
            "" if self._icon.HAS_MENU else "; no menu there, a click opens the control window",
        )
        self.daemon.add_listener(self._updates.put)
        threads = [
            threading.Thread(target=self._apply_updates, name="tray-update", daemon=True),
            threading.Thread(target=self._stop_with_daemon, name="tray-watch", daemon=True),
        ]
        for t in threads:
            t.start()
        self._icon.run(setup=self._setup)
        self._updates.put(None)
        self._window.close()

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self._ready.set()

    def _stop_with_daemon(self) -> None:
        self.daemon.wait()
        self._ready.wait(timeout=5)
        self._icon.stop()

    def _apply_updates(self) -> None:
        self._ready.wait()
        while True:
            status = self._updates.get()
            while status is not None and not self._updates.empty():
                status = self._updates.get()  # only the latest matters
            if status is None:
                return
            try:
                name = icon_name(status)
                if name != self._shown:
                    self._icon.icon = draw_icon(name)
                    self._shown = name
                    log.debug("tray icon: %s", name)
                self._icon.title = tooltip(status)
                self._icon.update_menu()
            except Exception:
                log.exception("Cannot update the tray icon")

    def _menu(self, pystray: Any) -> Any:
        item, menu = pystray.MenuItem, pystray.Menu
        a = self.actions

        def status_text(fn: Callable[[DaemonStatus], str]) -> Callable[[Any], str]:
            return lambda _item: fn(self.daemon.status())

        def do(fn: Callable[[], None]) -> Callable[[Any, Any], None]:
            return lambda _icon, _item: fn()

        return menu(
            item("Open controls", do(self._window.open), default=True),
            item(status_text(mood_line), None, enabled=False),
            item(status_text(track_line), None, enabled=False),
            menu.SEPARATOR,
            item("Check mood now", do(lambda: a.send("check"))),
            item(
                "Pause mood checks",
                do(a.toggle_checks),
                checked=lambda _item: self.daemon.status().checks_paused,
            ),
            item(
                "Pause music",
                do(a.toggle_music),
                checked=lambda _item: self.daemon.status().music_paused,
            ),
            item("Skip", do(lambda: a.send("skip"))),
            item("Like", do(lambda: a.send("like"))),
            item("Dislike", do(lambda: a.send("dislike"))),
            menu.SEPARATOR,
            item("Open songs folder", do(a.open_songs)),
            item("Open config file", do(a.open_config), enabled=a.config_path is not None),
            menu.SEPARATOR,
            item("Quit", do(lambda: a.send("quit"))),
        )


class ControlWindow:
    """A small Tk window with the status and the actions, in its own thread."""

    REFRESH_MS = 500

    def __init__(self, daemon: Daemon, actions: Actions):
        self.daemon = daemon
        self.actions = actions
        self._thread: threading.Thread | None = None
        self._raise = threading.Event()
        self._close = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def open(self) -> None:
        """Show the window, or bring it to the front when it is already open."""
        if self.is_open:
            self._raise.set()
            return
        self._close.clear()
        self._thread = threading.Thread(target=self._main, name="control-window", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._close.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _main(self) -> None:
        try:
            import tkinter as tk
        except ImportError as exc:
            log.error("The control window needs Tk (python3-tk): %s", exc)
            return
        try:
            root = tk.Tk(className="emusify")
        except tk.TclError as exc:
            log.error("Cannot open the control window: %s", exc)
            return
        root.title(APP_TITLE)
        root.resizable(False, False)
        labels: dict[str, tk.StringVar] = {}
        for row, key in enumerate(("Mood", "Track", "Next check", "Camera", "Audio")):
            tk.Label(root, text=key + ":", anchor="e").grid(row=row, column=0, sticky="e", padx=6)
            labels[key] = tk.StringVar(root)
            tk.Label(root, textvariable=labels[key], anchor="w", width=44).grid(
                row=row, column=1, sticky="w", padx=6
            )
        buttons = tk.Frame(root)
        buttons.grid(row=5, column=0, columnspan=2, pady=6)
        a = self.actions
        toggles = {"checks": tk.StringVar(root), "music": tk.StringVar(root)}
        spec: list[tuple[str | tk.StringVar, Callable[[], None]]] = [
            ("Check mood now", lambda: a.send("check")),
            (toggles["checks"], a.toggle_checks),
            (toggles["music"], a.toggle_music),
            ("Skip", lambda: a.send("skip")),
            ("Like", lambda: a.send("like")),
            ("Dislike", lambda: a.send("dislike")),
            ("Songs folder", a.open_songs),
            ("Config file", a.open_config),
            ("Quit", lambda: a.send("quit")),
        ]
        for i, (text, command) in enumerate(spec):
            kw: dict[str, Any] = (
                {"textvariable": text} if isinstance(text, tk.StringVar) else {"text": text}
            )
            tk.Button(buttons, command=command, width=16, **kw).grid(
                row=i // 3, column=i % 3, padx=2, pady=2
            )

        def refresh() -> None:
            if self._close.is_set() or self.daemon.wait(0):
                root.destroy()
                return
            if self._raise.is_set():
                self._raise.clear()
                root.deiconify()
                root.lift()
            s = self.daemon.status()
            labels["Mood"].set(mood_line(s))
            labels["Track"].set(track_line(s))
            labels["Next check"].set(_next_check_text(s))
            labels["Camera"].set(
                f"{s.camera}: {s.camera_error}"
                if s.camera_error
                else f"{s.camera_source} ({s.camera})"
            )
            labels["Audio"].set(
                s.music.get("audio_error") or s.music.get("note") or s.music.get("state", "?")
            )
            toggles["checks"].set("Resume mood checks" if s.checks_paused else "Pause mood checks")
            toggles["music"].set("Resume music" if s.music_paused else "Pause music")
            root.after(self.REFRESH_MS, refresh)

        refresh()
        log.debug("control window opened")
        root.mainloop()
        log.debug("control window closed")


def _next_check_text(status: DaemonStatus) -> str:
    if status.checks_paused:
        return "paused"
    if status.checking:
        return "now"
    if status.next_check is None:
        return "–"
    from datetime import datetime

    return datetime.fromtimestamp(status.next_check).strftime("%H:%M:%S")
