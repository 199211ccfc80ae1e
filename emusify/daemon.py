"""The long-running core: mood checks on a schedule, commands from any front end, no UI.

Three threads share the work so that control never waits for the camera:

* ``scheduler`` owns the state. It takes commands and finished windows from one queue,
  starts a check when one is due, hands decided moods to the jukebox and ticks it.
* ``mood-check`` runs one window at a time: camera open, frames through the recognizer
  (model and MediaPipe graph loaded once, before the daemon starts), camera released.
* front ends (control socket, tray) call :meth:`Daemon.command` from their own threads and
  get the new status back.

"No face" and "uncertain" windows leave the music as it is. A missing or busy camera is
reported in the status and tried again at the next check; it never stops the daemon.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from emusify import __version__
from emusify.config import Config
from emusify.errors import CameraError, EmusifyError
from emusify.sensing.camera import Frame, describe_source, open_camera

if TYPE_CHECKING:  # the daemon is given these; importing them here would load pygame/MediaPipe
    from emusify.history import History
    from emusify.music.jukebox import Jukebox
    from emusify.sensing.mood import MoodResult
    from emusify.sensing.recognizer import Recognizer

log = logging.getLogger(__name__)

#: How often the scheduler wakes when nothing happens: the jukebox's tick rate.
TICK_SECONDS = 0.25
#: The longest fade-out on quit: SIGTERM must end the process within 3 s.
SHUTDOWN_FADE_SECONDS = 1.0
#: Commands the daemon accepts (the control socket and the tray send these).
COMMANDS = (
    "status",
    "check",
    "pause",
    "resume",
    "pause-checks",
    "resume-checks",
    "pause-music",
    "resume-music",
    "skip",
    "like",
    "dislike",
    "quit",
)


class CommandError(EmusifyError):
    """A command the daemon does not know, or cannot carry out now."""


@dataclass(frozen=True)
class Schedule:
    interval: float  #: seconds from the start of one check to the start of the next
    window: float  #: seconds the camera is open
    fps: float
    check_at_start: bool

    @classmethod
    def from_config(cls, cfg: Config) -> Schedule:
        s = cfg.schedule
        return cls(s.interval_minutes * 60, s.window_seconds, s.sample_fps, s.check_at_start)


class MoodChecker:
    """Opens the camera for one window and reads the mood from it."""

    def __init__(
        self,
        observer: Recognizer,
        cfg: Config,
        schedule: Schedule,
        *,
        opener: Callable[..., Any] | None = None,
    ):
        self.observer = observer
        self.source = cfg.camera_source
        self.width = cfg.camera.width
        self.height = cfg.camera.height
        self.decision = cfg.decision
        self.schedule = schedule
        self._opener = opener

    def describe(self) -> str:
        return describe_source(self.source)

    def check(self, stop: threading.Event) -> MoodResult:
        """One window; raises CameraError for a missing, busy or failing camera.

        ``stop`` ends the window early (pause, quit); the camera is released on every path.
        """
        kw = {"opener": self._opener} if self._opener else {}
        with open_camera(self.source, self.width, self.height, **kw) as cam:
            frames = _until(stop, cam.sample(self.schedule.fps, self.schedule.window))
            return self.observer.observe(
                frames, self.decision.min_face_frames, self.decision.min_share
            )


def _until(stop: threading.Event, frames: Iterator[Frame]) -> Iterator[Frame]:
    for frame in frames:
        if stop.is_set():
            return
        yield frame


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaemonStatus:
    """A snapshot for front ends; ``to_dict`` is what ``emusify ctl status --json`` prints."""

    #: The mood the music follows now (the last decided window), with that window's figures.
    mood: str | None
    confidence: float | None
    share: float | None
    #: The last window's outcome: "mood", "no_face", "uncertain", "no_camera" or None.
    last_outcome: str | None
    last_check: float | None  #: Unix time the last window ended
    next_check: float | None  #: Unix time of the next scheduled check; None while paused
    checking: bool
    checks_paused: bool
    music_paused: bool
    camera: str  #: "closed", "open" or "unavailable"
    camera_error: str | None
    camera_source: str
    music: dict[str, Any]  #: the jukebox's status as a mapping
    pid: int
    version: str = __version__

    @property
    def track(self) -> str | None:
        title, artist = self.music.get("title"), self.music.get("artist")
        if not title:
            return None
        return f"{artist} – {title}" if artist else str(title)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["track"] = self.track
        out["last_check_iso"] = _iso(self.last_check)
        out["next_check_iso"] = _iso(self.next_check)
        return out


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def _as_dict(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(obj or {})


# --- the daemon ---------------------------------------------------------------------------


@dataclass
class _Command:
    name: str
    reply: queue.Queue[tuple[bool, Any]]


@dataclass
class _WindowDone:
    result: MoodResult | None
    error: str | None
    aborted: bool


_STOP = object()


class Daemon:
    """Schedule, state and commands. ``start()``, then ``command(...)`` from any thread."""

    def __init__(
        self,
        checker: MoodChecker,
        jukebox: Jukebox,
        history: History,
        schedule: Schedule,
        *,
        fade_seconds: float = SHUTDOWN_FADE_SECONDS,  # the music's fade; capped on quit
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.checker = checker
        self.fade_seconds = fade_seconds
        self.jukebox = jukebox
        self.history = history
        self.schedule = schedule
        self._clock = clock
        self._wall = wall_clock
        self._events: queue.Queue[Any] = queue.Queue()
        self._check_requests: queue.Queue[Any] = queue.Queue()
        self._window_stop = threading.Event()
        self._stop_requested = False  # a plain flag: safe to set from a signal handler
        self._stopped = threading.Event()
        self._listeners: list[Callable[[DaemonStatus], None]] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: Set when the scheduler stopped on an unexpected error rather than on request.
        self.failed = False

        self._mood: MoodResult | None = None
        self._last_outcome: str | None = None
        self._last_check: float | None = None
        self._next_check: float | None = None
        self._checking = False
        self._checks_paused = False
        self._music_paused = False
        self._camera_error: str | None = None
        self._status = self._snapshot()

    # --- public, thread-safe --------------------------------------------------------------

    def start(self) -> Daemon:
        now = self._clock()
        self._next_check = now if self.schedule.check_at_start else now + self.schedule.interval
        log.info(
            "Emusify %s started: a %.0f s window every %.0f s from %s",
            __version__,
            self.schedule.window,
            self.schedule.interval,
            self.checker.describe(),
        )
        for target, name in ((self._scheduler, "scheduler"), (self._worker, "mood-check")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def add_listener(self, callback: Callable[[DaemonStatus], None]) -> None:
        """Call ``callback(status)`` from the scheduler thread whenever the status changes."""
        self._listeners.append(callback)

    def status(self) -> DaemonStatus:
        with self._lock:
            return self._status

    def command(self, name: str, timeout: float = 10.0) -> DaemonStatus:
        """Carry out one of COMMANDS in the scheduler thread and return the new status."""
        if name not in COMMANDS:
            raise CommandError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
        if name == "status":
            return self.status()
        if self._stopped.is_set() or self._stop_requested:
            raise CommandError("Emusify is shutting down")
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._events.put(_Command(name, reply))
        deadline = time.monotonic() + timeout
        while True:
            try:
                ok, value = reply.get(timeout=0.25)
                break
            except queue.Empty:
                if self._stopped.is_set():
                    raise CommandError("Emusify is shutting down") from None
                if time.monotonic() > deadline:
                    raise CommandError(f"no answer to {name!r} within {timeout:.0f} s") from None
        if not ok:
            raise CommandError(value)
        return value

    def request_stop(self) -> None:
        """Ask the daemon to shut down; safe from a signal handler (sets a flag only)."""
        self._stop_requested = True

    def wait(self, timeout: float | None = None) -> bool:
        """True once the daemon has shut down completely."""
        return self._stopped.wait(timeout)

    # --- scheduler thread -----------------------------------------------------------------

    def _scheduler(self) -> None:
        try:
            while not self._stop_requested:
                try:
                    item = self._events.get(timeout=self._sleep_time())
                except queue.Empty:
                    item = None
                if isinstance(item, _Command):
                    self._run_command(item)
                elif isinstance(item, _WindowDone):
                    self._window_done(item)
                if self._stop_requested:
                    break
                self._maybe_start_check()
                self._safe(self.jukebox.tick)
                self._publish()
        except Exception:
            log.exception("The scheduler failed; shutting down")
            self.failed = True
        finally:
            self._shutdown()

    def _sleep_time(self) -> float:
        if self._next_check is None or self._checking or self._checks_paused:
            return TICK_SECONDS
        return max(0.0, min(TICK_SECONDS, self._next_check - self._clock()))

    def _maybe_start_check(self, forced: bool = False) -> bool:
        if self._checking:
            return False
        now = self._clock()
        due = self._next_check is not None and now >= self._next_check
        if not forced and (self._checks_paused or not due):
            return False
        self._checking = True
        self._window_stop.clear()
        self._next_check = now + self.schedule.interval
        log.info("Checking the mood: %.0f s from %s", self.schedule.window, self.checker.describe())
        self._check_requests.put(True)
        self._publish()
        return True

    def _window_done(self, done: _WindowDone) -> None:
        self._checking = False
        self._last_check = self._wall()
        if done.aborted:
            log.info("The mood check was cut short; the music stays as it is")
            return
        if done.error is not None:
            if self._camera_error != done.error:
                log.warning("%s; trying again at the next check", done.error)
            self._camera_error = done.error
            self._last_outcome = "no_camera"
            self._safe(self.history.record_window, "no_camera", None, None, None, 0, 0)
            return
        result = done.result
        assert result is not None
        if self._camera_error is not None:
            log.info("The camera works again")
        self._camera_error = None
        self._last_outcome = result.outcome
        self._safe(
            self.history.record_window,
            result.outcome,
            result.emotion,
            result.share,
            result.confidence,
            result.face_frames,
            result.total_frames,
        )
        if result.outcome == "mood" and result.emotion:
            log.info(
                "Mood: %s (share %.2f, confidence %.2f, %d/%d frames with a face)",
                result.emotion,
                result.share or 0.0,
                result.confidence or 0.0,
                result.face_frames,
                result.total_frames,
            )
            self._mood = result
            self._safe(self.jukebox.set_mood, result.emotion, float(result.confidence or 0.0))
        else:
            log.info(
                "No decision (%s: %d/%d frames with a face); the music stays as it is",
                result.outcome,
                result.face_frames,
                result.total_frames,
            )

    def _run_command(self, cmd: _Command) -> None:
        log.info("Command: %s", cmd.name)
        try:
            handler = getattr(self, "_cmd_" + cmd.name.replace("-", "_"))
            handler()
        except EmusifyError as exc:
            cmd.reply.put((False, str(exc)))
            return
        except Exception as exc:
            log.exception("Command %r failed", cmd.name)
            cmd.reply.put((False, f"{cmd.name} failed: {exc}"))
            return
        cmd.reply.put((True, self._publish()))

    def _cmd_check(self) -> None:
        if self._checking:
            raise CommandError("a mood check is already running")
        self._maybe_start_check(forced=True)

    def _cmd_pause(self) -> None:
        self._cmd_pause_checks()
        self._cmd_pause_music()

    def _cmd_resume(self) -> None:
        self._cmd_resume_music()
        self._cmd_resume_checks()

    def _cmd_pause_checks(self) -> None:
        if self._checks_paused:
            return
        self._checks_paused = True
        if self._checking:
            self._window_stop.set()  # the camera goes off now, not at the end of the window
        log.info("Mood checks paused")

    def _cmd_resume_checks(self) -> None:
        if not self._checks_paused:
            return
        self._checks_paused = False
        self._next_check = self._clock()  # the mood may have changed meanwhile: look now
        log.info("Mood checks resumed")

    def _cmd_pause_music(self) -> None:
        self._music_paused = True
        self.jukebox.pause()

    def _cmd_resume_music(self) -> None:
        self._music_paused = False
        self.jukebox.resume()

    def _cmd_skip(self) -> None:
        self._music_paused = False  # skipping starts the next track, also after a pause
        self.jukebox.skip()

    def _cmd_like(self) -> None:
        self.jukebox.like()

    def _cmd_dislike(self) -> None:
        self.jukebox.dislike()
        self.jukebox.skip()  # nobody wants to hear the rest of a track they dislike

    def _cmd_quit(self) -> None:
        self._stop_requested = True

    def _safe(self, call: Callable[..., Any], *args: Any) -> Any:
        """Music and history problems are logged; they never stop the scheduler."""
        try:
            return call(*args)
        except Exception:
            log.exception("%s failed", getattr(call, "__qualname__", call))
            return None

    def _snapshot(self) -> DaemonStatus:
        mood = self._mood
        if self._checking:
            camera = "open"
        elif self._camera_error:
            camera = "unavailable"
        else:
            camera = "closed"
        next_check = None
        if self._next_check is not None and not self._checks_paused:
            next_check = self._wall() + max(0.0, self._next_check - self._clock())
        return DaemonStatus(
            mood=mood.emotion if mood else None,
            confidence=mood.confidence if mood else None,
            share=mood.share if mood else None,
            last_outcome=self._last_outcome,
            last_check=self._last_check,
            next_check=next_check,
            checking=self._checking,
            checks_paused=self._checks_paused,
            music_paused=self._music_paused,
            camera=camera,
            camera_error=self._camera_error,
            camera_source=str(self.checker.source),
            music=_as_dict(self._safe(self.jukebox.status)),
            pid=os.getpid(),
        )

    def _publish(self) -> DaemonStatus:
        status = self._snapshot()
        with self._lock:
            previous, self._status = self._status, status
        # next_check moves with the clock's rounding; a change there alone is not news.
        if dataclasses.replace(previous, next_check=None) != dataclasses.replace(
            status, next_check=None
        ) or (previous.next_check is None) != (status.next_check is None):
            for listener in list(self._listeners):
                try:
                    listener(status)
                except Exception:
                    log.exception("A status listener failed")
        return status

    def _shutdown(self) -> None:
        """Camera off, music faded out, history closed; then ``wait()`` returns."""
        log.info("Shutting down")
        self._stop_requested = True
        self._window_stop.set()
        self._check_requests.put(_STOP)
        # The music fades out while the worker releases the camera.
        self._safe(self.jukebox.close, min(self.fade_seconds, SHUTDOWN_FADE_SECONDS))
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        self._safe(self.history.close)
        self._checking = False
        self._publish()
        # Commands that arrived during shutdown get an answer instead of a time-out.
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Command):
                item.reply.put((False, "Emusify is shutting down"))
        self._stopped.set()
        log.info("Stopped")

    # --- mood-check thread ----------------------------------------------------------------

    def _worker(self) -> None:
        while self._check_requests.get() is not _STOP:
            started = time.monotonic()
            try:
                result = self.checker.check(self._window_stop)
                done = _WindowDone(result, None, self._window_stop.is_set())
            except CameraError as exc:
                done = _WindowDone(None, str(exc), self._window_stop.is_set())
            except Exception as exc:
                log.exception("The mood check failed")
                done = _WindowDone(None, f"the mood check failed: {exc}", False)
            log.debug("window took %.1f s (camera released)", time.monotonic() - started)
            self._events.put(done)
