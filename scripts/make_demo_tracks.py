#!/usr/bin/env python3
"""Synthesise the bundled demo tracks: two per mood folder, so a fresh clone plays something.

Everything is made here from numpy arithmetic (no samples, nothing downloaded) and written as
small mono OGG Vorbis files with title/artist tags, so the library's tag reading is exercised
too. The output is deterministic: fixed random seeds, and the Ogg stream serial number (which
libsndfile picks at random) is rewritten to a fixed value.

    python scripts/make_demo_tracks.py            # writes songs/{happy,sad,calm}/*.ogg
    python scripts/make_demo_tracks.py --out DIR  # somewhere else

Needs ``soundfile`` (its wheel bundles libsndfile with Vorbis) and ``mutagen``; the program
itself needs neither soundfile nor this script.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mutagen.ogg
import mutagen.oggvorbis
import numpy as np
import soundfile as sf

SR = 44100
ARTIST = "Emusify demo"
SERIAL = 0x454D5553  # "EMUS"
ROOT = Path(__file__).resolve().parent.parent

# --- notes and chords ---------------------------------------------------------------------

NOTE_INDEX = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi(name: str) -> int:
    """'A4' -> 69, 'C#5' -> 73, 'Bb3' -> 58."""
    letter, rest = name[0], name[1:]
    shift = 0
    while rest and rest[0] in "#b":
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + NOTE_INDEX[letter] + shift


def hz(note: int | float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def chord(root: str, kind: str) -> list[int]:
    steps = {
        "maj": [0, 4, 7],
        "min": [0, 3, 7],
        "maj7": [0, 4, 7, 11],
        "min7": [0, 3, 7, 10],
        "add9": [0, 4, 7, 14],
        "sus2": [0, 2, 7],
    }[kind]
    base = midi(root)
    return [base + s for s in steps]


# --- instruments (each returns a mono float array for one note) -----------------------------


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    a, r = min(n, int(attack * SR)), min(n, int(release * SR))
    if a:
        env[:a] = np.linspace(0.0, 1.0, a) ** 2
    if r:
        env[n - r :] *= np.linspace(1.0, 0.0, r) ** 2
    return env


def pluck(freq: float, seconds: float, bright: float = 1.0) -> np.ndarray:
    """A plucked/mallet tone: harmonics that die away faster the higher they are."""
    t = _t(seconds)
    out = np.zeros_like(t)
    for k in range(1, 7):
        out += (bright**k / k**1.4) * np.sin(2 * np.pi * freq * k * t) * np.exp(-t * 3.5 * k)
    return out * _envelope(len(t), 0.004, 0.05)


def piano(freq: float, seconds: float) -> np.ndarray:
    """A soft piano-like tone: slightly stretched partials and a long, gentle decay."""
    t = _t(seconds)
    out = np.zeros_like(t)
    for k in range(1, 8):
        partial = freq * k * (1 + 0.0004 * k * k)
        out += (0.9**k / k**1.2) * np.sin(2 * np.pi * partial * t) * np.exp(-t * (0.9 + 0.6 * k))
    return out * _envelope(len(t), 0.006, 0.3)


def pad(freq: float, seconds: float) -> np.ndarray:
    """A warm pad: three slightly detuned voices with few harmonics and a slow swell."""
    t = _t(seconds)
    out = np.zeros_like(t)
    for detune in (-0.004, 0.0, 0.005):
        f = freq * (1 + detune)
        for k, a in ((1, 1.0), (2, 0.35), (3, 0.12)):
            out += a * np.sin(2 * np.pi * f * k * t + detune * 400)
    tremolo = 1 + 0.08 * np.sin(2 * np.pi * 0.25 * t)
    return out * tremolo * _envelope(len(t), min(1.5, seconds / 3), min(2.0, seconds / 2)) / 4


def bell(freq: float, seconds: float) -> np.ndarray:
    t = _t(seconds)
    ratios = ((1.0, 1.0, 1.2), (2.76, 0.4, 2.5), (5.4, 0.15, 4.0))
    out = sum(a * np.sin(2 * np.pi * freq * r * t) * np.exp(-t * d) for r, a, d in ratios)
    return out * _envelope(len(t), 0.003, 0.2)


def bass(freq: float, seconds: float) -> np.ndarray:
    t = _t(seconds)
    out = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
    return out * np.exp(-t * 2.2) * _envelope(len(t), 0.01, 0.08)


def kick(seconds: float = 0.35) -> np.ndarray:
    t = _t(seconds)
    sweep = 50 + 90 * np.exp(-t * 30)
    phase = 2 * np.pi * np.cumsum(sweep) / SR
    return np.sin(phase) * np.exp(-t * 12)


def hat(rng: np.random.Generator, seconds: float = 0.06) -> np.ndarray:
    t = _t(seconds)
    noise = np.diff(rng.standard_normal(len(t) + 1))  # differencing tilts it towards highs
    return noise * np.exp(-t * 70) * 0.25


# --- arranging ----------------------------------------------------------------------------


class Track:
    """A mono buffer that notes are added into at times in beats."""

    def __init__(self, bpm: float, bars: int, beats_per_bar: int = 4, tail: float = 3.0):
        self.beat = 60.0 / bpm
        self.length = bars * beats_per_bar * self.beat + tail
        self.buffer = np.zeros(int(self.length * SR))

    def add(self, beat: float, sound: np.ndarray, gain: float) -> None:
        start = int(beat * self.beat * SR)
        end = min(len(self.buffer), start + len(sound))
        if end > start:
            self.buffer[start:end] += gain * sound[: end - start]


def reverb(x: np.ndarray, seconds: float, wet: float, seed: int) -> np.ndarray:
    """Convolution with decaying noise: a cheap, smooth room."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    ir = rng.standard_normal(len(t)) * np.exp(-t * 6.9 / seconds)
    ir /= np.sqrt(np.sum(ir**2))
    n = len(x) + len(ir) - 1
    size = 1 << (n - 1).bit_length()
    tail = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    return (1 - wet) * x + wet * tail


