"""``emusify detect``: the emotion on the face in a photo, or the mood of a video."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emusify.sensing.recognizer import FramePrediction

HELP = "show the emotion in photos or the mood of a video file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--image", metavar="PATH", nargs="+", help="one or more photos (jpg, png, tiff)"
    )
    what.add_argument("--video", metavar="PATH", help="a video file, read as one camera window")
    parser.add_argument(
        "--model", metavar="NAME", help="model name or folder (default: the configured model)"
    )
    parser.add_argument(
        "--fps", type=float, help="frames analysed per second of video (default: from config)"
    )
    parser.add_argument(
        "--seconds", type=float, help="analyse at most this much video (default: all of it)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON, one object per line (photo or video)"
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from emusify.config import load_config
    from emusify.learning.dataset import read_image
    from emusify.sensing.camera import open_camera
    from emusify.sensing.classifier import EmotionModel
    from emusify.sensing.landmarks import LandmarkExtractor
    from emusify.sensing.recognizer import Recognizer

    cfg = load_config(args.config)
    model = EmotionModel.load(args.model or cfg.model)
    with LandmarkExtractor() as extractor:
        recognizer = Recognizer(model, extractor)
        if args.image:
            for image in args.image:
                _print_image(image, recognizer.classify(read_image(image)), args.json)
            return 0
        fps = args.fps or cfg.schedule.sample_fps
        seconds = args.seconds or float("inf")
        with open_camera(args.video) as cam:
            result = recognizer.observe(
                cam.sample(fps, seconds), cfg.decision.min_face_frames, cfg.decision.min_share
            )
    if args.json:
        print(json.dumps({"video": args.video, **asdict(result)}))
        return 0
    print(f"{args.video}: {result.describe()}")
    counts = ", ".join(
        f"{k} {v}" for k, v in sorted(result.counts.items(), key=lambda kv: -kv[1]) if v
    )
    if counts:
        print(f"  votes: {counts}")
    return 0


def _print_image(image: str, prediction: FramePrediction | None, as_json: bool) -> None:
    if as_json:
        out: dict = {"image": image, "face": prediction is not None}
        if prediction is not None:
            out.update(
                emotion=prediction.emotion,
                confidence=round(prediction.confidence, 4),
                probabilities={k: round(v, 4) for k, v in prediction.probs.items()},
            )
        print(json.dumps(out))
    elif prediction is None:
        print(f"{image}: no face found")
    else:
        ranked = sorted(prediction.probs.items(), key=lambda kv: -kv[1])
        others = ", ".join(f"{k} {v:.2f}" for k, v in ranked[1:3])
        print(f"{image}: {prediction.emotion} ({prediction.confidence:.2f}; {others})")
