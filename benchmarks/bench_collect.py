#!/usr/bin/env python3
"""What collecting costs: frames per second, a checkpoint's write, and the listing.

Records one session from a looped video of real faces (``tests/assets/happy_faces_2.mp4``) in
the terminal mode and prints:

- frames analysed per second and milliseconds per frame (landmarks + features + bookkeeping),
- peak memory of the process,
- the time to save (fsync included) a full session of 1,000 samples, first and as a
  checkpoint that replaces the session's own file, and the file's size,
- the time ``emusify samples`` needs to read 20 such sessions.

    python benchmarks/bench_collect.py [--samples 300]
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

from emusify.learning import samples
from emusify.learning.collect import CollectSettings, TerminalProgress, collect
from emusify.sensing.camera import open_camera
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION
from emusify.sensing.landmarks import LandmarkExtractor

VIDEO = Path(__file__).resolve().parent.parent / "tests" / "assets" / "happy_faces_2.mp4"


def looped_video(out: Path, repeats: int) -> Path:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while (read := cap.read())[0]:
        frames.append(read[1])
    cap.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for _ in range(repeats):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return out


def bench_recording(root: Path, target: int) -> None:
    video = looped_video(root / "long.mp4", repeats=target // 30 + 2)
    settings = CollectSettings("happy", target=target, countdown=0, out_dir=root / "rec")
    with LandmarkExtractor() as extractor, open_camera(str(video)) as camera:
        start = time.perf_counter()
        result = collect(settings, camera, extractor, TerminalProgress("happy", io.StringIO()))
        seconds = time.perf_counter() - start
    print(f"recording: {result.samples} samples from {result.frames} frames in {seconds:.1f} s")
    print(
        f"  {result.frames / seconds:.1f} frames/s, {1000 * seconds / result.frames:.0f} ms/frame"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of the process: {peak_mb:.0f} MB")


def bench_storage(root: Path) -> None:
    rng = np.random.default_rng(0)
    start_time = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(20):
        writer = samples.SessionWriter(
            root / "store",
            "happy" if i % 2 else "sad",
            source="benchmark",
            feature_version=FEATURE_VERSION,
            feature_size=FEATURE_SIZE,
            started=start_time + timedelta(hours=i),
        )
        for row in rng.standard_normal((1000, FEATURE_SIZE), dtype=np.float32):
            writer.append(row)
        t0 = time.perf_counter()
        path = writer.save()
        t1 = time.perf_counter()
        writer.save()  # a checkpoint: replaces this session's own file
        t2 = time.perf_counter()
        if i == 0:
            size = path.stat().st_size / 1e6
            print(
                f"saving 1,000 samples: first {1000 * (t1 - t0):.0f} ms, as a checkpoint "
                f"{1000 * (t2 - t1):.0f} ms, file {size:.1f} MB"
            )
    t0 = time.perf_counter()
    inventory = samples.inventory(root / "store", feature_version=FEATURE_VERSION)
    seconds = time.perf_counter() - t0
    print(f"listing {len(inventory.sessions)} sessions of 1,000 samples: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="samples to record")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_recording(Path(tmp), args.samples)
        bench_storage(Path(tmp))


if __name__ == "__main__":
    main()
