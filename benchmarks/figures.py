"""What the benchmark scripts share: a process's memory read from /proc, and one way to print
a figure measured several times (docs/benchmarks.md quotes these lines)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB; 0 once it has ended (a check's worker may have)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def spread(
    values: Sequence[float], unit: str = "", digits: int = 2, bracket: str = "min {lo}, max {hi}"
) -> str:
    """The median, then the smallest and largest value in ``bracket``: ``0.70 s (min 0.63, max
    0.76)``. The median says what to expect, the bracket how far one run may differ."""
    med, lo, hi = (f"{v:.{digits}f}" for v in (statistics.median(values), min(values), max(values)))
    head = f"{med} {unit}" if unit else med
    return f"{head} ({bracket.format(lo=lo, hi=hi)})"
