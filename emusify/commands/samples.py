"""``emusify samples``: what has been collected, per emotion, with sessions and dates."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from emusify.commands import plural

HELP = "list your collected samples: count per emotion, sessions, dates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", metavar="DIR", type=Path, help="samples folder (default: your data directory)"
    )
    parser.add_argument(
        "--sessions", action="store_true", help="also list every session (one file each)"
    )


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def format_inventory(inventory, *, sessions: bool = False) -> str:
    """The listing as text; unusable files are shown with the reason, never fatal."""
    from emusify.learning import samples

    groups = inventory.by_emotion()
    lines = [f"Samples in {inventory.root}"]
    if not groups:
        lines.append("No samples collected yet: record some with `emusify collect EMOTION`.")
    else:
        width = max(7, *(len(e) for e in groups))
        lines.append("")
        lines.append(f"{'emotion':<{width}}  samples  sessions  first             last")
        for emotion, infos in groups.items():
            total = sum(s.count for s in infos)
            lines.append(
                f"{emotion:<{width}}  {total:>7}  {len(infos):>8}  "
                f"{_when(infos[0].started)}  {_when(infos[-1].started)}"
            )
            if sessions:
                for s in infos:
                    minutes = (s.ended - s.started).total_seconds() / 60
                    lines.append(
                        f"  {s.session_id}  {s.count:>6} {plural(s.count, 'sample'):<7}  "
                        f"{_when(s.started)}  {minutes:.1f} min  from {s.source}"
                    )
        n_samples = sum(s.count for s in inventory.sessions)
        lines.append("")
        lines.append(
            f"{len(groups)} emotion(s), {n_samples} {plural(n_samples, 'sample')} in "
            f"{len(inventory.sessions)} session(s)."
        )
        shortfall = samples.training_shortfall(inventory.sessions)
        if shortfall:
            lines.append("Before a personal model can be trained on them:")
            lines.extend(f"  - {p}" for p in shortfall)
        else:
            lines.append(
                "Train a personal model on them: emusify train --samples --base default --name me"
            )
    if inventory.problems:
        lines.append("")
        lines.append(f"{len(inventory.problems)} file(s) could not be used and are not counted:")
        lines.extend(f"  {p.message}" for p in inventory.problems)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from emusify.learning import samples
    from emusify.sensing.features import FEATURE_VERSION

    inventory = samples.inventory(args.dir, feature_version=FEATURE_VERSION)
    print(format_inventory(inventory, sessions=args.sessions))
    return 0
