"""``emusify ctl ACTION``: talk to the running daemon through its control socket.

Kept light on purpose (no camera, model or audio imports) so it answers at once.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

HELP = (
    "control the running Emusify: status, check, pause, resume, skip, like, dislike, "
    "mood EMOTION|auto, learn on|off, quit"
)

ACTIONS = (
    "status", "check", "pause", "resume", "skip", "like", "dislike", "mood", "learn", "quit"
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to ask the daemon")
    parser.add_argument(
        "what",
        nargs="?",
        help="with pause/resume: music or checks (default: both); with mood: the emotion you "
        "feel (e.g. sad), or auto to let the checks decide again; with learn: on or off",
    )
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def _request(action: str, what: str | None) -> tuple[str, str | None]:
    """The daemon command and its argument for ``ctl ACTION [WHAT]``."""
    from emusify.errors import EmusifyError

    if action in ("pause", "resume"):
        if what not in (None, "music", "checks"):
            raise EmusifyError(f"{action} {what!r}: use {action} music or {action} checks")
        return (f"{action}-{what}" if what else action), None
    if action == "mood":
        if not what:
            raise EmusifyError("mood needs the emotion you feel (e.g. mood sad) or auto")
        return action, what.strip().lower()
    if action == "learn":
        if what not in ("on", "off"):
            raise EmusifyError("learn needs on or off")
        return action, what
    if what in ("music", "checks"):
        raise EmusifyError(f"'{what}' goes only with pause or resume")
    if what:
        raise EmusifyError(f"'{what}' goes only with pause, resume, mood or learn")
    return action, None


def run(args: argparse.Namespace) -> int:
    from emusify.control import ControlClient, finite

    command, arg = _request(args.action, args.what)
    fields = {} if arg is None else {"arg": arg}
    status = ControlClient().request(command, **fields)
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
        "mood": f"Mood: {mood_line(s)}; now playing: {track}.",
        "learn": "Learning from corrections is "
        + ("on." if s.get("learn_from_corrections") else "off."),
    }.get(command, f"Done: {command.replace('-', ' ')}.")


def mood_line(s: dict[str, Any]) -> str:
    """The mood and where it came from, e.g. "sad (set by hand until 14:05)"."""
    mood = s.get("mood") or "not known yet"
    if s.get("mood_source") == "manual":
        until = s.get("mood_until")
        mood += (
            f" (set by hand until {_clock(until)})"
            if until
            else " (set by hand; the next check decides)"
        )
    elif s.get("mood") and s.get("confidence") is not None:
        mood += f" (confidence {s['confidence']:.0%}, share {s.get('share') or 0:.0%})"
    return mood


def _clock(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S") if t else "–"


def format_status(s: dict[str, Any]) -> str:
    mood = mood_line(s)
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
        ("Learning", "on" if s.get("learn_from_corrections") else "off"),
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
