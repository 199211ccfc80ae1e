"""``emusify collect EMOTION``: record your own face's landmarks for one emotion."""

from __future__ import annotations

import argparse
from pathlib import Path

from emusify.commands import plural

HELP = "record your own face's landmark samples for one emotion (no image is stored)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "emotion", help="the emotion you will show, e.g. happy, sad, or a new one such as calm"
    )
    parser.add_argument(
        "--camera", metavar="INDEX|VIDEO", help="webcam index or video file (default: config)"
    )
    parser.add_argument(
        "--samples",
        metavar="N",
        type=int,
        default=1000,
        help="stop after N samples; a frame with a face gives one per view of it, up to four "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="samples folder (default: samples/ in your data directory)",
    )
    parser.add_argument(
        "--countdown",
        metavar="SECONDS",
        type=float,
        default=3.0,
        help="seconds to get ready before recording starts (default: %(default)s)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=10.0,
        help="frames analysed per second (default: %(default)s)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no preview window, a progress bar in the terminal instead",
    )


def run(args: argparse.Namespace) -> int:
    from emusify.config import load_config
    from emusify.learning.collect import CollectSettings, collect, make_progress
    from emusify.learning.samples import check_emotion_name
    from emusify.sensing.camera import open_camera
    from emusify.sensing.landmarks import LandmarkExtractor

    emotion = check_emotion_name(args.emotion)
    settings = CollectSettings(
        emotion=emotion,
        target=args.samples,
        countdown=args.countdown,
        fps=args.fps,
        out_dir=args.out,
    )
    cfg = load_config(args.config)
    source = args.camera if args.camera is not None else cfg.camera_source
    progress = make_progress(emotion, args.headless)
    try:
        with (
            LandmarkExtractor() as extractor,
            open_camera(source, cfg.camera.width, cfg.camera.height) as camera,
        ):
            result = collect(settings, camera, extractor, progress)
    finally:
        progress.close()  # also when the camera cannot be opened
    if result.path is None:
        frames = f"{result.frames} {plural(result.frames, 'frame')}"
        print(f"No face was seen in {frames}: nothing was recorded.")
        return 1
    print(
        f"Recorded {result.samples} '{emotion}' {plural(result.samples, 'sample')} from "
        f"{result.frames} {plural(result.frames, 'frame')} "
        f"({result.reason}) in {result.path}"
    )
    return 0