def master(x: np.ndarray, rms_db: float = -17.0) -> np.ndarray:
    """Same loudness for every track, a gentle limiter, and fades at both ends."""
    x = x - np.mean(x)
    x *= 10 ** (rms_db / 20) / max(1e-9, float(np.sqrt(np.mean(x**2))))
    x = np.tanh(x * 1.2) / 1.2
    x *= _envelope(len(x), 0.05, 2.5)
    peak = float(np.max(np.abs(x)))
    return x * (0.89 / peak) if peak > 0.89 else x


# --- the six pieces -----------------------------------------------------------------------


def upbeat(progression: Sequence[list[int]], bpm: float, seed: int, pattern: Sequence[int]):
    """Major-key pop: arpeggios in eighths, a walking bass, kick and hats, a light melody."""
    rng = np.random.default_rng(seed)
    bars = 2 * len(progression) * 2
    song = Track(bpm, bars)
    for bar in range(bars):
        notes = progression[bar % len(progression)]
        tones = [*notes, notes[0] + 12]
        for step in range(8):
            beat = bar * 4 + step / 2
            note = tones[pattern[step] % len(tones)] + 12
            song.add(beat, pluck(hz(note), 0.6), 0.22 if step % 2 else 0.3)
            if step % 2 == 1:
                song.add(beat, hat(rng), 0.35)
        for q in range(4):
            b = notes[0] - 12 + (7 if q == 2 else 0)
            song.add(bar * 4 + q, bass(hz(b), song.beat * 0.95), 0.45)
            if q in (0, 2) or (q == 3 and bar % 2):
                song.add(bar * 4 + q, kick(), 0.7)
        if bar >= 2:  # a melody enters after two bars: chord tones, mostly stepwise
            for q in range(4):
                if rng.random() < 0.75:
                    note = tones[int(rng.integers(0, len(tones)))] + 24
                    song.add(bar * 4 + q, bell(hz(note), 0.7), 0.12)
    return reverb(song.buffer, 1.2, 0.18, seed)


def ballad(progression: Sequence[list[int]], bpm: float, seed: int, with_pad: bool):
    """Slow minor piano: broken chords in quarters, a sparse high line, a long room."""
    rng = np.random.default_rng(seed)
    bars = 2 * len(progression)
    song = Track(bpm, bars, tail=4.0)
    for bar in range(bars):
        notes = progression[bar % len(progression)]
        song.add(bar * 4, piano(hz(notes[0] - 12), song.beat * 4), 0.35)
        for q, idx in enumerate((0, 1, 2, 1)):
            song.add(bar * 4 + q, piano(hz(notes[idx]), song.beat * 2.5), 0.22)
        if with_pad:
            song.add(bar * 4, pad(hz(notes[1]), song.beat * 4.2), 0.25)
        if bar % 2 == 1 or rng.random() < 0.5:
            beat = bar * 4 + float(rng.choice([0.0, 1.0, 2.0]))
            note = notes[int(rng.integers(0, len(notes)))] + 12
            song.add(beat, piano(hz(note), song.beat * 3), 0.2)
    return reverb(song.buffer, 2.8, 0.35, seed)


