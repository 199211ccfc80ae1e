"""``emusify train``: train an emotion model from a labelled image folder."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HELP = "train an emotion model from a folder of labelled face images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        metavar="DIR",
        required=True,
        help="training images in DIR/<emotion>/*.jpg|png|tiff",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--name",
        default="personal",
        help="model name: written to your models folder (default: %(default)s)",
    )
    where.add_argument("--out", metavar="DIR", help="write the model folder here instead")
    parser.add_argument(
        "--test",
        metavar="DIR",
        help="pick the best epoch on this labelled folder instead of a validation split",
    )
    parser.add_argument(
        "--base", metavar="MODEL", help="fine-tune this model (a name or a folder) instead"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--epochs", type=int, help="at most this many epochs")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        help="share of the images held out for validation (default: 0.15)",
    )
    parser.add_argument(
        "--cache", metavar="DIR", help="landmark cache folder (default: your cache folder)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="landmark extraction processes (default: 2)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from emusify import paths
    from emusify.classifier import resolve_model_dir
    from emusify.train import TrainSettings, images_training_data, train_model

    settings = TrainSettings(seed=args.seed)
    if args.epochs:
        settings.epochs = args.epochs
    if args.validation_fraction is not None:
        settings.validation_fraction = args.validation_fraction
    out = Path(args.out) if args.out else paths.user_models_dir() / args.name
    base = resolve_model_dir(args.base) if args.base else None
    cache = Path(args.cache) if args.cache else None
    progress = not args.quiet
    train = images_training_data(
        args.images, cache_dir=cache, workers=args.workers, progress=progress
    )
    validation = (
        images_training_data(
            args.test, cache_dir=cache, workers=args.workers, progress=progress, labels=train.labels
        )
        if args.test
        else None
    )
    command = "emusify train " + shlex.join(
        sys.argv[2:] if sys.argv[1:2] == ["train"] else sys.argv[1:]
    )
    result = train_model(
        train,
        out,
        validation=validation,
        base=base,
        settings=settings,
        command=command,
        progress=progress,
    )
    scores = result.metrics["scores"]["validation"]
    print(f"model written to {result.out_dir}")
    print(f"validation accuracy {scores['accuracy']:.3f} on {scores['n']} faces")
    return 0
