"""``emusify service install|uninstall|status``: start Emusify on login, or stop doing so."""

from __future__ import annotations

import argparse
import sys

HELP = "start Emusify on login: install, remove or show the autostart entry"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall", "status"], help="what to do")
    parser.add_argument(
        "--kind",
        choices=["systemd", "autostart", "launchagent", "windows"],
        help="which entry to install (default: a systemd user unit when a systemd user session "
        "runs, else an XDG autostart file; a LaunchAgent on macOS; a Startup script on Windows)",
    )


def run(args: argparse.Namespace) -> int:
    from emusify.desktop import service

    argv = service.command_line(args.config)
    if args.action == "install":
        if args.config is not None:
            from emusify.config import load_config

            load_config(args.config)  # an entry that cannot start is refused: missing or invalid
        kind = service.KINDS[args.kind] if args.kind else service.default_kind()
        outcome = service.install(kind, argv)
        for old in outcome.replaced:
            print(f"Removed the {old.kind.description} ({old.path}): one start-up entry is enough")
            for warning in old.warnings:
                print(f"warning: {warning}")
        print(f"Installed the {kind.description}: {outcome.path}")
        print(f"It runs: {' '.join(argv)}")
        if outcome.warnings:
            for warning in outcome.warnings:
                print(f"error: {warning}", file=sys.stderr)
            print(
                f"The {kind.description} is written but not registered: Emusify will not start "
                "at login until the command above succeeds (then run this install again)",
                file=sys.stderr,
            )
            return 1
        if kind is service.SYSTEMD:
            print(
                "Emusify starts at your next login; to start it now: systemctl --user start emusify"
            )
        else:
            print("Emusify starts at your next login")
        return 0
    if args.action == "uninstall":
        removed = service.uninstall()
        if not removed:
            print("Nothing to remove: no autostart entry is installed.")
        for outcome in removed:
            print(f"Removed the {outcome.kind.description}: {outcome.path}")
            for warning in outcome.warnings:
                print(f"warning: {warning}")
        return 1 if any(o.warnings for o in removed) else 0
    for entry in service.status(argv):
        if not entry.installed:
            state = "not installed"
        elif entry.current:
            state = "installed"
        else:
            state = "installed, but runs a different command (reinstall to update it)"
        extra = f"; systemd: {entry.manager_state}" if entry.manager_state else ""
        print(f"{entry.kind.description}: {state} ({entry.path}){extra}")
    return 0
