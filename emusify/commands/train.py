"""``emusify train``: train an emotion model from labelled images and/or your own samples."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from emusify.commands import plural

#: ``--samples`` without a folder: the samples folder in your data directory.
SAMPLES_DEFAULT = "-"

HELP = "train an emotion model from labelled face images and/or your collected samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        metavar="DIR",
        help="training images in DIR/<emotion>/*.jpg|png|tiff",
    )
    mine = parser.add_argument_group("your collected samples (emusify collect)")
    mine.add_argument(
        "--samples",
        metavar="DIR",
        nargs="?",
        const=SAMPLES_DEFAULT,
        help="train on your samples (from DIR, default: your data directory); alone, with "
        "--images, or with --base to fine-tune that model on them",
    )
    mine.add_argument(
        "--map",
        metavar="COLLECTED=LABEL",
        action="append",
        default=[],
        help="train the samples collected as COLLECTED under the model label LABEL (repeatable; "
        "a new label such as calm is fine); unmapped names are their own label",
    )
    mine.add_argument(
        "--map-file",
        metavar="FILE",
        type=Path,
        help="YAML file of 'collected: label' lines (--map entries override it)",
    )
    mine.add_argument(
        "--min-samples",
        metavar="N",
        type=int,
        help="refuse when a label has fewer samples than this (default: 100)",
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
    import os

    from emusify import paths
    from emusify.learning.train import (
        TrainSettings,
        combine,
        images_training_data,
        require_training_packages,
        train_model,
    )
    from emusify.sensing.classifier import resolve_model_dir

    # Everything that can be wrong with the arguments is said before TensorFlow loads (~4 s).
    mine = _check_arguments(args)
    base = resolve_model_dir(args.base) if args.base else None
    out = Path(args.out) if args.out else paths.user_models_dir() / args.name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's info lines: not ours
    require_training_packages()
    settings = TrainSettings(seed=args.seed)
    if args.epochs:
        settings.epochs = args.epochs
    if args.validation_fraction is not None:
        settings.validation_fraction = args.validation_fraction
    cache = Path(args.cache) if args.cache else None
    progress = not args.quiet
    parts = [mine] if mine is not None else []
    if args.images:
        images = images_training_data(
            args.images,
            cache_dir=cache,
            workers=args.workers,
            progress=progress,
        )
        parts.insert(0, images)
    train = _enough_labels(combine(parts))
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
    faces = f"{scores['n']} {plural(scores['n'], 'face')}"
    print(f"validation accuracy {scores['accuracy']:.3f} on {faces}")
    print(_how_to_use(result.out_dir, args))
    return 0


def _how_to_use(out_dir: Path, args: argparse.Namespace) -> str:
    """The next step, as commands that work as printed."""
    from emusify import paths
    from emusify.config import load_config
    from emusify.errors import EmusifyError

    name = args.name if not args.out else str(Path(out_dir).resolve())
    emusify = paths.emusify_command()
    try:
        config = load_config(args.config).path  # your copy, made now if it is not there yet
    except EmusifyError:  # training does not need the config, only this hint does
        config = args.config or paths.user_config_path()
    return (
        f"To use it, set `model: {name}` in {config}, or try it first with "
        f"`{emusify} detect --model {shlex.quote(name)} --image PHOTO`"
    )


def _check_arguments(args: argparse.Namespace):
    """The cheap checks, and the collected samples (small, no TensorFlow needed)."""
    from emusify.errors import DataError
    from emusify.learning import samples

    if not args.images and not args.samples:
        raise DataError("nothing to train on: give --images DIR, --samples [DIR], or both")
    if (args.map or args.map_file) and not args.samples:
        raise DataError("--map and --map-file apply to collected samples: add --samples")
    for option, folder in (("--images", args.images), ("--test", args.test)):
        if folder and not Path(folder).is_dir():
            raise DataError(f"{option} {folder}: no such image folder")
    if args.epochs is not None and args.epochs < 1:
        raise DataError(f"--epochs {args.epochs}: use a whole number >= 1")
    vf = args.validation_fraction
    if vf is not None and not 0 < vf < 1:
        raise DataError(f"--validation-fraction {vf:g}: use a number between 0 and 1")
    if not args.samples:
        return None
    root = None if args.samples == SAMPLES_DEFAULT else Path(args.samples)
    limits = {} if args.min_samples is None else {"min_samples": args.min_samples}
    label_map = samples.LabelMap.parse(args.map, args.map_file)
    mine = samples.samples_training_data(root, label_map=label_map, **limits)
    if not args.images:
        _enough_labels(mine)
    return mine


def _enough_labels(data):
    from emusify.errors import DataError

    if len(data.labels) < 2:
        raise DataError(
            f"only one emotion ({data.labels[0]!r}) to train on: a model needs at least two"
        )
    return data
