"""The music side as one object: mood in, sound out, everything written to the history.

The daemon calls ``set_mood`` after each decided window, and ``tick`` when ``next_due`` says
there is work (a track about to end, a fade done, the idle audio device to release): it sleeps
in between instead of polling. The tray and the control socket call the rest from their own
threads, so every public method takes the same lock. Nothing here raises for a missing audio
device or a broken file: the jukebox keeps going, says why in the log (once) and in
``status()``.

A user's pause or stop holds the music: new moods are still followed (the folder changes),
but nothing starts again until ``resume()`` or ``skip()``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from emusify.config import Config
from emusify.errors import AudioError
from emusify.history import History
from emusify.music.chooser import Chooser, ratings_for
from emusify.music.library import Library, Track
from emusify.music.player import Player, UnplayableTrack
from emusify.music.policy import FolderChoice, MoodPolicy, with_fallback

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How often an empty mood folder is looked at again, and a missing audio device retried.
RESCAN_SECONDS = 5.0
AUDIO_RETRY_SECONDS = 30.0
#: Seconds the audio device stays open with nothing playing: SDL mixes silence at a cost.
AUDIO_IDLE_SECONDS = 10.0
#: The longest sleep while a track plays (tracks of unknown length are checked this often).
MAX_PLAYING_SLEEP = 30.0
UNKNOWN_LENGTH_SLEEP = 1.0
#: While a track should have ended but still sounds, ``tick`` looks again this often.
MIN_POLL_SECONDS = 0.1
#: Broken files tried in one go before giving up until the next tick.
MAX_TRIES = 20
#: A track that ends sooner than this holds no playable audio.
MIN_TRACK_SECONDS = 0.2


@dataclass(frozen=True)
class JukeboxStatus:
    #: "playing", "paused", "stopped" or "no_audio".
    state: str
    title: str | None
    artist: str | None
    path: str | None
    #: The folder the current track came from (after any fallback).
    folder: str | None
    #: The latest mood given to ``set_mood``.
    emotion: str | None
    volume: float
    audio_error: str | None
    #: Why the music is not what the mood asks for (a fallback, or why nothing plays).
    note: str | None = None
    #: "match" (the mood's own folder) or "lift" (the uplift folder after a long spell).
    response: str | None = None


class Jukebox:
    def __init__(
        self,
        config: Config,
        history: History,
        *,
        clock: Callable[[], float] = time.monotonic,
        chooser: Chooser | None = None,
    ):
        self._music = config.music
        self._history = history
        self._clock = clock
        self._lock = threading.RLock()
        self._library = Library(config.songs_root, demo=config.demo_songs_root)
        self._policy = MoodPolicy(config.music, clock=clock)
        self._chooser = chooser or Chooser()
        self._player = Player()
        self._player.set_volume(config.music.volume)
        #: Mood -> path -> rating: a like or dislike counts for the mood it was given in.
        self._ratings: dict[str | None, dict[str, int]] = (
            self._safely(history.ratings_by_mood) or {}
        )
        wanted = {*self._music.folders.values(), self._music.uplift_folder}
        for folder in sorted(wanted | {self._music.default_folder}):
            self._library.tracks(folder)  # scan now, so the first mood starts at once

        self._choice: FolderChoice | None = None
        self._track: Track | None = None
        self._play_id: int | None = None
        #: How the track now fading out will be recorded once it is silent.
        self._ending: str | None = None
        self._held = False
        self._note: str | None = None
        self._audio_error: str | None = None
        self._closed = False
        #: Real time (not the injected clock) when the current track started.
        self._started = 0.0
        #: When (this clock) the device was last busy, and when a fade-out ends.
        self._idle_since: float | None = None
        self._fade_until: float | None = None
        #: When (this clock) ``tick`` last ran.
        self._last_tick = float("-inf")
        now = clock()
        self._next_rescan = now + RESCAN_SECONDS
        self._next_audio_try = now
        self._open_audio()
        self._note_idle(now)

    # --- commands -------------------------------------------------------------------------

    def set_mood(self, emotion: str, confidence: float, *, at_once: bool = False) -> None:
        """Follow a decided window mood: pick the folder, start or switch as configured.

        ``at_once`` (a mood the listener set by hand) switches folders now, fading out the
        current track, whatever ``on_mood_change`` says.
        """
        with self._lock:
            previous = self._choice
            choice = self._policy.decide(emotion)
            self._choice = choice
            if previous is None or previous.folder != choice.folder:
                log.info(
                    "Mood %s (confidence %.2f): folder %r (%s, held %.0f s)",
                    emotion,
                    confidence,
                    choice.folder,
                    choice.reason,
                    choice.held_seconds,
                )
            if not self._player.is_open or self._held:
                return
            if self._player.state == "stopped" and self._ending is None:
                self._start_next()
            else:
                self._switch_if_due(at_once)

    def tick(self) -> None:
        """Start the next track when one ends, carry out pending switches, look again at an
        empty folder, release the audio device when idle."""
        with self._lock:
            if self._closed:
                return
            now = self._last_tick = self._clock()
            if not self._player.is_open:
                if now < self._next_audio_try:
                    return
                self._open_audio()
                if self._player.is_open and not self._held:
                    self._start_next()  # play the latest mood now that there is a speaker
                self._note_idle(now)
                return
            if self._player.poll():
                ending = self._ending or "finished"
                if ending == "finished" and self._track is not None:
                    self._check_not_empty(self._track)
                self._finish(ending)
                if not self._held:
                    self._start_next()
            elif self._player.state == "playing":
                self._switch_if_due()
            elif self._waiting_for_files() and now >= self._next_rescan:
                self._next_rescan = now + RESCAN_SECONDS
                if self._library.refresh():
                    self._start_next()  # new files may have filled an empty folder
            self._note_idle(now)

    def next_due(self) -> float | None:
        """When (the jukebox's clock) ``tick`` has work next; None: only a command or a mood
        can change anything."""
        with self._lock:
            if self._closed:
                return None
            now = self._clock()
            if not self._player.is_open:
                return self._next_audio_try
            due: list[float] = []
            if self._player.state == "playing":
                # Due when the track (or its fade) should be over, which may be now or past;
                # but not sooner than MIN_POLL after the last tick, which found it still busy.
                due.append(max(now + self._time_left(now), self._last_tick + MIN_POLL_SECONDS))
            elif self._player.device_open:
                due.append((self._idle_since or now) + AUDIO_IDLE_SECONDS)
            if self._waiting_for_files():
                due.append(self._next_rescan)
            return min(due) if due else None

    def skip(self) -> None:
        """Next track now (also after a pause or stop)."""
        with self._lock:
            self._held = False
            if not self._player.is_open:
                return
            if self._track is not None:
                self._finish(self._ending or "skipped")
                self._player.stop()
            self._start_next()

    def pause(self) -> None:
        with self._lock:
            self._held = True
            self._player.pause()
            self._note_idle(self._clock())

    def resume(self) -> None:
        """Continue a paused track, or start one after a stop."""
        with self._lock:
            self._held = False
            if not self._player.is_open:
                return
            if self._player.state == "paused":
                try:
                    self._player.resume()
                except AudioError as exc:
                    self._audio_lost(exc)
                    return
                self._switch_if_due()
            elif self._player.state == "stopped" and self._ending is None:
                self._start_next()

    def stop(self, fade: bool = True) -> None:
        """Stop the music until ``resume()``/``skip()``; new moods do not restart it."""
        with self._lock:
            self._held = True
            self._end_current("stopped", fade)

    def like(self) -> None:
        self._rate(1)

    def dislike(self) -> None:
        self._rate(-1)

    def set_volume(self, volume: float) -> None:
        with self._lock:
            self._player.set_volume(volume)

    def status(self) -> JukeboxStatus:
        with self._lock:
            track = self._track
            return JukeboxStatus(
                state="no_audio" if self._audio_error else self._player.state,
                title=track.title if track else None,
                artist=track.artist if track else None,
                path=str(track.path) if track else None,
                folder=track.folder if track else None,
                emotion=self._choice.emotion if self._choice else None,
                volume=self._player.volume,
                audio_error=self._audio_error,
                note=self._note,
                response=self._choice.reason if self._choice else None,
            )

    def close(self, fade_seconds: float | None = None) -> None:
        """Fade out (waiting for it) and release the audio device.

        ``fade_seconds`` shortens the configured fade, for a shutdown with a deadline.
        """
        fade = self._music.fade_seconds if fade_seconds is None else fade_seconds
        with self._lock:
            if self._player.state == "playing" and fade > 0:
                self._player.stop(fade_seconds=fade)
                deadline = time.monotonic() + fade + 0.5
                while not self._player.poll() and time.monotonic() < deadline:
                    time.sleep(0.02)
            if self._track is not None:
                self._finish(self._ending or "stopped")
            self._player.close()
            self._closed = True

    # --- internals ------------------------------------------------------------------------

    def _open_audio(self) -> None:
        try:
            self._player.open()
        except AudioError as exc:
            self._audio_lost(exc)
            return
        if self._audio_error is not None:
            log.info("Audio output is available again")
        self._audio_error = None

    def _audio_lost(self, exc: AudioError) -> None:
        if self._audio_error is None:
            log.error("%s; music is off, everything else keeps running", exc)
        self._audio_error = str(exc)
        self._player.close()
        self._next_audio_try = self._clock() + AUDIO_RETRY_SECONDS

    def _note_idle(self, now: float) -> None:
        """The device is released after AUDIO_IDLE_SECONDS with nothing playing."""
        if self._player.state == "playing" or not self._player.device_open:
            self._idle_since = None
            return
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= AUDIO_IDLE_SECONDS:
            self._player.release_device()
            self._idle_since = None

    def _waiting_for_files(self) -> bool:
        """A mood is set and nothing plays or is held: an empty folder may fill up."""
        return (
            self._player.is_open
            and self._choice is not None
            and not self._held
            and self._player.state == "stopped"
            and self._ending is None
        )

    def _time_left(self, now: float) -> float:
        """Seconds until the playing track (or its fade-out) should be over."""
        if self._fade_until is not None:
            left = self._fade_until - now
        elif self._track is not None and self._track.duration:
            left = self._track.duration - self._player.position() + 0.05
        else:
            left = UNKNOWN_LENGTH_SLEEP
        return min(MAX_PLAYING_SLEEP, left)

    def _target_folder(self) -> str | None:
        """Where the next track should come from, falling back (with a logged reason)."""
        if self._choice is None:
            return None
        folder, reason = with_fallback(
            self._choice.folder,
            self._music.default_folder,
            lambda f: bool(self._library.tracks(f)),
        )
        self._set_note(reason)
        return folder

    def _set_note(self, note: str | None) -> None:
        if note != self._note and note is not None:
            log.warning("%s (under %s)", note, self._library.root)
        self._note = note

    def _switch_if_due(self, at_once: bool = False) -> None:
        """With on_mood_change "now" (or ``at_once``), fade out a track that no longer fits."""
        if (
            (self._music.on_mood_change != "now" and not at_once)
            or self._track is None
            or self._ending is not None
            or self._player.state != "playing"
        ):
            return
        target = self._target_folder()
        if target is not None and target != self._track.folder:
            log.info("Mood changed: fading from %r over to %r", self._track.folder, target)
            self._end_current("mood_change", fade=True)
            if self._player.state == "stopped":
                self._start_next()

    def _end_current(self, ending: str, fade: bool) -> None:
        """Stop the current track; with a fade, ``tick`` records the end once it is silent."""
        if self._track is None:
            return
        if fade and self._music.fade_seconds > 0 and self._player.state == "playing":
            self._ending = ending
            self._player.stop(fade_seconds=self._music.fade_seconds)
            self._fade_until = self._clock() + self._music.fade_seconds + 0.05
        else:
            self._player.stop()
            self._finish(ending)

    def _start_next(self) -> None:
        self._library.refresh()  # cheap when nothing changed; sees added and removed files
        for _ in range(MAX_TRIES):
            folder = self._target_folder()
            if folder is None:
                return
            tracks = {t.path: t for t in self._library.tracks(folder)}
            path = self._chooser.choose(folder, list(tracks), self.ratings_for(self._mood()))
            if path is None:
                self._set_note(f"the only track in folder {folder!r} is disliked")
                return
            try:
                self._player.play(path, fade_seconds=self._music.fade_seconds)
            except UnplayableTrack as exc:
                self._library.mark_bad(path, str(exc))
                continue
            except AudioError as exc:
                self._audio_lost(exc)
                return
            self._track = tracks[path]
            self._started = time.monotonic()
            log.info("Playing %s from %r", self._track.describe(), folder)
            self._play_id = self._safely(self._history.record_play, path, folder, self._mood())
            return

    def _check_not_empty(self, track: Track) -> None:
        """A file that "finishes" at once would be restarted five times a second: drop it."""
        played = time.monotonic() - self._started
        if played < MIN_TRACK_SECONDS:
            self._library.mark_bad(track.path, f"it ended after {played:.2f} s (no audio in it)")

    def _finish(self, ending: str) -> None:
        if self._play_id is not None:
            self._safely(self._history.end_play, self._play_id, ending)
        self._track = None
        self._play_id = None
        self._ending = None
        self._fade_until = None

    def _rate(self, rating: int) -> None:
        with self._lock:
            if self._track is None:
                log.info("Nothing is playing, so there is nothing to rate")
                return
            path, mood = str(self._track.path), self._mood()
            self._ratings.setdefault(mood, {})[path] = rating
            self._safely(self._history.rate, path, rating, emotion=mood)
            log.info(
                "%s %s (counts when %s)",
                "Liked" if rating > 0 else "Disliked",
                self._track.describe(),
                mood or "no mood is known",
            )

    def ratings_for(self, mood: str | None) -> dict[str, int]:
        """The ratings the chooser uses in ``mood``."""
        with self._lock:
            return ratings_for(mood, self._ratings)

    def _mood(self) -> str | None:
        return self._choice.emotion if self._choice else None

    def _safely(self, call: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        """Run a history call; a failing database is logged and never stops the music."""
        try:
            return call(*args, **kwargs)
        except sqlite3.Error as exc:
            log.error("History %s: %s failed: %s", self._history.path, call.__name__, exc)
            return None
