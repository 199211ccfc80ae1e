"""``emusify evaluate``: a model's detection rate and accuracy on a labelled image folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "measure a model on a folder of labelled face images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images", metavar="DIR", required=True, help="images in DIR/<emotion>/*.jpg|png|tiff"
    )
    parser.add_argument(
        "--model", metavar="NAME", help="model name or folder (default: the configured model)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--cache", metavar="DIR", help="landmark cache folder (default: your cache folder)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="landmark extraction processes (default: 2)"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from emusify.learning.evaluate import evaluate_folder
    from emusify.sensing.classifier import EmotionModel

    if args.model:
        name = args.model
    else:
        from emusify.config import load_config

        name = load_config(args.config).model
    model = EmotionModel.load(name)
    evaluation = evaluate_folder(
        model,
        args.images,
        cache_dir=Path(args.cache) if args.cache else None,
        workers=args.workers,
        progress=sys.stderr.isatty(),
    )
    if args.json:
        for folder in evaluation.skipped_folders:
            print(f"skipped folder {folder!r}: not one of the model's labels", file=sys.stderr)
        print(json.dumps(evaluation.as_dict()))
    else:
        print(evaluation.report())
    return 0
