#!/usr/bin/env python3
"""What ``emusify run`` costs while it waits and per mood check, against issue 8's budget.

Linux only (reads /proc). Each run starts the daemon headless with a video of real faces as
the camera (``tests/assets/happy_faces.mp4``), SDL's dummy audio driver, the demo tracks and a
state folder of its own, and measures, polling the control socket from this process:

- start to first check under way (the worker started) and to the camera open,
- resident memory of the daemon between checks (the worker is gone then),
- CPU between checks with music playing, and paused (after the audio device is released),
- per check: the worker's CPU, the daemon's own CPU, wall time, frames,
- from the daemon's log: camera closed to music started.

After the runs, the same window is analysed twice in this process with the model and the
graph loaded (warm); the worker's CPU minus the warm window's CPU is the price of starting a
worker per check. The CPU of an hour of the default schedule is compared with a loop that
analyses every frame of a 30 fps camera.

    python benchmarks/bench_daemon.py [--runs 3] [--idle 30] [--window 20]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from figures import rss_mb, spread  # noqa: E402

from emusify.control import ControlClient, ControlError  # noqa: E402
from emusify.music.jukebox import AUDIO_IDLE_SECONDS  # noqa: E402

VIDEO = ROOT / "tests" / "assets" / "happy_faces.mp4"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own CPU, CPU of waited-for children) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    children = (int(fields[13]) + int(fields[14])) / TICKS  # cutime + cstime
    return own, children


def wait(client: ControlClient, predicate: Callable[[dict], bool], timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = client.request("status")
            if predicate(status):
                return status
        except ControlError:
            pass
        time.sleep(0.02)
    raise SystemExit("the daemon did not get there in time")


def idle_cpu(pid: int, seconds: float) -> tuple[float, list[float]]:
    """% of one core over ``seconds``, and resident memory samples meanwhile."""
    own0, _ = cpu_seconds(pid)
    t0 = time.monotonic()
    rss = []
    while time.monotonic() - t0 < seconds:
        rss.append(rss_mb(pid))
        time.sleep(1.0)
    own1, _ = cpu_seconds(pid)
    return (own1 - own0) / (time.monotonic() - t0) * 100, rss


def one_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EMUSIFY_HOME"] = tmp
        config = Path(tmp) / "config.yaml"
        config.write_text("logging:\n  level: debug\n")
        client = ControlClient()
        env = {**os.environ, "SDL_AUDIODRIVER": "dummy"}
        env.pop("DISPLAY", None)
        started = time.monotonic()
        # One check at start, the next one by hand; camera and schedule given on the command
        # line, as a user trying it would.
        daemon = subprocess.Popen(
            [
                *(sys.executable, "-m", "emusify", "run", "--no-tray", "--config", str(config)),
                *("--camera", str(VIDEO), "--interval", "3600", "--window", str(args.window)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            r: dict[str, float] = {}
            wait(client, lambda s: s["checking"], timeout=60)
            r["start_to_check_s"] = time.monotonic() - started
            wait(client, lambda s: s["camera"] == "open" or not s["checking"], timeout=60)
            r["start_to_camera_s"] = time.monotonic() - started
            wait(client, lambda s: s["music"].get("state") == "playing")
            time.sleep(2.0)
            r["idle_playing_pct"], rss = idle_cpu(daemon.pid, args.idle)
            r["rss_between_checks_mb"] = statistics.median(rss)

            client.request("pause-music")
            time.sleep(AUDIO_IDLE_SECONDS + 1.0)  # the audio device is released by then
            r["idle_paused_pct"], rss = idle_cpu(daemon.pid, args.idle)
            r["rss_paused_mb"] = statistics.median(rss)
            client.request("resume-music")
            time.sleep(1.0)

            own0, children0 = cpu_seconds(daemon.pid)
            t0 = time.monotonic()
            client.request("check")
            peak = rss_mb(daemon.pid)
            while client.request("status")["checking"]:
                peak = max(peak, rss_mb(daemon.pid))
                time.sleep(0.05)
            r["check_wall_s"] = time.monotonic() - t0
            own1, children1 = cpu_seconds(daemon.pid)
            r["worker_cpu_s"] = children1 - children0
            r["daemon_cpu_per_check_s"] = own1 - own0
            r["daemon_peak_rss_mb"] = peak
            client.request("quit")
            daemon.wait(10)
            log = (Path(tmp) / "state" / "log" / "emusify.log").read_text()
            follows = [float(m) for m in re.findall(r"music follows (\d+) ms", log)]
            r["camera_closed_to_music_ms"] = statistics.median(follows) if follows else -1
            r["frames"] = _last_window_frames(Path(tmp) / "state" / "history.sqlite3")
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    return r


def _last_window_frames(db: Path) -> float:
    import sqlite3

    with sqlite3.connect(db) as con:
        return float(
            con.execute("SELECT total_frames FROM windows ORDER BY id DESC LIMIT 1").fetchone()[0]
        )


def warm_window(window: float, fps: float) -> tuple[float, int]:
    """CPU seconds and frames of one window in a process that has everything loaded."""
    from emusify.sensing.camera import open_camera
    from emusify.sensing.classifier import EmotionModel
    from emusify.sensing.landmarks import LandmarkExtractor
    from emusify.sensing.native_log import route_native_stderr
    from emusify.sensing.recognizer import Recognizer

    route_native_stderr()  # MediaPipe's chatter to logging, not to this report
    model = EmotionModel.load("default")
    with LandmarkExtractor() as extractor:
        recognizer = Recognizer(model, extractor)
        cpu = []
        for _ in range(3):  # the first is the cold one
            c0 = time.process_time()
            frames = 0
            with open_camera(str(VIDEO)) as cam:
                for frame in cam.sample(fps, window):
                    recognizer.analyse(frame.image)
                    frames += 1
            cpu.append(time.process_time() - c0)
    return statistics.median(cpu[1:]), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds per idle measurement")
    parser.add_argument("--window", type=float, default=20.0, help="window length in seconds")
    args = parser.parse_args()
    runs = [one_run(args) for _ in range(args.runs)]
    col = {k: [r[k] for r in runs] for k in runs[0]}
    warm_cpu, warm_frames = warm_window(args.window, 4.0)
    extra = [w - warm_cpu for w in col["worker_cpu_s"]]

    print(f"{args.runs} runs; median (min, max)")
    print(f"start to first check under way:      {spread(col['start_to_check_s'], 's')}")
    print(f"start to camera open (worker ready): {spread(col['start_to_camera_s'], 's')}")
    print(f"daemon resident between checks:      {spread(col['rss_between_checks_mb'], 'MB', 0)}")
    print(f"CPU between checks, music playing:   {spread(col['idle_playing_pct'], '%')}")
    print(f"CPU between checks, music paused:    {spread(col['idle_paused_pct'], '%')}")
    print(f"one {args.window:.0f} s window ({col['frames'][0]:.0f} frames):")
    print(f"  worker CPU:                        {spread(col['worker_cpu_s'], 's')}")
    print(f"  daemon CPU:                        {spread(col['daemon_cpu_per_check_s'], 's')}")
    print(f"  wall (video decodes at full speed): {spread(col['check_wall_s'], 's')}")
    print(f"  daemon peak resident:              {spread(col['daemon_peak_rss_mb'], 'MB', 0)}")
    print(f"  same window, warm process:         {warm_cpu:.2f} s CPU ({warm_frames} frames)")
    print(f"  extra CPU for starting the worker: {spread(extra, 's')}")
    follows = col["camera_closed_to_music_ms"]
    print(f"camera closed to music started:      {spread(follows, 'ms', 0)}")

    # An hour of the default schedule (a 20 s window every 5 minutes, music playing) against
    # analysing every frame of a 30 fps webcam.
    per_check = statistics.median(col["worker_cpu_s"]) + statistics.median(
        col["daemon_cpu_per_check_s"]
    )
    idle = statistics.median(col["idle_playing_pct"]) / 100
    schedule_hour = 12 * per_check + idle * 3600
    per_frame = warm_cpu / max(warm_frames, 1)
    continuous_hour = per_frame * 30 * 3600
    print(
        f"CPU per hour: schedule {schedule_hour:.0f} s, every frame at 30 fps "
        f"{continuous_hour:.0f} s (ratio 1 : {continuous_hour / schedule_hour:.0f})"
    )


if __name__ == "__main__":
    main()
