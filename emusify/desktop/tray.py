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

import contextlib
import gc
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from emusify.config import EMOTIONS
from emusify.daemon import Daemon, DaemonStatus
from emusify.desktop import tray_x11
from emusify.desktop.icons import draw_icon

log = logging.getLogger(__name__)

APP_TITLE = "Emusify"
#: Windows cuts tray tooltips at 128 characters.
MAX_TOOLTIP = 127


def icon_name(status: DaemonStatus) -> str:
    """Which icon shows the daemon's state; paused and problems win over the mood."""
    if status.checks_paused:
        return "paused"
    if status.camera == "unavailable":
        return "no_camera"
    if status.last_outcome == "no_face":
        return "no_face"
    return status.mood or "idle"


def mood_text(status: DaemonStatus) -> str:
    """The mood part of the status, e.g. "happy (82%)" or "mood checks paused"."""
    if status.mood_source == "manual" and status.mood:
        if status.mood_until is None:
            return f"{status.mood} (set by hand; the next check decides)"
        until = datetime.fromtimestamp(status.mood_until).strftime("%H:%M")
        return f"{status.mood} (set by hand until {until})"
    if status.checks_paused:
        return "mood checks paused"
    if status.camera == "unavailable":
        return "no camera"
    text = status.mood or "not known yet"
    if status.mood and status.confidence is not None:
        text += f" ({status.confidence:.0%})"
    if status.last_outcome == "no_face":
        text += ", no face at the last check"
    if status.checking:
        text += ", checking..."
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
    text = f"{APP_TITLE}: mood {mood_text(status)}. {track_line(status)}"
    return text if len(text) <= MAX_TOOLTIP else text[: MAX_TOOLTIP - 3] + "..."


#: Typography that Latin-1 lacks, written the plain way (a track "Artist – Title").
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."})


