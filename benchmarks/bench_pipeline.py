"""Per-frame cost of recognition on 640x480 webcam frames, as a mood check reads them.

A webcam shows head and shoulders. Both kinds of frame, head and shoulders and a face alone,
are made from the real faces of ``tests/assets/happy_faces.mp4`` pasted into a 640x480 frame,
with and without shoulders drawn beneath. Each frame is read as the worker reads it
(``Recognizer.analyse``): landmarks of its four views (``LandmarkExtractor.views``), their
feature vectors, one classifier call for all of them. Frames are grouped under the path that
found the face in the frame itself (``Landmarks.source`` of the first view: FaceMesh on the
frame, FaceMesh with a margin, or Holistic as the last resort). Holistic, which found the face
through the body pose when it came first, is also timed on its own on the head-and-shoulders
frames.

Prints, over ``--runs`` runs of ``--frames`` frames per kind: the median per-frame time of
landmarks (all views), features and classifier per path (median of the runs' medians, with
min and max), and, side by side, the same network through LiteRT and through Keras
``model.predict`` (needs the ``train`` extra and ``models/<name>/model.keras``).

    python benchmarks/bench_pipeline.py [--runs 3] [--frames 40] [--model default]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emusify.sensing.camera import open_camera  # noqa: E402
from emusify.sensing.classifier import EmotionModel  # noqa: E402
from emusify.sensing.features import view_features  # noqa: E402
from emusify.sensing.landmarks import LandmarkExtractor  # noqa: E402
from emusify.sensing.native_log import route_native_stderr  # noqa: E402

FACE_SIZE = 240


def faces() -> list[np.ndarray]:
    with open_camera(str(ROOT / "tests" / "assets" / "happy_faces.mp4")) as cam:
        return [f.image for f in cam.sample(fps=5, seconds=60)]


def webcam_frame(face: np.ndarray, shoulders: bool) -> np.ndarray:
    """The face near the top of a 640x480 frame, with a torso beneath it or alone."""
    frame = np.full((480, 640, 3), 70, np.uint8)
    x0, y0 = 320 - FACE_SIZE // 2, 40
    if shoulders:
        neck = y0 + FACE_SIZE - 10
        torso = np.array([[x0 - 90, 480], [x0 + 10, neck], [x0 + FACE_SIZE - 10, neck]])
        torso = np.vstack([torso, [[x0 + FACE_SIZE + 90, 480]]])
        cv2.fillPoly(frame, [torso], (40, 60, 120))
    frame[y0 : y0 + FACE_SIZE, x0 : x0 + FACE_SIZE] = cv2.resize(face, (FACE_SIZE, FACE_SIZE))
    return frame


def one_run(model: EmotionModel, frames: list[np.ndarray]) -> dict[str, dict[str, list[float]]]:
    """Per path ("face_mesh"...): per-stage times in ms, and the views read per frame."""
    timings: dict[str, dict[str, list[float]]] = {}
    with LandmarkExtractor() as extractor:
        extractor.views(frames[0])  # graph initialisation, as a worker's first frame
        for frame in frames:
            t1 = time.perf_counter()
            views = [lm for lm in extractor.views(frame) if lm is not None]
            t2 = time.perf_counter()
            if not views:
                continue
            x = view_features(views)
            t3 = time.perf_counter()
            model.predict(x).mean(axis=0)
            t4 = time.perf_counter()
            path = timings.setdefault(
                views[0].source,
                {"landmarks": [], "features": [], "classifier": [], "total": [], "views": []},
            )
            path["landmarks"].append((t2 - t1) * 1000)
            path["features"].append((t3 - t2) * 1000)
            path["classifier"].append((t4 - t3) * 1000)
            path["total"].append((t4 - t1) * 1000)
            path["views"].append(len(views))
    return timings


def holistic_alone(frames: list[np.ndarray]) -> list[float]:
    """ms per frame of Holistic (model_complexity=1) on the frames where it finds a face."""
    from emusify.sensing.landmarks import import_mediapipe

    mp = import_mediapipe()
    times = []
    with mp.solutions.holistic.Holistic(
        static_image_mode=True, model_complexity=1, refine_face_landmarks=True
    ) as holistic:
        holistic.process(cv2.cvtColor(frames[0], cv2.COLOR_BGR2RGB))  # graph initialisation
        for frame in frames:
            t0 = time.perf_counter()
            found = holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).face_landmarks
            if found is not None:
                times.append((time.perf_counter() - t0) * 1000)
    return times


def keras_ratio(model: EmotionModel, x: np.ndarray, repeats: int = 50) -> str:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras_file = model.folder / "model.keras"
    try:
        import keras

        from emusify.learning.train import _keras_objects
    except ImportError:
        return "Keras comparison skipped: TensorFlow is not installed (the train extra)"
    if not keras_file.is_file():
        return f"Keras comparison skipped: no {keras_file}"
    import keras

    net = keras.models.load_model(keras_file, custom_objects=_keras_objects(), compile=False)
    batch = x if x.ndim == 2 else x[None]
    times: dict[str, list[float]] = {"litert": [], "keras_predict": [], "keras_call": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        lite = model.predict(batch)
        t1 = time.perf_counter()
        net.predict(batch, verbose=0)
        t2 = time.perf_counter()
        direct = np.asarray(net(batch, training=False))
        t3 = time.perf_counter()
        times["litert"].append((t1 - t0) * 1000)
        times["keras_predict"].append((t2 - t1) * 1000)
        times["keras_call"].append((t3 - t2) * 1000)
    lite_ms = statistics.median(times["litert"])
    predict_ms = statistics.median(times["keras_predict"])
    call_ms = statistics.median(times["keras_call"])
    agree = float(np.abs(lite - direct).max())
    return (
        f"classifier per frame ({len(batch)} views): LiteRT {lite_ms:.3f} ms, "
        f"Keras model.predict {predict_ms:.1f} ms "
        f"(LiteRT {predict_ms / lite_ms:.0f}x faster), Keras direct call {call_ms:.2f} ms; "
        f"outputs agree to {agree:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=40, help="frames of each kind per run")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    route_native_stderr()

    model = EmotionModel.load(args.model)
    pool = faces()
    picked = [pool[i % len(pool)] for i in range(args.frames)]
    frames = [webcam_frame(f, True) for f in picked] + [webcam_frame(f, False) for f in picked]
    runs = [one_run(model, frames) for _ in range(args.runs)]

    print(f"model {model.folder}; {args.runs} runs of {len(frames)} frames 640x480")
    print("(half head and shoulders, half a face alone); per frame: median of the runs'")
    print("medians (min, max)")
    for path in sorted({p for r in runs for p in r}):
        counts = [len(r.get(path, {}).get("total", [])) for r in runs]
        views = statistics.median(v for r in runs if path in r for v in r[path]["views"])
        print(
            f"{path} path ({statistics.median(counts):.0f} frames per run, median "
            f"{views:.0f} views with a face):"
        )
        for stage in ("landmarks", "features", "classifier", "total"):
            meds = [statistics.median(r[path][stage]) for r in runs if path in r]
            print(
                f"  {stage:<11} {statistics.median(meds):7.2f} ms "
                f"({min(meds):.2f}, {max(meds):.2f})"
            )
    features_plus_classifier = [
        statistics.median(
            [a + b for a, b in zip(r[p]["features"], r[p]["classifier"], strict=True)]
        )
        for r in runs
        for p in r
    ]
    print(f"features + classifier: {statistics.median(features_plus_classifier):.2f} ms")
    shoulders = frames[: args.frames]
    holistic = [holistic_alone(shoulders) for _ in range(args.runs)]
    meds = [statistics.median(h) for h in holistic if h]
    print(
        f"Holistic alone on head-and-shoulders frames (face found in "
        f"{statistics.median(len(h) for h in holistic):.0f} of {len(shoulders)}): "
        f"{statistics.median(meds):.2f} ms ({min(meds):.2f}, {max(meds):.2f})"
    )
    x = np.zeros((1,), np.float32)
    with LandmarkExtractor() as extractor:
        views = extractor.views(frames[0])
        if any(views):
            x = view_features(views)
    print(keras_ratio(model, x))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB (resident, this whole process)")


if __name__ == "__main__":
    main()
