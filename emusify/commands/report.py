"""``emusify report``: an HTML page with charts of your moods, the music and whether it helps."""

from __future__ import annotations

import argparse
from pathlib import Path

from emusify.commands import plural

HELP = "write an HTML report: moods over time, what played, whether the music helps"

#: Without --since: the last 30 days.
DEFAULT_DAYS = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        metavar="DATE",
        help=f"from this local date on: YYYY-MM-DD (default: the last {DEFAULT_DAYS} days)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.html",
        type=Path,
        help="where to write the page (default: report.html in your data directory)",
    )


def default_out() -> Path:
    from emusify import paths

    return paths.data_dir() / "report.html"


def run(args: argparse.Namespace) -> int:
    from emusify import paths
    from emusify.commands.history import parse_since
    from emusify.history import History
    from emusify.report import write_report

    out = (args.out or default_out()).expanduser().resolve()
    since = parse_since(args.since, DEFAULT_DAYS)
    with History(paths.history_path()) as history:
        data = write_report(history, out, since)
    plays = len(data.plays)
    what = (
        "no history yet"
        if data.empty
        else f"{data.checks} {plural(data.checks, 'check')}, {plays} {plural(plays, 'play')}"
    )
    print(f"Report written to {out} ({what})")
    return 0