def _latin1(text: str) -> str:
    """X window names are Latin-1 in pystray's X backend; other characters become '?'."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def open_path(path: Path) -> str | None:
    """Show a folder or file with the desktop's default application; None, or why it failed
    in words that still get the user there (the path)."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return None
        subprocess.Popen(
            [opener, str(path)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        problem = f"no {opener} to open it with: it is {path}"
    except OSError as exc:
        problem = f"cannot open it ({exc.strerror or exc}): it is {path}"
    else:
        return None
    log.warning("%s", problem)
    return problem


def write_and_open_report(out: Path, timeout: float = 300.0) -> tuple[bool, str]:
    """Write the report in a child process, then show it in the browser.

    The child (``python -m emusify report``) keeps matplotlib out of the daemon. Returns
    whether a browser took the page, and what happened in words (also logged).
    """
    import webbrowser

    command = [sys.executable, "-m", "emusify", "report", "--out", str(out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        failed = None if done.returncode == 0 else done.stderr or done.stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        failed = str(exc)
    if failed is not None:
        lines = failed.strip().splitlines()
        message = f"Report: could not be written: {lines[-1] if lines else 'see the log'}"
        log.error("%s", message)
        return False, message
    try:
        opened = webbrowser.open(out.as_uri())
    except webbrowser.Error:
        opened = False
    if opened:
        message = f"Report: {out} opened in the browser."
        log.info("%s", message)
    else:
        message = f"Report: no browser to show it; it is at {out}"
        log.warning("%s", message)
    return opened, message


class Actions:
    """The user's actions, shared by the tray menu and the control window."""

    def __init__(
        self,
        daemon: Daemon,
        songs_dir: Path,
        config_path: Path | None,
        *,
        moods: tuple[str, ...] = EMOTIONS,
    ):
        self.daemon = daemon
        self.songs_dir = songs_dir
        self.config_path = config_path
        #: What "I feel ..." offers.
        self.moods = moods

    def send(
        self, name: str, done: Callable[[str], None] | None = None, *, arg: str | None = None
    ) -> None:
        """Run a daemon command without blocking the calling UI loop; ``done`` gets what
        happened in words (from another thread)."""
        from emusify.commands.ctl import confirmation

        def go() -> None:
            try:
                message = confirmation(name, self.daemon.command(name, arg).to_dict())
            except Exception as exc:
                log.warning("%s: %s", name, exc)
                message = f"{name}: {exc}"
            if done is not None:
                done(message)

        threading.Thread(target=go, name=f"command-{name}", daemon=True).start()

    def toggle_checks(self) -> None:
        paused = self.daemon.status().checks_paused
        self.send("resume-checks" if paused else "pause-checks")

    def set_mood(self, mood: str) -> None:
        """The tray's "I feel ...": a mood set by hand, or "auto" (the checks decide)."""
        self.send("mood", arg=mood)

    def toggle_learn(self) -> None:
        on = self.daemon.status().learn_from_corrections
        self.send("learn", arg="off" if on else "on")

    def toggle_music(self) -> None:
        paused = self.daemon.status().music_paused
        self.send("resume-music" if paused else "pause-music")

    def open_songs(self) -> str | None:
        problem = open_path(self.songs_dir)
        return f"Songs folder: {problem}" if problem else None

    def open_config(self) -> str | None:
        if self.config_path is None:
            return None
        problem = open_path(self.config_path)
        return f"Config file: {problem}" if problem else None

    def open_report(self, done: Callable[[str | None], None] | None = None) -> None:
        """Write the report and open it, in a thread (it takes a few seconds); ``done`` gets
        a message when there is something to say (no browser, a failure)."""
        from emusify.commands.report import default_out

        out = default_out()

        def go() -> None:
            opened, message = write_and_open_report(out)
            if done is not None and not opened:
                done(message)

        threading.Thread(target=go, name="open-report", daemon=True).start()


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
        self._latin1_titles = False

    def run(self) -> None:
        import pystray

        self._latin1_titles = pystray.Icon.__module__.endswith("_xorg")
        status = self.daemon.status()
        self._shown = icon_name(status)
        self._icon = pystray.Icon(
            "emusify", draw_icon(self._shown), self._title(status), menu=self._menu(pystray)
        )
        if self._latin1_titles:
            tray_x11.patch_backend(self._icon)
        log.info(
            "Tray icon shown (%s backend%s)",
            type(self._icon).__module__.rsplit("_", 1)[-1],
            "" if self._icon.HAS_MENU else "; no menu there, a click opens the control window",
        )
        self.daemon.add_listener(self._updates.put)
        self._updates.put(self.daemon.status())  # a check may have ended before the listener
        updater = threading.Thread(target=self._apply_updates, name="tray-update", daemon=True)
        watcher = threading.Thread(target=self._stop_with_daemon, name="tray-watch", daemon=True)
        updater.start()
        watcher.start()
        self._icon.run(setup=self._setup)
        self._updates.put(None)
        updater.join(timeout=2)
        self._window.close()
        # The icon keeps its X connection in a reference cycle: close it now, while the
        # display is surely there, rather than in some later garbage collection.
        self._icon = None
        gc.collect()

    def _title(self, status: DaemonStatus) -> str:
        return _latin1(tooltip(status)) if self._latin1_titles else tooltip(status)

    def _setup(self, icon: Any) -> None:
        try:
            icon.visible = True
        finally:
            self._ready.set()

    def _stop_with_daemon(self) -> None:
        self.daemon.wait()
        self._updates.put(None)

    def _apply_updates(self) -> None:
        """The only thread that calls into the icon after start.

        pystray's X backend hands each call to its loop and waits on one shared reply queue,
        so two callers at once can take each other's replies and one of them waits forever.
        Between updates this thread also keeps the icon docked on X (tray_x11.Docking).
        """
        self._ready.wait()
        dock = tray_x11.Docking.attach(self._icon) if self._latin1_titles else None
        try:
            while True:
                try:
                    status = self._updates.get(timeout=dock.next_check() if dock else None)
                except queue.Empty:
                    dock.ensure()  # type: ignore[union-attr]
                    continue
                while status is not None and not self._updates.empty():
                    status = self._updates.get()  # only the latest matters
                if status is None:
                    self._icon.stop()
                    return
                self._show(status)
        finally:
            if dock is not None:
                dock.close()

    def _show(self, status: DaemonStatus) -> None:
        try:
            name = icon_name(status)
            if name != self._shown:
                self._icon.icon = draw_icon(name)
                self._shown = name
                log.debug("tray icon: %s", name)
            self._icon.title = self._title(status)
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
            item(status_text(lambda s: "Mood: " + mood_text(s)), None, enabled=False),
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
            item("I feel ...", self._mood_menu(pystray)),
            item(
                "Learn from my corrections",
                do(a.toggle_learn),
                checked=lambda _item: self.daemon.status().learn_from_corrections,
            ),
            item("Open report", do(lambda: a.open_report(self._window.tell))),
            menu.SEPARATOR,
            item("Open songs folder", do(lambda: self._window.tell(a.open_songs()))),
            item(
                "Open config file",
                do(lambda: self._window.tell(a.open_config())),
                enabled=a.config_path is not None,
            ),
            menu.SEPARATOR,
            item("Quit", do(lambda: a.send("quit"))),
        )

    def _mood_menu(self, pystray: Any) -> Any:
        item, menu = pystray.MenuItem, pystray.Menu

        def chosen(mood: str) -> Callable[[Any], bool]:
            def check(_item: Any) -> bool:
                s = self.daemon.status()
                return s.mood_source == "manual" and s.mood_until is not None and s.mood == mood

            return check

        def pick(mood: str) -> Callable[[Any, Any], None]:
            return lambda _icon, _item: self.actions.set_mood(mood)

        return menu(
            *(item(m, pick(m), checked=chosen(m), radio=True) for m in self.actions.moods),
            menu.SEPARATOR,
            item("Let the checks decide", pick("auto")),
        )


class ControlWindow:
    """A small Tk window with the status and the actions, in its own thread."""

    REFRESH_MS = 500
    #: How long the answer to a button stays shown.
    MESSAGE_SECONDS = 8.0
    #: Text wraps at this many pixels, between words.
    WRAP_PIXELS = 380

    def __init__(self, daemon: Daemon, actions: Actions):
        self.daemon = daemon
        self.actions = actions
        self._thread: threading.Thread | None = None
        self._raise = threading.Event()
        self._close = threading.Event()
        #: The last answer to show, and until when (set from command threads).
        self._message: tuple[str, float] = ("", 0.0)
        #: What the window shows, as plain text per widget (Tk objects stay in its thread).
        self.shown: dict[str, dict[str, str]] = {}

    def tell(self, message: str | None) -> None:
        """Show ``message`` in the window (opening it); None says nothing."""
        if message:
            self._message = (message, time.monotonic() + self.MESSAGE_SECONDS)
            self.open()

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
        try:
            self._build_and_run(tk, root)
        finally:
            # Tcl objects must die in the thread that made them, not in a later gc elsewhere.
            with contextlib.suppress(tk.TclError):
                root.destroy()
            del root
            gc.collect()
        log.debug("control window closed")

    def _build_and_run(self, tk: Any, root: Any) -> None:
        from PIL import ImageTk

        root.title(APP_TITLE)
        root.resizable(False, False)
        values: dict[str, Any] = {}
        for row, key in enumerate(("Mood", "Track", "Next check", "Camera", "Audio")):
            tk.Label(root, text=key + ":", anchor="ne").grid(row=row, column=0, sticky="ne", padx=6)
            values[key] = tk.Label(
                root, anchor="w", justify="left", width=44, wraplength=self.WRAP_PIXELS
            )
            values[key].grid(row=row, column=1, sticky="w", padx=6)
        face = tk.Label(root)
        face.grid(row=0, column=2, rowspan=5, padx=10)
        photos: dict[str, Any] = {}  # Tk images, made and dropped in this thread only
        buttons = tk.Frame(root)
        buttons.grid(row=6, column=0, columnspan=3, pady=6)
        message = tk.Label(root, anchor="w", justify="left", wraplength=self.WRAP_PIXELS + 150)
        message.grid(row=5, column=0, columnspan=3, sticky="w", padx=6)
        a = self.actions
        tell = self.tell
        spec: list[tuple[str, Callable[[], None]]] = [
            ("Check mood now", lambda: a.send("check")),
            ("Pause mood checks", a.toggle_checks),
            ("Pause music", a.toggle_music),
            ("Skip", lambda: a.send("skip", tell)),
            ("Like", lambda: a.send("like", tell)),
            ("Dislike", lambda: a.send("dislike", tell)),
            ("Learn: off", a.toggle_learn),
            ("Open report", lambda: a.open_report(tell)),
            ("Songs folder", lambda: tell(a.open_songs())),
            ("Config file", lambda: tell(a.open_config())),
            ("I feel ...", lambda: None),  # a drop-down, made below
            ("Quit", lambda: a.send("quit")),  # last: bottom right
        ]
        widgets: dict[str, Any] = {
            "message": message,
            **{f"value:{k}": v for k, v in values.items()},
        }
        # "I feel ...": a mood set by hand, or back to the checks ("auto").
        feel = tk.StringVar(root, value="I feel ...")
        for i, (text, command) in enumerate(spec):
            if text == "I feel ...":
                choices = [*a.moods, "auto"]
                widget = tk.OptionMenu(
                    buttons, feel, *choices, command=lambda m: a.set_mood(str(m))
                )
                widget.configure(width=13)
            else:
                widget = tk.Button(buttons, text=text, command=command, width=16)
            widgets[text] = widget
            widget.grid(row=i // 3, column=i % 3, padx=2, pady=2)
        if a.config_path is None:
            widgets["Config file"].configure(state="disabled")
        #: Buttons that need music: off while there is no audio output.
        music_buttons = ("Pause music", "Skip", "Like", "Dislike")

        def refresh() -> None:
            if self._close.is_set() or self.daemon.wait(0):
                root.quit()
                return
            if self._raise.is_set():
                self._raise.clear()
                root.deiconify()
                root.lift()
            s = self.daemon.status()
            name = icon_name(s)
            if name not in photos:
                photos[name] = ImageTk.PhotoImage(draw_icon(name, 64), master=root)
            face.configure(image=photos[name])
            camera = f"{s.camera_source} ({s.camera})"
            if s.camera_error:
                camera = f"{s.camera}: {s.camera_error}"
            elif s.recognition_error:
                camera += f"; recognition failed: {s.recognition_error}"
            audio = s.music.get("audio_error") or s.music.get("note") or s.music.get("state")
            for key, text in (
                ("Mood", mood_text(s)),
                ("Track", track_line(s)),
                ("Next check", _next_check_text(s)),
                ("Camera", camera),
                ("Audio", audio or "?"),
            ):
                values[key].configure(text=text)
            widgets["Pause mood checks"].configure(
                text="Resume mood checks" if s.checks_paused else "Pause mood checks"
            )
            widgets["Pause music"].configure(
                text="Resume music" if s.music_paused else "Pause music"
            )
            widgets["Learn: off"].configure(
                text="Learn: on" if s.learn_from_corrections else "Learn: off"
            )
            feel.set(f"I feel {s.mood}" if s.mood_source == "manual" else "I feel ...")
            no_audio = s.music.get("state") == "no_audio"
            for key in music_buttons:
                widgets[key].configure(state="disabled" if no_audio else "normal")
            said, until = self._message
            message.configure(text=said if time.monotonic() < until else "")
            self.shown = {
                name: {key: str(w.cget(key)) for key in ("text", "state", "wraplength")}
                for name, w in widgets.items()
            }
            root.after(self.REFRESH_MS, refresh)

        refresh()
        log.debug("control window opened")
        root.mainloop()


def _next_check_text(status: DaemonStatus) -> str:
    if status.checks_paused:
        return "paused"
    if status.checking:
        return "now"
    if status.next_check is None:
        return "–"
    from datetime import datetime

    return datetime.fromtimestamp(status.next_check).strftime("%H:%M:%S")
