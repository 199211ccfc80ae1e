"""``emusify config check|path|show``: validate the configuration, say where it is, or print
what Emusify uses (the file merged over the defaults)."""

from __future__ import annotations

import argparse

HELP = "check the configuration, show its path, or show the effective configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["check", "path", "show"],
        help="check: validate; path: where it is; show: every key as Emusify uses it (YAML)",
    )


def run(args: argparse.Namespace) -> int:
    from emusify.config import load_config, to_yaml

    cfg = load_config(args.config)
    if args.action == "path":
        print(cfg.path)
    elif args.action == "show":
        print(f"# Effective configuration: {cfg.path} over the defaults")
        if not cfg.music.songs_root.strip():
            print(f"# music.songs_root '' means your music folder: {cfg.songs_root}")
        print(to_yaml(cfg), end="")
    else:
        print(f"{cfg.path}: OK")
    return 0
