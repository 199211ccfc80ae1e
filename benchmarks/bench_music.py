#!/usr/bin/env python3
"""How long the music library takes with a large collection, and what a tick costs.

Builds a throw-away songs folder of N tracks (default 2,000: tagged OGG files cut from a
bundled demo track, plus some WAVs, spread over album sub-folders) and prints:

- the first scan (every file's tags read),
- a rescan when nothing changed (what the daemon pays every few seconds),
- a rescan after one file was added (only that file's tags are read),
- one track choice from the full folder.

    python benchmarks/bench_music.py [--tracks 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
import wave
from pathlib import Path

from emusify.music.chooser import Chooser
from emusify.music.library import Library
from emusify.paths import PROJECT_SONGS

DEMO = PROJECT_SONGS / "happy" / "sunny-steps.ogg"


def build(root: Path, n: int) -> None:
    head = DEMO.read_bytes()[:24_000]  # header pages (with the tags) and a little audio
    silence = bytes(4410 * 2)
    for i in range(n):
        album = root / "happy" / f"album {i // 12:03d}"
        album.mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:
            with wave.open(str(album / f"{i:04d}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(44100)
                w.writeframes(silence)
        else:
            (album / f"{i:04d}.ogg").write_bytes(head)


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="emusify-bench-"))
    try:
        build(root, args.tracks)
        lib = Library(root)
        first, tracks = timed(lambda: lib.tracks("happy"))
        print(f"first scan of {len(tracks)} tracks: {first * 1000:.0f} ms")  # type: ignore[arg-type]
        unchanged, _ = timed(lib.refresh, repeat=20)
        print(f"rescan, nothing changed: {unchanged * 1000:.1f} ms")
        extra = root / "happy" / "album 000" / "new.ogg"
        shutil.copy(root / "happy" / "album 000" / "0000.ogg", extra)
        os.utime(extra.parent, ns=(1, 1))
        changed, names = timed(lib.refresh)
        print(f"rescan after adding one file: {changed * 1000:.1f} ms ({names})")
        paths = [t.path for t in lib.tracks("happy")]
        chooser = Chooser(random.Random(0))
        ratings = {
            str(p): (1 if i % 7 == 0 else -1 if i % 11 == 0 else 0) for i, p in enumerate(paths)
        }
        ratings = {k: v for k, v in ratings.items() if v}
        choose, _ = timed(lambda: chooser.choose("happy", paths, ratings), repeat=50)
        print(
            f"one choice among {len(paths)} tracks ({len(ratings)} rated): {choose * 1000:.2f} ms"
        )
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
