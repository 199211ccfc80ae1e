"""``emusify config check|path``: validate a configuration file or show where it lives."""

from __future__ import annotations

import argparse

HELP = "check the configuration file or show its path"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["check", "path"], help="what to do")


def run(args: argparse.Namespace) -> int:
    from emusify.config import load_config

    cfg = load_config(args.config)
    if args.action == "path":
        print(cfg.path)
    else:
        print(f"{cfg.path}: OK")
    return 0
