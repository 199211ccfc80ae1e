#!/usr/bin/env python3
"""What ``emusify run`` costs while it waits, and during a mood check (Linux: reads /proc).

Starts the daemon headless with a video of real faces as the camera, silent audio (SDL's
dummy driver) and its own state folder, waits for the check at start, then prints:

- idle: CPU use (% of one core) and resident memory between checks, over ``--idle`` seconds,
- one window (``emusify ctl check``): wall time, CPU seconds, frames analysed and CPU
  milliseconds per frame, peak resident memory.

A video file is read as fast as it decodes, so the window's wall time here is the pure
analysis time; with a webcam the same work is spread over the window's length.

    python benchmarks/bench_daemon.py [--idle 20] [--window 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emusify.control import ControlClient, ControlError

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT / "tests" / "assets" / "happy_faces.mp4"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait(client: ControlClient, predicate, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = client.request("status")
            if predicate(status):
                return status
        except ControlError:
            pass
        time.sleep(0.2)
    raise SystemExit("the daemon did not get there in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=20.0, help="seconds to measure idling")
    parser.add_argument("--window", type=float, default=20.0, help="window length in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # Polled in this process (no ctl subprocesses), so polling does not skew the figures.
        os.environ["EMUSIFY_HOME"] = tmp
        client = ControlClient()
        env = {**os.environ, "SDL_AUDIODRIVER": "dummy"}
        env.pop("DISPLAY", None)
        started = time.monotonic()
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emusify.cli",
                "run",
                "--no-tray",
                "--config",
                str(ROOT / "config.yaml"),
                "--camera",
                str(VIDEO),
                "--interval",
                "3600",
                "--window",
                str(args.window),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            first = wait(client, lambda s: s["last_check"] is not None)
            ready = time.monotonic() - started
            time.sleep(2.0)  # let the first track's start settle

            cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            rss_idle = []
            while time.monotonic() - t0 < args.idle:
                rss_idle.append(rss_mb(daemon.pid))
                time.sleep(0.5)
            idle_cpu = (cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - t0) * 100

            cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            client.request("check")
            peak = rss_mb(daemon.pid)
            while client.request("status")["checking"]:
                peak = max(peak, rss_mb(daemon.pid))
                time.sleep(0.05)
            window_wall = time.monotonic() - t0
            window_cpu = cpu_seconds(daemon.pid) - cpu0
            frames = int(
                subprocess.run(
                    [sys.executable, "-c", _LAST_WINDOW, str(Path(tmp) / "state")],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            client.request("quit")
            daemon.wait(10)
        finally:
            if daemon.poll() is None:
                daemon.kill()

    print(f"start to first decided window: {ready:.1f} s (mood {first['mood']})")
    print(f"idle between checks: {idle_cpu:.2f} % of one core over {args.idle:.0f} s")
    print(f"idle resident memory: {sum(rss_idle) / len(rss_idle):.0f} MB")
    print(
        f"one window ({args.window:.0f} s of video, {frames} frames): {window_wall:.2f} s wall, "
        f"{window_cpu:.2f} s CPU, {window_cpu / max(frames, 1) * 1000:.0f} ms CPU per frame"
    )
    print(f"peak resident memory during the window: {peak:.0f} MB")


#: Reads the last window's frame count from the daemon's history (after it wrote it).
_LAST_WINDOW = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/history.sqlite3")
print(db.execute("SELECT total_frames FROM windows ORDER BY id DESC LIMIT 1").fetchone()[0])
"""

if __name__ == "__main__":
    main()
