"""One track at a time through ``pygame.mixer.music``, with fades and end-of-track detection.

The end of a track is found by polling: ``poll()`` reports once when the mixer stops being
busy while we believe it plays. Pygame's end event would need its event queue, which is tied
to the video subsystem, and the daemon may run without a display.

While nothing plays, the device can be released (``release_device``): SDL's mixing thread
costs CPU even when silent. ``play`` and ``resume`` open it again, and a paused track resumes
where it was.

The mixer is opened with a fixed format (44.1 kHz, 16-bit, stereo) so that SDL converts
tracks to it instead of reopening the device per track; tests read SDL's disk driver output
in this format.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from emusify.errors import AudioError

# The prompt variable must be set before pygame is imported.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

log = logging.getLogger(__name__)

FREQUENCY = 44100
SAMPLE_SIZE = -16
CHANNELS = 2
#: 4096 frames (93 ms): SDL wakes 11 times a second to mix instead of 21 (CPU while playing
#: an OGG track 0.35 % of a core against 0.45 % with 2048); fades still step smoothly.
BUFFER = 4096


class UnplayableTrack(AudioError):
    """One file cannot be decoded; other tracks may still play."""


class Player:
    """A thin, stateful wrapper: state is one of "stopped", "playing", "paused"."""

    def __init__(self) -> None:
        self.state = "stopped"
        self.path: Path | None = None
        self._volume = 1.0
        self._open = False  #: the device worked: music can be played
        self._device = False  #: the device is open now
        self._offset = 0.0  #: where in the track the current ``music.play`` started
        self._paused_at = 0.0  #: position of a paused track, kept across a device release

    def open(self) -> None:
        """Open the audio device; raise AudioError naming the driver and SDL's reason."""
        if self._device:
            return
        try:
            pygame.mixer.init(
                frequency=FREQUENCY,
                size=SAMPLE_SIZE,
                channels=CHANNELS,
                buffer=BUFFER,
                allowedchanges=0,
            )
        except pygame.error as exc:
            driver = os.environ.get("SDL_AUDIODRIVER") or "the default audio driver"
            raise AudioError(f"No audio output: cannot open {driver}: {exc}") from None
        self._open = self._device = True
        pygame.mixer.music.set_volume(self._volume)

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def device_open(self) -> bool:
        return self._device

    def release_device(self) -> bool:
        """Close the audio device while nothing plays (a paused track keeps its place)."""
        if not self._device or self.state == "playing":
            return False
        if self.state == "paused":
            self._paused_at = self.position()
        pygame.mixer.music.stop()
        pygame.mixer.quit()
        self._device = False
        log.debug("audio device released (nothing to play)")
        return True

    def play(self, path: Path, *, fade_seconds: float = 0.0, start: float = 0.0) -> None:
        """Start ``path`` (at ``start`` seconds); UnplayableTrack if it cannot be decoded,
        AudioError if the device cannot be opened again."""
        self._require_open()
        self.open()
        try:
            # Bytes: SDL cannot open a str path that is not valid UTF-8 (a foreign disk's name).
            pygame.mixer.music.load(os.fsencode(path))
            pygame.mixer.music.play(fade_ms=_ms(fade_seconds), start=start)
        except pygame.error as exc:
            self.state, self.path = "stopped", None
            raise UnplayableTrack(f"Cannot play {path}: {exc}") from None
        self.state, self.path, self._offset = "playing", Path(path), start

    def pause(self) -> None:
        if self.state == "playing":
            pygame.mixer.music.pause()
            self.state = "paused"

    def resume(self) -> None:
        """Continue a paused track, from where it was even after ``release_device``."""
        if self.state != "paused" or self.path is None:
            return
        if self._device:
            pygame.mixer.music.unpause()
            self.state = "playing"
            return
        path, start = self.path, self._paused_at
        try:
            self.play(path, start=start)
        except UnplayableTrack:
            self.play(path)  # a format that cannot seek starts over

    def stop(self, *, fade_seconds: float = 0.0) -> None:
        """Stop now, or fade out; with a fade, ``poll()`` reports the end once it is silent."""
        if not self._open or self.state == "stopped":
            return
        if fade_seconds > 0 and self.state == "playing":
            pygame.mixer.music.fadeout(_ms(fade_seconds))
            return
        if self._device:
            pygame.mixer.music.stop()
        self.state, self.path = "stopped", None

    def poll(self) -> bool:
        """True once when the playing track has ended (or finished fading out)."""
        if self.state != "playing" or not self._device or pygame.mixer.music.get_busy():
            return False
        self.state, self.path = "stopped", None
        return True

    @property
    def volume(self) -> float:
        return self._volume

    def set_volume(self, volume: float) -> None:
        self._volume = min(1.0, max(0.0, float(volume)))
        if self._device:
            pygame.mixer.music.set_volume(self._volume)

    def position(self) -> float:
        """Seconds played of the current track (0 when stopped)."""
        if self.state == "stopped":
            return 0.0
        if not self._device:
            return self._paused_at
        return self._offset + max(0.0, pygame.mixer.music.get_pos() / 1000)

    def close(self) -> None:
        if self._device:
            pygame.mixer.music.stop()
            pygame.mixer.quit()
        self._open = self._device = False
        self.state, self.path = "stopped", None

    def _require_open(self) -> None:
        if not self._open:
            raise AudioError("The audio output is not open")


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
