"""Per-frame cost of the recognition pipeline: landmarks, features, classifier; peak memory.

Runs the default model on webcam-sized frames (640x480, a face from the test videos pasted
in) and prints the median and 95th-percentile latency of each stage and the process's peak
resident memory. Usage::

    python benchmarks/bench_pipeline.py [--frames 60] [--model default]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emusify.sensing.camera import open_camera  # noqa: E402
from emusify.sensing.classifier import EmotionModel  # noqa: E402
from emusify.sensing.features import landmark_features  # noqa: E402
from emusify.sensing.landmarks import LandmarkExtractor  # noqa: E402


def webcam_frames(n: int) -> list[np.ndarray]:
    faces = []
    with open_camera(str(ROOT / "tests" / "assets" / "happy_faces.mp4")) as cam:
        faces = [f.image for f in cam.sample(fps=5, seconds=60)]
    frames = []
    for i in range(n):
        frame = np.full((480, 640, 3), 70, np.uint8)
        face = cv2.resize(faces[i % len(faces)], (240, 240))
        frame[120:360, 200:440] = face
        frames.append(frame)
    return frames


def stats(ms: list[float]) -> str:
    return f"median {np.median(ms):7.2f} ms   p95 {np.percentile(ms, 95):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = EmotionModel.load(args.model)
    load_ms = (time.perf_counter() - t0) * 1000
    frames = webcam_frames(args.frames)
    timings: dict[str, list[float]] = {"landmarks": [], "features": [], "classifier": []}
    found = 0
    with LandmarkExtractor() as extractor:
        extractor.extract(frames[0])  # warm-up: graph initialisation
        for frame in frames:
            t1 = time.perf_counter()
            lm = extractor.extract(frame)
            t2 = time.perf_counter()
            timings["landmarks"].append((t2 - t1) * 1000)
            if lm is None:
                continue
            found += 1
            x = landmark_features(lm)
            t3 = time.perf_counter()
            model.predict(x[None])
            t4 = time.perf_counter()
            timings["features"].append((t3 - t2) * 1000)
            timings["classifier"].append((t4 - t3) * 1000)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {model.folder} loaded in {load_ms:.0f} ms")
    print(f"frames 640x480: {len(frames)}, face found in {found}")
    for stage, ms in timings.items():
        print(f"{stage:<11} {stats(ms)}")
    total = [a + b + c for a, b, c in zip(*timings.values(), strict=False)]
    print(f"{'total':<11} {stats(total)}")
    print(f"peak memory {peak_mb:.0f} MB (resident, whole process)")
    print(f"tensorflow imported: {'tensorflow' in sys.modules}")


if __name__ == "__main__":
    main()
