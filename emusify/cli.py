"""The ``emusify`` command: a dispatcher over ``emusify/commands/<name>.py``.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int`` and
imports its heavy dependencies (MediaPipe, pygame, TensorFlow) inside ``run``, so that
``emusify --help`` and ``emusify ctl status`` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

from emusify import __version__
from emusify.errors import EmusifyError
from emusify.sensing.native_log import route_native_stderr

#: Sub-command name -> module under emusify.commands (in the order shown in --help).
COMMANDS = {
    "run": "run",
    "ctl": "ctl",
    "detect": "detect",
    "evaluate": "evaluate",
    "train": "train",
    "collect": "collect",
    "samples": "samples",
    "learn": "learn",
    "history": "history",
    "report": "report",
    "service": "service",
    "config": "config",
}

log = logging.getLogger("emusify")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emusify", description="Music for the mood on your face.")
    parser.add_argument("--version", action="version", version=f"emusify {__version__}")
    add_common_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"emusify.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        # Also after the sub-command; SUPPRESS keeps a value given before it.
        add_common_arguments(p, default=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser, default: object = None) -> None:
    """--config and -v, accepted before the sub-command and after it."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="configuration file (default: your user copy)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if default is None else default,
        help="show debug messages on the console",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    route_native_stderr()  # before any handler binds to sys.stderr
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 must not crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    try:
        code = int(args._module.run(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below
        return code
    except BrokenPipeError:
        # The reader went away (`emusify ctl status | head -1`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except EmusifyError as exc:
        print(f"emusify {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"emusify {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