def ambient(progression: Sequence[list[int]], bpm: float, seed: int, bell_scale: list[int]):
    """Calm pads that change every two bars, with a few soft pentatonic bells."""
    rng = np.random.default_rng(seed)
    bars = 2 * len(progression)
    song = Track(bpm, bars, tail=4.0)
    for bar in range(0, bars, 2):
        notes = progression[(bar // 2) % len(progression)]
        for note in notes:
            song.add(bar * 4, pad(hz(note), song.beat * 8.6), 0.3)
        song.add(bar * 4, pad(hz(notes[0] - 12), song.beat * 8.6), 0.3)
        for beat in range(8):
            if rng.random() < 0.3:
                note = bell_scale[int(rng.integers(0, len(bell_scale)))]
                song.add(bar * 4 + beat + 0.5 * float(rng.integers(0, 2)), bell(hz(note), 3), 0.06)
    return reverb(song.buffer, 3.5, 0.4, seed)


@dataclass(frozen=True)
class Piece:
    folder: str
    file: str
    title: str
    make: Callable[[], np.ndarray]


PIECES = [
    Piece(
        "happy",
        "sunny-steps.ogg",
        "Sunny Steps",
        lambda: upbeat(
            [chord("C4", "maj"), chord("G3", "maj"), chord("A3", "min"), chord("F3", "maj")],
            bpm=120,
            seed=11,
            pattern=[0, 1, 2, 3, 2, 1, 2, 1],
        ),
    ),
    Piece(
        "happy",
        "bright-morning.ogg",
        "Bright Morning",
        lambda: upbeat(
            [chord("G3", "maj"), chord("E3", "min"), chord("C4", "maj"), chord("D4", "maj")],
            bpm=132,
            seed=12,
            pattern=[0, 2, 1, 3, 0, 2, 3, 2],
        ),
    ),
    Piece(
        "sad",
        "grey-window.ogg",
        "Grey Window",
        lambda: ballad(
            [chord("A3", "min"), chord("F3", "maj"), chord("C4", "maj"), chord("G3", "maj")],
            bpm=66,
            seed=21,
            with_pad=False,
        ),
    ),
    Piece(
        "sad",
        "letters-unsent.ogg",
        "Letters Unsent",
        lambda: ballad(
            [chord("D4", "min"), chord("Bb3", "maj"), chord("G3", "min"), chord("A3", "maj")],
            bpm=60,
            seed=22,
            with_pad=True,
        ),
    ),
    Piece(
        "calm",
        "still-water.ogg",
        "Still Water",
        lambda: ambient(
            [chord("F3", "maj7"), chord("C3", "add9"), chord("D3", "min7"), chord("Bb2", "maj7")],
            bpm=64,
            seed=31,
            bell_scale=[midi(n) for n in ("F5", "G5", "A5", "C6", "D6")],
        ),
    ),
    Piece(
        "calm",
        "slow-tide.ogg",
        "Slow Tide",
        lambda: ambient(
            [chord("D3", "maj7"), chord("G3", "maj7"), chord("E3", "min7"), chord("A2", "sus2")],
            bpm=58,
            seed=32,
            bell_scale=[midi(n) for n in ("D5", "E5", "F#5", "A5", "B5")],
        ),
    ),
]


# --- writing ------------------------------------------------------------------------------


def encode(signal: np.ndarray, title: str) -> bytes:
    """OGG Vorbis bytes with title/artist tags and a fixed stream serial number."""
    raw = io.BytesIO()
    sf.write(raw, signal.astype(np.float32), SR, format="OGG", subtype="VORBIS",
             compression_level=0.75)  # fmt: skip
    raw.seek(0)
    tagged = io.BytesIO(raw.getvalue())
    audio = mutagen.oggvorbis.OggVorbis(tagged)
    audio.clear()  # drop libsndfile's own comments (they include no date, but be sure)
    audio["title"] = title
    audio["artist"] = ARTIST
    audio["album"] = "Emusify demo tracks"
    audio["comment"] = "Synthesised by scripts/make_demo_tracks.py"
    tagged.seek(0)
    audio.save(tagged)
    tagged.seek(0)
    out = io.BytesIO()
    while True:
        try:
            page = mutagen.ogg.OggPage(tagged)
        except EOFError:
            break
        page.serial = SERIAL
        out.write(page.write())
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "songs", help="the songs folder")
    args = parser.parse_args(argv)
    total = 0
    for piece in PIECES:
        signal = master(piece.make())
        data = encode(signal, piece.title)
        path = args.out / piece.folder / piece.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
        print(f"{path}: {len(signal) / SR:.1f} s, {len(data) / 1024:.0f} KiB")
    print(f"total {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
