"""Shared fixtures: a private home per test, real audio through SDL's disk driver, and small
generated sound files."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config, data, state and runtime folders, never the user's."""
    home = tmp_path_factory.mktemp("emusify-home")
    monkeypatch.setenv("EMUSIFY_HOME", str(home))
    return home


@dataclass
class DiskAudio:
    """What pygame played, read back from SDL's disk driver (44.1 kHz, 16-bit, stereo).

    The driver writes in real time from the moment the mixer opens, silence included, so
    sample positions follow the wall clock closely.
    """

    path: Path
    rate: int = 44100

    def samples(self) -> np.ndarray:
        """Left channel as floats in -1..1 (the tracks in tests are mono, so L == R)."""
        raw = np.fromfile(self.path, dtype="<i2") if self.path.exists() else np.zeros(0, "<i2")
        return raw[: len(raw) // 2 * 2].reshape(-1, 2)[:, 0].astype(np.float64) / 32768

    def levels(self, window: float = 0.05) -> np.ndarray:
        """RMS level of each consecutive ``window`` seconds."""
        x = self.samples()
        n = int(self.rate * window)
        frames = x[: len(x) // n * n].reshape(-1, n)
        return np.sqrt(np.mean(frames**2, axis=1))

    def pitch(self, start: float, end: float) -> float:
        """The strongest frequency (Hz) between two times (seconds)."""
        x = self.samples()[int(start * self.rate) : int(end * self.rate)]
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.fft.rfftfreq(len(x), 1 / self.rate)[int(np.argmax(spectrum))])


@pytest.fixture
def disk_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DiskAudio]:
    """Send pygame's audio to a file for this test; the mixer is closed afterwards."""
    out = tmp_path / "speaker.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(out))
    yield DiskAudio(out)
    import pygame

    pygame.mixer.quit()


@pytest.fixture
def make_tone() -> Callable[..., Path]:
    """Write a mono 16-bit WAV of a steady sine: ``make_tone(path, hz, seconds, level=0.5)``."""

    def make(path: Path, hz: float, seconds: float, level: float = 0.5) -> Path:
        rate = 44100
        t = np.arange(int(rate * seconds)) / rate
        pcm = (level * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        return path

    return make
