#!/usr/bin/env python3
"""Does ``emusify run`` leak over time? A mood check every 5 s for 10 minutes (Linux: /proc).

Starts the daemon headless with a video of real faces as the camera (tests/assets), silent
audio (SDL's dummy driver), the shipped songs and its own state folder, and samples it once a
second: resident memory of the daemon and of its child processes (a check's worker, if any),
open descriptors and threads of the daemon. Printed for three phases, each as the median and
the spread (min-max) of its samples:

- start: the first 10 s after the daemon answers,
- warm-up: the 30 s after ``--warmup`` seconds (the first checks have loaded everything),
- end: the last 30 s.

and the verdict: descriptors and threads flat from warm-up to end, daemon memory within 5 %.

    nice python benchmarks/soak.py [--minutes 10] [--interval 5] [--window 4] [--warmup 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from figures import rss_mb, spread

from emusify.control import ControlClient, ControlError

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT / "tests" / "assets" / "happy_faces.mp4"
PHASE_SECONDS = {"start": 10.0, "warm-up": 30.0, "end": 30.0}
DASH = "{lo}-{hi}"  #: the phases' spread, as docs/benchmarks.md's soak table shows it


@dataclass
class Sample:
    t: float  #: seconds since the daemon answered
    rss: float  #: MB, the daemon
    children_rss: float  #: MB, all its descendants at that moment
    fds: int
    threads: int
    checks: int  #: windows finished so far


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            out += [int(k) for k in kids]
            todo += [int(k) for k in kids]
    return out


def sample(pid: int, t: float, checks: int) -> Sample:
    return Sample(
        t=t,
        rss=rss_mb(pid),
        children_rss=sum(rss_mb(child) for child in descendants(pid)),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=len(os.listdir(f"/proc/{pid}/task")),
        checks=checks,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
    parser.add_argument("--window", type=float, default=4.0, help="seconds of video per check")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before warm-up")
    args = parser.parse_args()
    duration = args.minutes * 60

    with tempfile.TemporaryDirectory() as tmp:
        # Asked in this process (no ctl subprocesses), so asking does not skew the figures.
        os.environ["EMUSIFY_HOME"] = tmp
        client = ControlClient()
        env = {**os.environ, "SDL_AUDIODRIVER": "dummy"}
        env.pop("DISPLAY", None)
        argv = [sys.executable, "-m", "emusify.cli", "run", "--no-tray"]
        argv += ["--config", str(ROOT / "config.yaml"), "--camera", str(VIDEO)]
        argv += ["--interval", f"{args.interval:g}", "--window", f"{args.window:g}"]
        daemon = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        samples: list[Sample] = []
        checks, last_check, outcomes = 0, None, {}
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.request("status")
                    break
                except ControlError:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        raise SystemExit("the daemon did not start") from None
                    time.sleep(0.2)
            t0 = time.monotonic()
            while (t := time.monotonic() - t0) < duration:
                status = client.request("status")
                if status["last_check"] != last_check and status["last_check"] is not None:
                    last_check = status["last_check"]
                    checks += 1
                    outcome = status["last_outcome"] or "?"
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                samples.append(sample(daemon.pid, t, checks))
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited with {daemon.returncode}")
                time.sleep(1.0)
            client.request("quit")
            daemon.wait(15)
        finally:
            if daemon.poll() is None:
                daemon.kill()

    phases = {
        "start": [s for s in samples if s.t < PHASE_SECONDS["start"]],
        "warm-up": [s for s in samples if args.warmup <= s.t < args.warmup + 30],
        "end": [s for s in samples if s.t >= duration - PHASE_SECONDS["end"]],
    }
    print(
        f"soak: {args.minutes:g} min, a {args.window:g} s check every {args.interval:g} s "
        f"on {VIDEO.name}; {checks} checks ({', '.join(f'{k} {v}' for k, v in outcomes.items())})"
    )
    print("phase     daemon RSS MB     children RSS MB   descriptors   threads   (median, min-max)")
    for name, group in phases.items():
        print(
            f"{name:<9} {spread([s.rss for s in group], digits=1, bracket=DASH):<17} "
            f"{spread([s.children_rss for s in group], digits=1, bracket=DASH):<17} "
            f"{spread([s.fds for s in group], digits=0, bracket=DASH):<13} "
            f"{spread([s.threads for s in group], digits=0, bracket=DASH)}"
        )
    warm, end = phases["warm-up"], phases["end"]
    growth = statistics.median(s.rss for s in end) / statistics.median(s.rss for s in warm) - 1
    fds_flat = max(s.fds for s in end) <= max(s.fds for s in warm)
    threads_flat = max(s.threads for s in end) <= max(s.threads for s in warm)
    flat = {True: "flat", False: "GREW"}
    print(
        f"warm-up to end: daemon memory {growth * 100:+.1f} %, "
        f"descriptors {flat[fds_flat]}, threads {flat[threads_flat]}"
    )
    ok = abs(growth) <= 0.05 and fds_flat and threads_flat
    print("verdict:", "OK (flat, within 5 %)" if ok else "LEAK?")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
