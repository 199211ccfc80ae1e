"""The command line: every sub-command is listed, and user errors print one line, no traceback."""

import subprocess
import sys

from emusify import cli


def test_help_lists_every_command(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_config_check_accepts_the_shipped_defaults(capsys):
    from emusify import paths

    assert cli.main(["config", "check", "--config", str(paths.DEFAULT_CONFIG)]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")


def test_a_bad_config_is_one_clear_message_without_traceback(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("camra:\n  source: 0\nschedule:\n  window_seconds: 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "emusify.cli", "config", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr
    assert "camra: unknown key (did you mean 'camera'?)" in proc.stderr
    assert "schedule.window_seconds: 0 is not allowed; use a number from 1 to 300" in proc.stderr


def test_engine_chatter_stays_out_of_the_answer():
    """MediaPipe and LiteRT log to file descriptor 2 from C++; the user sees only the result."""
    from emusify import paths

    face = paths.PROJECT_ROOT / "tests" / "assets" / "faces" / "happy_0.png"
    proc = subprocess.run(
        [sys.executable, "-m", "emusify.cli", "detect", "--image", str(face)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{face}: happy")
    assert proc.stderr == ""


def test_native_log_lines_are_recognised_and_other_text_is_not():
    from emusify.sensing.native_log import _NATIVE

    assert _NATIVE.match(
        "W0000 00:00:1795245258.815052   15300 inference_feedback_manager.cc:114] Feedback"
    )
    assert _NATIVE.match("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert _NATIVE.match("ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default")
    assert _NATIVE.match(
        "[ WARN:0@1.674] global cap_v4l.cpp:913 open VIDEOIO(V4L2:/dev/video0): can't open camera"
    )
    assert _NATIVE.match("[ERROR:0@1.675] global obsensor_uvc_stream_channel.cpp:158 getStream")
    assert _NATIVE.match(
        "2026-11-21 21:40:01.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations"
    )
    assert _NATIVE.match(
        "E0000 00:00:1795245258.815052   15300 cuda_executor.cc:1228] failed call to cuInit"
    )
    assert not _NATIVE.match("Traceback (most recent call last):")
    assert not _NATIVE.match("emusify detect: error: x.png: no such image file")
