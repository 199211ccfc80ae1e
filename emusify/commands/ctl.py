"""``emusify ctl ACTION``: talk to the running daemon through its control socket.

Kept light on purpose (no camera, model or audio imports) so it answers at once.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

HELP = "control the running Emusify: status, check, pause, resume, skip, like, dislike, quit"

ACTIONS = ("status", "check", "pause", "resume", "skip", "like", "dislike", "quit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to ask the daemon")
    parser.add_argument(
        "what",
        nargs="?",
        choices=["music", "checks"],
        help="with pause/resume: only the music, or only the mood checks (default: both)",
    )
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def run(args: argparse.Namespace) -> int:
    from emusify.control import ControlClient, finite
    from emusify.errors import EmusifyError

    if args.what and args.action not in ("pause", "resume"):
        raise EmusifyError(f"'{args.what}' goes only with pause or resume")
    command = f"{args.action}-{args.what}" if args.what else args.action
    status = ControlClient().request(command)
    if args.json:
        print(json.dumps(finite(status), indent=2, sort_keys=True, allow_nan=False))
    elif args.action == "status":
        print(format_status(status))
    else:
        print(confirmation(command, status))
    return 0


def confirmation(command: str, s: dict[str, Any]) -> str:
    """What a command did, in words: printed by `emusify ctl`, shown by the control window."""
    track = s.get("track") or "nothing"
    return {
        "check": "Checking the mood now.",
        "quit": "Emusify is shutting down.",
        "skip": f"Skipped; now playing: {track}.",
        "like": f"Liked: {track}.",
        "dislike": f"Disliked and skipped; now playing: {track}.",
    }.get(command, f"Done: {command.replace('-', ' ')}.")


def _clock(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S") if t else "–"


def format_status(s: dict[str, Any]) -> str:
    mood = s.get("mood") or "not known yet"
    if s.get("mood") and s.get("confidence") is not None:
        mood += f" (confidence {s['confidence']:.0%}, share {s.get('share') or 0:.0%})"
    last = _clock(s.get("last_check"))
    if s.get("last_outcome"):
        last += f" ({s['last_outcome'].replace('_', ' ')})"
    if s.get("recognition_error"):
        last += f": {s['recognition_error']}"
    if s.get("checks_paused"):
        nxt = "paused"
    elif s.get("checking"):
        nxt = "running now"
    elif s.get("next_check"):
        nxt = f"{_clock(s['next_check'])} (in {max(0, s['next_check'] - time.time()):.0f} s)"
    else:
        nxt = "–"
    music = s.get("music") or {}
    state = music.get("state", "?")
    track = s.get("track") or "nothing"
    if s.get("track"):
        track += f" ({state}, folder {music.get('folder')})"
    elif s.get("music_paused"):
        track += " (music paused)"
    camera = f"{s.get('camera')} ({s.get('camera_source')})"
    if s.get("camera_error"):
        camera += f": {s['camera_error']}"
    audio = music.get("audio_error") or ("ok" if state != "no_audio" else "no audio output")
    if music.get("note"):
        audio += f"; {music['note']}"
    rows = [
        ("Mood", mood),
        ("Last check", last),
        ("Next check", nxt),
        ("Track", track),
        ("Camera", camera),
        ("Audio", audio),
        ("Daemon", f"pid {s.get('pid')}, emusify {s.get('version')}"),
    ]
    # Problems that need the user, shown only while they last.
    for key, label in (
        ("config_error", "Config"),
        ("history_error", "History"),
        ("model_note", "Model"),
    ):
        if s.get(key):
            rows.append((label, str(s[key]).replace("\n", "\n" + " " * 12)))
    return "\n".join(f"{k + ':':<12}{v}" for k, v in rows)
