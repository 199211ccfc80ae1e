"""``emusify history``: recent mood checks, corrections, moods set by hand, plays and ratings."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from emusify.commands import plural

HELP = "show recent mood checks, corrections and plays (or delete the history with --clear)"

#: Without --since: the last day.
DEFAULT_DAYS = 1
#: What one row of each kind is called in the table's last line.
ROW_NAMES = {
    "checks": ("check", "checks"),
    "corrections": ("correction", "corrections"),
    "moods_set": ("mood set", "moods set"),
    "plays": ("play", "plays"),
    "ratings": ("rating", "ratings"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="from this local date or time on: YYYY-MM-DD or 'YYYY-MM-DD HH:MM' "
        f"(default: the last {DEFAULT_DAYS * 24} hours)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--clear", action="store_true", help="delete the whole history (asks first)"
    )
    parser.add_argument("--yes", action="store_true", help="with --clear: do not ask")


def parse_since(text: str | None, default_days: float | None) -> float:
    """Unix time of a local date or date-time given on the command line."""
    from emusify.errors import EmusifyError

    if text is None:
        return 0.0 if default_days is None else time.time() - default_days * 86400
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            continue
    raise EmusifyError(f"--since {text!r}: give a date as YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")


def run(args: argparse.Namespace) -> int:
    from emusify import paths
    from emusify.history import History

    path = paths.history_path()
    if args.clear:
        return _clear(path, args.yes)
    if not path.exists():
        print("No history yet: it starts with the first mood check of `emusify run`.")
        return 0
    since = parse_since(args.since, DEFAULT_DAYS)
    with History(path) as history:
        events = collect(history, since)
    if args.json:
        print(json.dumps({"since": _iso(since), **events}, indent=2))
    else:
        print(format_table(events, since))
    return 0


def collect(history: Any, since: float) -> dict[str, list[dict[str, Any]]]:
    """Every kind of row since ``since``, as JSON-ready mappings with an ISO time added."""

    def rows(items: list[Any], times: tuple[str, ...] = ("time",)) -> list[dict[str, Any]]:
        out = []
        for item in items:
            d = asdict(item)
            for key in times:
                d[key + "_iso"] = _iso(d[key])
            out.append(d)
        return out

    return {
        "checks": rows(history.windows(since)),
        "corrections": rows(history.corrections(since)),
        "moods_set": rows(history.moods_set(since), ("time", "until")),
        "plays": rows(history.plays(since), ("time", "ended_time")),
        "ratings": rows(history.rating_rows(since)),
    }


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t).astimezone().isoformat("T", "seconds")


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def format_table(events: dict[str, list[dict[str, Any]]], since: float) -> str:
    lines: list[tuple[float, str, str]] = []
    for w in events["checks"]:
        what = w["outcome"].replace("_", " ")
        if w["emotion"]:
            share, confidence = w["share"] or 0, w["confidence"] or 0
            what = f"{w['emotion']} (share {share:.0%}, confidence {confidence:.0%})"
        lines.append(
            (
                w["time"],
                "check",
                f"{what}; {w['face_frames']}/{w['total_frames']} "
                f"{plural(w['total_frames'], 'frame')} with a face",
            )
        )
    for c in events["corrections"]:
        kept = "; kept as samples" if c["sample_file"] else ""
        lines.append(
            (c["time"], "correction", f"the check read {c['read']}, you said {c['emotion']}{kept}")
        )
    for m in events["moods_set"]:
        if m["emotion"]:
            until = f" until {_clock(m['until'])[11:16]}" if m["until"] else ""
            lines.append((m["time"], "mood set", f"{m['emotion']}{until}"))
        else:
            lines.append((m["time"], "mood set", "auto: the checks decide again"))
    for p in events["plays"]:
        ended = p["ended"] or "playing or interrupted"
        lines.append(
            (
                p["time"],
                "play",
                f"{p['path']} (folder {p['folder']}, mood {p['emotion'] or '?'}; {ended})",
            )
        )
    for r in events["ratings"]:
        word = "like" if r["rating"] > 0 else "dislike"
        lines.append((r["time"], word, f"{r['path']} (when {r['emotion'] or 'any mood'})"))
    if not lines:
        return f"Nothing in the history since {_clock(since)}."
    lines.sort(key=lambda row: row[0])
    out = [f"{'time':<19}  {'what':<10}  details"]
    out += [f"{_clock(t)}  {kind:<10}  {text}" for t, kind, text in lines]
    counts = ", ".join(f"{len(v)} {plural(len(v), *ROW_NAMES[k])}" for k, v in events.items())
    out.append(f"\nSince {_clock(since)}: {counts}.")
    return "\n".join(out)


def _clear(path: Any, yes: bool) -> int:
    from emusify.errors import EmusifyError
    from emusify.history import History

    if not path.exists():
        print("There is no history to delete.")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise EmusifyError(
                "--clear deletes the whole history: run it in a terminal to confirm, or add --yes"
            )
        answer = input(f"Delete every mood check, play and rating in {path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was deleted.")
            return 1
    with History(path) as history:
        history.clear()
    print(f"The history in {path} is now empty.")
    return 0
