"""``emusify run``: the long-running program (mood checks, music, tray, control socket).

This module only wires the parts together: the schedule and state are in emusify.daemon, the
front ends in emusify.desktop.tray and emusify.control.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emusify.config import Config
    from emusify.config_watch import ConfigWatcher

HELP = "run Emusify: check the mood on a schedule and play music for it"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--camera",
        metavar="SOURCE",
        help="camera index or video file to use instead of the configured camera",
    )
    parser.add_argument(
        "--interval", type=float, metavar="SECONDS", help="seconds between mood checks"
    )
    parser.add_argument(
        "--window", type=float, metavar="SECONDS", help="length of one mood check in seconds"
    )
    parser.add_argument(
        "--no-tray", action="store_true", help="run without a tray icon even with a display"
    )


def apply_overrides(cfg: Config, args: argparse.Namespace) -> Config:
    """The command-line overrides, checked like the config keys they replace."""
    from emusify.config import MAX_INTERVAL_MINUTES, with_overrides
    from emusify.errors import EmusifyError

    longest = MAX_INTERVAL_MINUTES * 60
    if args.interval is not None and not 0 < args.interval <= longest:  # also refuses nan
        raise EmusifyError(
            f"--interval {args.interval:g}: use a number of seconds > 0 and <= {longest}"
        )
    if args.window is not None and not 1 <= args.window <= 300:
        raise EmusifyError(f"--window {args.window:g}: use a number of seconds from 1 to 300")
    source: int | str | None = None
    if args.camera is not None:
        text = args.camera.strip()
        # A path on the command line is relative to where the user is, not to the project.
        source = int(text) if text.isdigit() else str(Path(text).expanduser().resolve())
    return with_overrides(
        cfg,
        camera={"source": source},
        schedule={
            "interval_minutes": None if args.interval is None else args.interval / 60,
            "window_seconds": args.window,
        },
    )


def run(args: argparse.Namespace) -> int:
    from emusify import logs
    from emusify.config import load_config
    from emusify.config_watch import ConfigWatcher
    from emusify.instance import InstanceLock

    cfg = apply_overrides(load_config(args.config), args)
    log_file = logs.setup_logging(cfg.logging, verbose=args.verbose)
    # An edit of the file while running takes effect; the command line stays on top.
    watcher = ConfigWatcher(cfg, adjust=lambda new: apply_overrides(new, args))
    # The lock comes first: a second start is refused before it loads anything.
    with InstanceLock():
        log.info("Log file: %s; configuration: %s", log_file, cfg.path)
        _make_music_folder(cfg)
        return _serve(
            cfg, use_tray=cfg.tray.enabled and not args.no_tray, log_file=log_file, watcher=watcher
        )


def _make_music_folder(cfg: Config) -> None:
    """On the first run, the user's music folder with a sub-folder per mood, and where it is."""
    import sys

    from emusify.music.library import make_music_folder

    if cfg.demo_songs_root is None or not make_music_folder(cfg.songs_root, cfg.mood_folders):
        return
    folders = ", ".join(f"{f}/" for f in sorted(cfg.mood_folders))
    print(
        f"Your music folder is {cfg.songs_root}: put tracks into {folders}; "
        "until then Emusify plays its demo tracks",
        file=sys.stderr,
        flush=True,
    )


def _serve(
    cfg: Config, *, use_tray: bool, log_file: Path, watcher: ConfigWatcher | None = None
) -> int:
    import os
    import signal
    import sys

    # SDL turns SIGTERM and SIGINT into a quit event nobody reads; the handlers below do it.
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")

    from emusify import paths
    from emusify.config import unmapped_labels_note
    from emusify.control import ControlServer
    from emusify.daemon import Daemon, Schedule, worker_checker
    from emusify.desktop.display import display_available
    from emusify.desktop.tray import Actions, Tray
    from emusify.history import History
    from emusify.listener import Listener, moods_of
    from emusify.music.jukebox import Jukebox

    schedule = Schedule.from_config(cfg)
    # Each check runs in a worker process; this one never loads the camera, MediaPipe or the
    # model. A worker checks the model now, so a broken one stops us here with its reason.
    checker = worker_checker(cfg, schedule)
    model_note = unmapped_labels_note(cfg, list(checker.probe()))
    if model_note:
        log.warning("%s", model_note[0].upper() + model_note[1:])
    with History(paths.history_path()) as history:
        jukebox = Jukebox(cfg, history)
        listener = Listener(cfg.listener, history, config_path=cfg.path, moods=moods_of(cfg))
        daemon = Daemon(
            checker,
            jukebox,
            history,
            schedule,
            fade_seconds=cfg.music.fade_seconds,
            watcher=watcher,
            model_note=model_note,
            listener=listener,
        )

        def on_signal(signum: int, _frame: object) -> None:
            log.info("Signal %s: shutting down", signal.Signals(signum).name)
            daemon.request_stop()

        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), on_signal)

        def handle(request: dict) -> dict:
            arg = request.get("arg")
            return daemon.command(str(request["cmd"]), None if arg is None else str(arg)).to_dict()

        with ControlServer(handle) as server:
            daemon.start()
            front = "headless"
            if use_tray and display_available():
                front = "tray"
            elif use_tray:
                log.info("No display ($DISPLAY is not set): running headless, without a tray icon")
            print(
                f"Emusify is running ({front}); control: {paths.emusify_command()} ctl status; "
                f"log: {log_file}",
                file=sys.stderr,
                flush=True,
            )
            if front == "tray":
                try:
                    actions = Actions(daemon, cfg.songs_root, cfg.path, moods=moods_of(cfg))
                    Tray(daemon, actions).run()
                except Exception:
                    log.exception("The tray icon failed; running headless")
            daemon.wait()  # signals interrupt the wait; the scheduler does the shutdown work
            log.debug("control channel %s closing", server.path)
    log.info("Exit")
    return 1 if daemon.failed else 0
