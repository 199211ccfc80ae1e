"""The long-running core: mood checks on a schedule, commands from any front end, no UI.

Three threads share the work so that control never waits for the camera:

* ``scheduler`` owns the state. It takes commands and finished windows from one queue,
  starts a check when one is due, hands decided moods to the jukebox and ticks it. It sleeps
  until the next thing is due (a check, the end of a track): no fixed-rate tick.
* ``mood-check`` runs one window at a time in a worker process (``sensing/check.py``):
  camera, MediaPipe and the model live and die there, and only numbers come back. This
  process never imports a vision library, so it stays small between checks.
* front ends (control socket, tray) call :meth:`Daemon.command` from their own threads and
  get the new status back.

A mood the listener sets by hand (the ``mood`` command) is followed at once and holds for a
while (``listener.Listener``); checks during that time are recorded but do not change it.

"No face" and "uncertain" windows leave the music as it is. A missing or busy camera, and a
worker that crashed or hung, are reported in the status and tried again at the next check;
they never stop the daemon.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from emusify import __version__
from emusify.config import Config, ListenerConfig
from emusify.errors import CameraError, EmusifyError
from emusify.listener import CheckSeen, Listener
from emusify.sensing.check import CheckRequest, CheckResult, RecognitionFailed, WorkerChecker

if TYPE_CHECKING:  # the daemon is given these; importing them here would load pygame
    from emusify.config_watch import ConfigWatcher
    from emusify.history import History
    from emusify.music.jukebox import Jukebox
    from emusify.sensing.mood import MoodResult

log = logging.getLogger(__name__)

#: The longest the scheduler sleeps: only a guard against a clock that jumps.
MAX_SLEEP_SECONDS = 3600.0
#: With a configuration file to watch, the scheduler looks at it at least this often (one
#: ``stat``), and writes that wait in memory are retried; otherwise it sleeps as long as it can.
SLOW_CHECK_SECONDS = 15.0
#: Configuration keys a reload applies at once; the others need a restart.
LIVE_KEYS = ("camera.", "schedule.", "decision.", "model", "music.volume", "listener.")
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
    "mood",
    "learn",
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


def worker_checker(
    cfg: Config, schedule: Schedule, *, opener: str | None = None, env: dict[str, str] | None = None
) -> WorkerChecker:
    """The checker ``emusify run`` uses: one worker process per window, as configured.

    ``opener`` (``"module:function"``) replaces the webcam in the worker: tests only."""
    return WorkerChecker(check_request(cfg, schedule, opener=opener), env=env)


def check_request(cfg: Config, schedule: Schedule, *, opener: str | None = None) -> CheckRequest:
    """What a worker is asked to do, from the configuration (at start and on reload)."""
    return CheckRequest(
        source=cfg.camera_source,
        width=cfg.camera.width,
        height=cfg.camera.height,
        fps=schedule.fps,
        seconds=schedule.window,
        model=str(cfg.model),
        min_face_frames=cfg.decision.min_face_frames,
        min_share=cfg.decision.min_share,
        opener=opener,
    )


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaemonStatus:
    """A snapshot for front ends; ``to_dict`` is what ``emusify ctl status --json`` prints."""

    #: The mood the music follows now (the last decided window, or the one set by hand), with
    #: that window's figures (None for a mood set by hand).
    mood: str | None
    confidence: float | None
    share: float | None
    #: The last window's outcome: "mood", "no_face", "uncertain", "no_camera",
    #: "recognition_failed" or None.
    last_outcome: str | None
    last_check: float | None  #: Unix time the last window ended
    next_check: float | None  #: Unix time of the next scheduled check; None while paused
    checking: bool
    checks_paused: bool
    music_paused: bool
    #: "closed", "starting" (the worker is loading), "open" or "unavailable"
    camera: str
    camera_error: str | None
    #: Why the last check's recognition failed (worker crashed, hung or was killed), or None.
    recognition_error: str | None
    camera_source: str
    music: dict[str, Any]  #: the jukebox's status as a mapping
    pid: int
    version: str = __version__
    #: What is wrong with the edited configuration file (the last good one is in force).
    config_error: str | None = None
    #: Why the history cannot be written now (writes wait in memory), or that a damaged one
    #: was set aside at this start.
    history_error: str | None = None
    #: A warning about the model, e.g. moods it names that have no music folder.
    model_note: str | None = None
    #: Where ``mood`` came from: "check", "manual" (set by hand) or None.
    mood_source: str | None = None
    #: Unix time a mood set by hand stops holding; None once the checks decide again.
    mood_until: float | None = None
    learn_from_corrections: bool = False

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
        out["mood_until_iso"] = _iso(self.mood_until)
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
    arg: str | None
    reply: queue.Queue[tuple[bool, Any]]


@dataclass
class _WindowDone:
    result: CheckResult | None
    error: str | None
    #: "camera" (missing, busy, failing) or "recognition" (the worker crashed or hung).
    error_kind: str | None
    aborted: bool


class _CameraOpened:
    """The worker has the camera open."""


_STOP = object()


class Daemon:
    """Schedule, state and commands. ``start()``, then ``command(...)`` from any thread."""

    def __init__(
        self,
        checker: WorkerChecker,
        jukebox: Jukebox,
        history: History,
        schedule: Schedule,
        *,
        fade_seconds: float = SHUTDOWN_FADE_SECONDS,  # the music's fade; capped on quit
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        watcher: ConfigWatcher | None = None,
        model_note: str | None = None,
        listener: Listener | None = None,
    ):
        self.checker = checker
        self.watcher = watcher
        self.model_note = model_note
        #: The listener's say: a mood set by hand, corrections, learning from them.
        self.listener = listener or Listener(ListenerConfig(), history, wall_clock=wall_clock)
        self.fade_seconds = fade_seconds
        self.jukebox = jukebox
        self.history = history
        self.schedule = schedule
        self._clock = clock
        self._wall = wall_clock
        # SimpleQueue: its put() is safe from a signal handler (request_stop).
        self._events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._check_requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._window_stop = threading.Event()
        self._stop_requested = False  # a plain flag: safe to set from a signal handler
        self._stopped = threading.Event()
        self._listeners: list[Callable[[DaemonStatus], None]] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: Set when the scheduler stopped on an unexpected error rather than on request.
        self.failed = False

        self._mood: MoodResult | None = None
        #: "check" or "manual": who decided the mood the music follows.
        self._mood_source: str | None = None
        #: The last finished check's numbers (per-frame probabilities and features).
        self.last_result: CheckResult | None = None
        self._last_outcome: str | None = None
        self._last_check: float | None = None
        self._next_check: float | None = None
        self._checking = False
        self._checks_paused = False
        self._music_paused = False
        self._camera_error: str | None = None
        self._recognition_error: str | None = None
        self._camera_open = False
        self._next_slow_check = clock() + SLOW_CHECK_SECONDS
        #: When the jukebox asked to be ticked (its clock), as of the scheduler's last sleep.
        self._jukebox_wake: float | None = None
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

    def command(self, name: str, arg: str | None = None, timeout: float = 10.0) -> DaemonStatus:
        """Carry out one of COMMANDS in the scheduler thread and return the new status."""
        if name not in COMMANDS:
            raise CommandError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
        if name == "status":
            return self.status()
        if self._stopped.is_set() or self._stop_requested:
            raise CommandError("Emusify is shutting down")
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._events.put(_Command(name, arg, reply))
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
        """Ask the daemon to shut down; safe from a signal handler (a flag and a wake-up)."""
        self._stop_requested = True
        self._events.put(_STOP)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the daemon has shut down completely."""
        return self._stopped.wait(timeout)

    # --- scheduler thread -----------------------------------------------------------------

    def _scheduler(self) -> None:
        try:
            self._publish()  # the schedule as it starts
            while not self._stop_requested:
                try:
                    item = self._events.get(timeout=self._sleep_time())
                except queue.Empty:
                    item = None
                if isinstance(item, _Command):
                    self._run_command(item)
                elif isinstance(item, _WindowDone):
                    self._window_done(item)
                elif isinstance(item, _CameraOpened):
                    self._camera_open = self._checking
                if self._stop_requested:
                    break
                self._slow_checks()
                self._manual_ran_out()
                self._maybe_start_check()
                if self._jukebox_due():
                    self._safe(self.jukebox.tick)
                self._publish()
        except Exception:
            log.exception("The scheduler failed; shutting down")
            self.failed = True
        finally:
            self._shutdown()

    def _sleep_time(self) -> float:
        """Until the next check or the jukebox's next piece of work, whichever comes first."""
        now = self._clock()
        due = [now + MAX_SLEEP_SECONDS]
        if self._next_check is not None and not self._checking and not self._checks_paused:
            due.append(self._next_check)
        jukebox_due = self._jukebox_wake = self._safe(self.jukebox.next_due)
        if jukebox_due is not None:
            due.append(jukebox_due)
        if self.watcher is not None or self.history.pending:
            due.append(self._next_slow_check)
        left = self.listener.seconds_left()
        if left is not None:
            due.append(now + left)  # the hand-set mood runs out: the checks decide again
        return max(0.0, min(due) - now)

    def _slow_checks(self) -> None:
        """On every wake (and at least every SLOW_CHECK_SECONDS): the config file, the history."""
        now = self._clock()
        if self.watcher is not None:
            new = self._safe(self.watcher.check)
            if new is not None:
                self._apply_config(new)
        if now >= self._next_slow_check:
            self._next_slow_check = now + SLOW_CHECK_SECONDS
            if self.history.pending:
                self._safe(self.history.flush)

    def _apply_config(self, cfg: Config) -> None:
        """A reloaded configuration: schedule, camera, decision, model and volume at once."""
        assert self.watcher is not None
        schedule = Schedule.from_config(cfg)
        self.checker.request = check_request(cfg, schedule, opener=self.checker.request.opener)
        if schedule.interval != self.schedule.interval and self._next_check is not None:
            # The next check moves to the new interval after the last one began.
            began = self._next_check - self.schedule.interval
            self._next_check = max(self._clock(), began + schedule.interval)
        self.schedule = schedule
        self.fade_seconds = cfg.music.fade_seconds
        self._safe(self.jukebox.set_volume, cfg.music.volume)
        self.listener.cfg = cfg.listener  # how long a hand-set mood holds, corrections
        self.listener.learn = cfg.listener.learn_from_corrections
        later = [
            key
            for key in self.watcher.last_changes
            if not any(key == k or (k.endswith(".") and key.startswith(k)) for k in LIVE_KEYS)
        ]
        if later:
            log.warning("Restart Emusify to apply: %s", ", ".join(later))

    def _jukebox_due(self) -> bool:
        """The wake-up the jukebox asked for has come (asking it again now would move it:
        a track that has just ended reports its whole length left)."""
        due = self._jukebox_wake
        return due is not None and due <= self._clock()

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
        self._checking = self._camera_open = False
        self._last_check = self._wall()
        if done.aborted:
            log.info("The mood check was cut short; the music stays as it is")
            return
        if done.error is not None and done.error_kind == "camera":
            if self._camera_error != done.error:
                log.warning("%s; trying again at the next check", done.error)
            self._camera_error = done.error
            self._last_outcome = "no_camera"
            self._safe(self.history.record_window, "no_camera", None, None, None, 0, 0)
            return
        if done.error is not None:
            if self._recognition_error != done.error:
                log.error("Recognition failed: %s; trying again at the next check", done.error)
            self._recognition_error = done.error
            self._last_outcome = "recognition_failed"
            self._safe(self.history.record_window, "recognition_failed", None, None, None, 0, 0)
            return
        assert done.result is not None
        self.last_result = done.result
        result = done.result.mood
        if self._camera_error is not None:
            log.info("The camera works again")
        if self._recognition_error is not None:
            log.info("Recognition works again")
        self._camera_error = self._recognition_error = None
        self._last_outcome = result.outcome
        window_id = self._safe(
            self.history.record_window,
            result.outcome,
            result.emotion,
            result.share,
            result.confidence,
            result.face_frames,
            result.total_frames,
        )
        if result.outcome == "mood" and result.emotion:
            seen = CheckSeen(
                window_id,
                result.emotion,
                self._last_check,
                done.result.features,
                done.result.feature_version,
            )
            self.listener.saw_check(seen)
        if result.outcome == "mood" and result.emotion and self.listener.holding():
            log.info(
                "Mood read: %s; the mood set by hand (%s) holds for %.0f more minutes",
                result.emotion,
                self.listener.mood,
                (self.listener.seconds_left() or 0) / 60,
            )
            # The same rules as a detected mood: a long spell still lifts (uplift).
            self._safe(self.jukebox.set_mood, self.listener.mood, 1.0)
        elif result.outcome == "mood" and result.emotion:
            log.info(
                "Mood: %s (share %.2f, confidence %.2f, %d/%d frames with a face)",
                result.emotion,
                result.share or 0.0,
                result.confidence or 0.0,
                result.face_frames,
                result.total_frames,
            )
            self._mood = result
            self._mood_source = "check"
            self._safe(self.jukebox.set_mood, result.emotion, float(result.confidence or 0.0))
            log.debug(
                "music follows %.0f ms after the camera closed",
                (time.monotonic() - done.result.finished_at) * 1000,
            )
        else:
            log.info(
                "No decision (%s: %d/%d frames with a face); the music stays as it is",
                result.outcome,
                result.face_frames,
                result.total_frames,
            )

    def _run_command(self, cmd: _Command) -> None:
        log.info("Command: %s%s", cmd.name, f" {cmd.arg}" if cmd.arg is not None else "")
        try:
            handler = getattr(self, "_cmd_" + cmd.name.replace("-", "_"))
            if cmd.arg is None:
                handler()
            else:
                handler(cmd.arg)
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

    def _cmd_mood(self, arg: str | None = None) -> None:
        """``mood EMOTION``: set the mood by hand (the music follows at once); ``mood auto``:
        the checks decide again, starting with one now."""
        if not arg:
            raise CommandError("mood needs the emotion you feel (e.g. mood sad) or auto")
        if arg == "auto":
            self.listener.auto()
            self._checks_decide_again()
            return
        self.listener.set_mood(arg)  # raises for a mood it does not know
        self._mood_source = "manual"
        self._safe(lambda: self.jukebox.set_mood(arg, 1.0, at_once=True))

    def _cmd_learn(self, arg: str | None = None) -> None:
        if arg not in ("on", "off"):
            raise CommandError("learn needs on or off")
        self.listener.set_learn(arg == "on")

    def _manual_ran_out(self) -> None:
        expired = self.listener.until is not None and not self.listener.holding()
        if expired and self._mood_source == "manual":
            self._checks_decide_again()

    def _checks_decide_again(self) -> None:
        """Look now (unless checks are paused): the next decided check sets the mood."""
        if not self._checks_paused and not self._checking:
            self._next_check = self._clock()

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
        if self._camera_open:
            camera = "open"
        elif self._checking:
            camera = "starting"
        elif self._camera_error:
            camera = "unavailable"
        else:
            camera = "closed"
        next_check = None
        if self._next_check is not None and not self._checks_paused:
            next_check = self._wall() + max(0.0, self._next_check - self._clock())
        manual = self._mood_source == "manual"
        if manual:
            mood = None
        return DaemonStatus(
            mood=self.listener.mood if manual else mood.emotion if mood else None,
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
            recognition_error=self._recognition_error,
            camera_source=str(self.checker.source),
            music=_as_dict(self._safe(self.jukebox.status)),
            pid=os.getpid(),
            config_error=self.watcher.error if self.watcher is not None else None,
            history_error=self._history_note(),
            model_note=self.model_note,
            mood_source=self._mood_source,
            mood_until=self.listener.until if manual else None,
            learn_from_corrections=self.listener.learn,
        )

    def _history_note(self) -> str | None:
        problem = self._safe(lambda: self.history.problem)
        if problem:
            return f"{self.history.path}: {problem}"
        aside = getattr(self.history, "set_aside", None)
        if aside is not None:
            return f"the history was damaged; it was set aside as {aside} and a new one started"
        return None

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
        # The music fades out while the worker process releases the camera.
        self._safe(self.jukebox.close, min(self.fade_seconds, SHUTDOWN_FADE_SECONDS))
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        self._safe(self.history.close)
        self._checking = self._camera_open = False
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
            result, error, kind = None, None, None
            try:
                result = self.checker.check(
                    self._window_stop, on_camera_open=lambda: self._events.put(_CameraOpened())
                )
            except CameraError as exc:
                error, kind = str(exc), "camera"
            except RecognitionFailed as exc:
                error, kind = str(exc), "recognition"
            except Exception as exc:
                log.exception("The mood check failed")
                error, kind = f"the mood check failed: {exc}", "recognition"
            log.debug(
                "window took %.1f s (worker gone, camera released)", time.monotonic() - started
            )
            self._events.put(_WindowDone(result, error, kind, self._window_stop.is_set()))
