"""``emusify service install|uninstall|status``: start Emusify on login, or stop doing so."""

from __future__ import annotations

import argparse

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
        kind = service.KINDS[args.kind] if args.kind else service.default_kind()
        outcome = service.install(kind, argv)
        print(f"Installed the {kind.description}: {outcome.path}")
        print(f"It runs: {' '.join(argv)}")
        for warning in outcome.warnings:
            print(f"warning: {warning}")
        if kind is service.SYSTEMD:
            print(
                "Emusify starts at your next login; to start it now: systemctl --user start emusify"
            )
        return 1 if outcome.warnings else 0
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
