"""``emusify learn``: fine-tune your model on your samples and corrections; keep it if better."""

from __future__ import annotations

import argparse
from pathlib import Path

from emusify.commands import plural

HELP = "train your personal model on what you collected and corrected; use it if it is better"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples", metavar="DIR", type=Path, help="samples folder (default: your data directory)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--epochs", type=int, help="at most this many epochs")
    parser.add_argument("--quiet", action="store_true", help="no training progress output")


def run(args: argparse.Namespace) -> int:
    from emusify import paths
    from emusify.config import load_config
    from emusify.learning.learn import learn
    from emusify.learning.train import TrainSettings

    cfg = load_config(args.config)
    config_path = cfg.path if cfg.path != paths.DEFAULT_CONFIG else None
    settings = TrainSettings(seed=args.seed)
    if args.epochs:
        settings.epochs = args.epochs
    result = learn(
        config_path,
        cfg.model,
        samples_root=args.samples,
        settings=settings,
        progress=not args.quiet,
    )
    print(
        f"Held out {result.held_out_sessions} of your sessions ({result.held_out_faces} "
        f"{plural(result.held_out_faces, 'face')}): "
        f"new model {result.new_accuracy:.1%} right, current model '{result.current}' "
        f"{result.current_accuracy:.1%}."
    )
    if result.kept:
        where = result.config_path or "your configuration"
        print(
            f"Kept the new model '{result.candidate}' and set 'model: {result.candidate}' in "
            f"{where}; a running Emusify uses it from its next check on."
        )
    else:
        print(
            f"The new model is not better, so '{result.current}' stays in use "
            "(the new one was removed)."
        )
    return 0
