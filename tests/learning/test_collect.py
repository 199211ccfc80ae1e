"""Collecting a person's samples from a camera: here, videos of real FER2013 faces."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from webcam import FakeClock, ScriptedWebcam

from emusify import cli
from emusify.errors import CameraError, DataError
from emusify.learning import samples
from emusify.learning.collect import (
    CollectSettings,
    TerminalProgress,
    collect,
    make_progress,
)
from emusify.sensing.camera import Camera, open_camera
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION
from emusify.sensing.landmarks import LandmarkExtractor

ASSETS = Path(__file__).parent.parent / "assets"
HAPPY = ASSETS / "happy_faces_2.mp4"  #: 40 frames, one FER2013 face each, 10 fps
PROJECT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return tmp_path / "home"


@pytest.fixture(scope="module")
def extractor():
    with LandmarkExtractor() as ex:
        yield ex


def session_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.npz"))


def run_collect(*argv: str) -> int:
    return cli.main(["collect", *argv, "--headless", "--countdown", "0"])


def long_video(tmp_path: Path, repeats: int) -> Path:
    """The faces video played ``repeats`` times over: a webcam that does not run out."""
    cap = cv2.VideoCapture(str(HAPPY))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    out = tmp_path / "long.mp4"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for _ in range(repeats):
        for image in frames:
            writer.write(image)
    writer.release()
    return out


def test_headless_collection_records_one_session_of_face_vectors(tmp_path, capsys):
    out = tmp_path / "samples"

    assert run_collect("happy", "--camera", str(HAPPY), "--out", str(out)) == 0

    [path] = session_files(out)
    assert path.parent.name == "happy"
    session = samples.read_session(path, feature_version=FEATURE_VERSION)
    # A vector per view (up to four) of each of the 40 frames where a face was found.
    assert 3 * 30 <= session.info.count <= 4 * 40
    assert session.features.shape == (session.info.count, FEATURE_SIZE)
    assert session.info.source == f"video file {HAPPY}"
    assert session.info.started <= session.info.ended
    stdout, stderr = capsys.readouterr()
    assert f"Recorded {session.info.count} 'happy' samples" in stdout and str(path) in stdout
    assert "(end of video)" in stdout
    assert f"happy: {session.info.count}/1000 samples" in stderr  # the headless progress
    with np.load(path) as npz:  # landmark numbers and metadata only: no image
        assert sorted(npz.files) == ["features", "meta"]
        assert npz["features"].nbytes == session.info.count * FEATURE_SIZE * 4


def test_collection_stops_at_the_requested_count(tmp_path):
    out = tmp_path / "samples"
    assert run_collect("sad", "--camera", str(HAPPY), "--samples", "12", "--out", str(out)) == 0
    [path] = session_files(out)
    assert samples.read_session(path).info.count == 12


def test_collecting_again_adds_a_session_and_never_replaces_one(tmp_path, capsys):
    out = tmp_path / "samples"
    assert run_collect("happy", "--camera", str(HAPPY), "--samples", "5", "--out", str(out)) == 0
    [first] = session_files(out)
    before = first.read_bytes()

    assert run_collect("happy", "--camera", str(HAPPY), "--samples", "7", "--out", str(out)) == 0

    files = session_files(out)
    assert len(files) == 2 and first in files and first.read_bytes() == before
    capsys.readouterr()
    assert cli.main(["samples", "--dir", str(out)]) == 0
    listing = capsys.readouterr().out
    assert any(line.split()[:3] == ["happy", "12", "2"] for line in listing.splitlines())


def test_samples_go_to_the_user_data_directory_by_default(home):
    assert run_collect("calm", "--camera", str(HAPPY), "--samples", "3") == 0
    [path] = session_files(home / "data" / "samples")
    assert path.parent.name == "calm"


def test_a_video_without_a_face_records_nothing(tmp_path, capsys):
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10, (192, 192))
    for _ in range(5):
        writer.write(np.full((192, 192, 3), 128, np.uint8))
    writer.release()

    assert run_collect("happy", "--camera", str(blank), "--out", str(tmp_path / "s")) == 1

    assert not (tmp_path / "s").exists()
    assert "No face was seen in 5 frames" in capsys.readouterr().out


def test_a_bad_emotion_name_is_refused_before_the_camera_opens(tmp_path, capsys):
    assert run_collect("../etc", "--camera", str(tmp_path / "missing.mp4")) == 2
    assert "cannot be an emotion name" in capsys.readouterr().err


def test_a_live_camera_counts_down_and_records_after_it(tmp_path, extractor):
    clock = FakeClock()
    faces = [cv2.resize(cv2.imread(str(p)), (192, 192)) for p in sorted(ASSETS.glob("faces/*.png"))]
    webcam = ScriptedWebcam(clock, good=40, frames=faces)  # 4 s at 10 frames per second
    stream = io.StringIO()
    settings = CollectSettings("happy", countdown=2.0, out_dir=tmp_path)
    with (
        pytest.raises(CameraError, match="stopped delivering frames"),
        Camera(0, opener=lambda source: webcam, clock=clock) as camera,
    ):
        collect(settings, camera, extractor, TerminalProgress("happy", stream))
    shown = [line for line in stream.getvalue().splitlines() if line.startswith("Recording")]
    assert shown == ["Recording 'happy' in 2…", "Recording 'happy' in 1…"]
    [path] = session_files(tmp_path)
    # The first 2 s were the countdown: at most 21 frames, four views each.
    assert 0 < samples.read_session(path).info.count <= 4 * 21


def test_a_video_file_needs_no_countdown_and_keeps_every_frame(tmp_path, extractor):
    stream = io.StringIO()
    settings = CollectSettings("happy", countdown=3.0, out_dir=tmp_path)
    with open_camera(str(HAPPY)) as camera:
        result = collect(settings, camera, extractor, TerminalProgress("happy", stream))
    assert result.frames == 40  # all 4 s at 10 fps
    assert "Recording 'happy' in" not in stream.getvalue()
    assert samples.read_session(result.path).info.count == result.samples >= 30


class StopAfter(TerminalProgress):
    """The person presses q after ``n`` frames (the preview window reports that as False)."""

    def __init__(self, n: int):
        super().__init__("happy", io.StringIO())
        self.n = n

    def update(self, frame, face, count, target):
        super().update(frame, face, count, target)
        self.n -= 1
        return self.n > 0


def test_stopping_keeps_what_was_recorded(tmp_path, extractor):
    with open_camera(str(HAPPY)) as camera:
        result = collect(
            CollectSettings("happy", countdown=0, out_dir=tmp_path),
            camera,
            extractor,
            StopAfter(6),
        )
    assert (result.reason, result.frames) == ("stopped", 6)
    assert samples.read_session(result.path).info.count == result.samples > 0


def test_a_webcam_that_stops_mid_session_keeps_what_was_recorded(tmp_path, extractor):
    clock = FakeClock()
    faces = [cv2.resize(cv2.imread(str(p)), (192, 192)) for p in sorted(ASSETS.glob("faces/*.png"))]
    webcam = ScriptedWebcam(clock, good=12, frames=faces)
    settings = CollectSettings("happy", countdown=0, out_dir=tmp_path)
    with (
        pytest.raises(CameraError, match="stopped delivering frames") as failure,
        Camera(0, opener=lambda source: webcam, clock=clock) as camera,
    ):
        collect(settings, camera, extractor, TerminalProgress("happy", io.StringIO()))

    [path] = session_files(tmp_path)
    count = samples.read_session(path).info.count
    assert 0 < count <= 4 * 12
    assert f"{count} samples were kept in {path}" in str(failure.value)
    assert samples.read_session(path).info.source == "camera 0"


def test_a_full_disk_keeps_earlier_files_intact_and_says_what_was_not_saved(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "samples"
    assert run_collect("happy", "--camera", str(HAPPY), "--samples", "5", "--out", str(out)) == 0
    [earlier] = session_files(out)
    before = earlier.read_bytes()

    def no_space(file, **arrays):
        file.write(b"PK\x03\x04 the start of a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(samples.np, "savez", no_space)
    assert run_collect("happy", "--camera", str(HAPPY), "--samples", "8", "--out", str(out)) == 2

    err = capsys.readouterr().err
    assert "could not save 8 'happy' samples" in err and "the disk is full" in err
    assert "8 of the 8 samples recorded in this session could not be saved" in err
    assert "Traceback" not in err
    assert session_files(out) == [earlier] and earlier.read_bytes() == before
    assert not list(out.rglob("*.tmp"))


def test_a_failed_checkpoint_keeps_recording_and_the_final_save_has_everything(
    tmp_path, monkeypatch, extractor, caplog
):
    real_savez = np.savez
    calls = []

    def full_once(file, **arrays):
        calls.append(len(arrays["features"]))
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savez(file, **arrays)

    monkeypatch.setattr(samples.np, "savez", full_once)
    settings = CollectSettings("happy", countdown=0, checkpoint_seconds=1e-6, out_dir=tmp_path)
    with open_camera(str(HAPPY)) as camera:
        result = collect(settings, camera, extractor, TerminalProgress("happy", io.StringIO()))

    assert "the disk is full" in caplog.text and "samples are kept in memory" in caplog.text
    assert len(calls) > 2  # the checkpoints went on after the failure
    assert samples.read_session(result.path).info.count == result.samples == calls[-1]


def test_without_a_display_or_when_headless_progress_goes_to_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert isinstance(make_progress("happy", headless=False), TerminalProgress)
    monkeypatch.setenv("DISPLAY", ":99")
    assert isinstance(make_progress("happy", headless=True), TerminalProgress)


def test_an_opencv_without_windows_falls_back_to_the_terminal(monkeypatch, caplog):
    def no_gui(*args):  # what a "headless" OpenCV build does
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    assert isinstance(make_progress("happy", headless=False), TerminalProgress)
    assert "no preview window" in caplog.text


# --- the real script, interrupted -------------------------------------------------------


def start_script(
    tmp_path: Path, video: Path, out: Path, headless: bool = True, env: dict | None = None
) -> subprocess.Popen:
    env = {**(env or os.environ), "EMUSIFY_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, str(PROJECT / "collect.py"), "happy", "--camera", str(video)]
    argv += ["--countdown", "0", "--samples", "5000", "--out", str(out)]
    argv += ["--headless"] if headless else []
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_the_script_mid_run_keeps_a_readable_file_of_the_samples_so_far(tmp_path, stop):
    out = tmp_path / "samples"
    proc = start_script(tmp_path, long_video(tmp_path, repeats=15), out)
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:  # the headless progress: a line per 100 samples
            done = line.startswith("happy: ") and int(line.split()[1].split("/")[0]) >= 100
            if done or time.monotonic() > deadline:
                break
        proc.send_signal(stop)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()

    assert proc.returncode == 0, stdout
    [path] = session_files(out)
    count = samples.read_session(path, feature_version=FEATURE_VERSION).info.count
    assert 100 <= count < 2400
    assert f"Recorded {count} 'happy' samples" in stdout and "(stopped)" in stdout


def test_a_killed_run_leaves_its_last_checkpoint_and_earlier_sessions_readable(tmp_path):
    out = tmp_path / "samples"
    assert run_collect("happy", "--camera", str(HAPPY), "--samples", "5", "--out", str(out)) == 0
    [earlier] = session_files(out)
    before = earlier.read_bytes()
    proc = start_script(tmp_path, long_video(tmp_path, repeats=15), out)
    try:
        deadline = time.monotonic() + 120
        while len(session_files(out)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # until the first checkpoint (every 5 s) is on disk
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()

    [checkpoint] = [p for p in session_files(out) if p != earlier]
    assert samples.read_session(checkpoint, feature_version=FEATURE_VERSION).info.count > 0
    assert earlier.read_bytes() == before


@pytest.fixture
def display():
    """A private X server (Xvfb) for the preview window."""
    tools = ("Xvfb", "xdotool", "import")
    if not all(shutil.which(t) for t in tools):
        pytest.skip("needs Xvfb, xdotool and ImageMagick (./setup.sh --dev installs them)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()  # written once the server is ready
    assert number, f"Xvfb did not start (exit code {server.wait()})"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def screenshot(env: dict) -> np.ndarray:
    shot = subprocess.run(["import", "-window", "root", "png:-"], env=env, capture_output=True)
    return cv2.imdecode(np.frombuffer(shot.stdout, np.uint8), cv2.IMREAD_COLOR)


def mesh_pixels(screen: np.ndarray) -> int:
    blue, green, red = (screen[..., i].astype(int) for i in range(3))
    return int(((green - np.maximum(blue, red)) > 50).sum())


def test_the_preview_window_shows_the_mesh_and_q_stops_and_keeps(tmp_path, display):
    out = tmp_path / "samples"
    x = {**os.environ, "DISPLAY": display}
    proc = start_script(tmp_path, long_video(tmp_path, repeats=15), out, headless=False, env=x)
    try:
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--name", "Emusify: collecting"],
            env=x, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert found.stdout.split(), (found.stderr, proc.poll())
        window = found.stdout.split()[0]
        deadline = time.monotonic() + 60
        while (pixels := mesh_pixels(screenshot(x))) < 1000 and time.monotonic() < deadline:
            time.sleep(0.5)
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "q"], env=x)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()

    assert pixels >= 1000  # the green face mesh drawn over the grey face
    assert proc.returncode == 0 and "(stopped)" in stdout
    [path] = session_files(out)
    count = samples.read_session(path).info.count
    assert count > 0 and f"Recorded {count} 'happy' samples" in stdout


def test_writing_to_a_folder_that_cannot_be_created_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = run_collect("happy", "--camera", str(HAPPY), "--samples", "3", "--out", str(blocker))
    assert code == 2
    assert "could not save 3 'happy' samples" in capsys.readouterr().err


# --- from collected sessions to a personal model ----------------------------------------


@pytest.fixture(scope="module")
def four_sessions(tmp_path_factory):
    """Two sessions per emotion, each recorded by the real collect.py script from a video of
    other FER2013 faces (as a person would be recorded on two occasions)."""
    root = tmp_path_factory.mktemp("collected")
    env = {**os.environ, "EMUSIFY_HOME": str(tmp_path_factory.mktemp("home"))}
    env.pop("DISPLAY", None)
    for emotion in ("happy", "sad"):
        for video in (f"{emotion}_faces.mp4", f"{emotion}_faces_2.mp4"):
            argv = [sys.executable, str(PROJECT / "collect.py"), emotion, "--headless"]
            argv += ["--camera", str(ASSETS / video), "--countdown", "0", "--out", str(root)]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
            assert "(end of video)" in done.stdout
    return root


def test_a_personal_model_trained_on_collected_sessions_recognises_other_faces(
    tmp_path, four_sessions, capsys
):
    sessions = {p.stem: samples.read_session(p).info for p in session_files(four_sessions)}
    model = tmp_path / "model"

    argv = ["--samples", str(four_sessions), "--min-samples", "30", "--out", str(model)]
    assert cli.main(["train", *argv, "--quiet"]) == 0

    metrics = json.loads((model / "metrics.json").read_text())
    validation = metrics["scores"]["validation"]
    # Validation holds out whole sessions, one per emotion: never frames of a trained session.
    held_out = metrics["data"]["validation"]["per_class"]
    assert {(s.emotion, s.count) for s in sessions.values()} >= set(held_out.items())
    assert validation["accuracy"] >= 0.65  # other people's faces than those trained on
    assert json.loads((model / "labels.json").read_text())["labels"] == ["happy", "sad"]

    faces = stills_folder(tmp_path / "faces", ("happy", "sad"))  # people in no video
    capsys.readouterr()
    assert cli.main(["evaluate", "--images", str(faces), "--model", str(model), "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["n"] == 6 and evaluation["accuracy"] >= 4 / 6


def stills_folder(root: Path, emotions: tuple[str, ...] | None = None) -> Path:
    """The FER2013 stills under tests/assets/faces as an image folder ``root/<emotion>/``."""
    for still in ASSETS.glob("faces/*.png"):
        emotion = still.stem.split("_")[0]
        if emotions is None or emotion in emotions:
            (root / emotion).mkdir(parents=True, exist_ok=True)
            shutil.copy(still, root / emotion / still.name)
    return root


def test_fine_tuning_the_default_model_on_collected_sessions_with_a_new_label(four_sessions, home):
    argv = ["--samples", str(four_sessions), "--min-samples", "30", "--base", "default"]
    argv += ["--map", "sad=calm"]  # the person calls that face "calm"
    assert cli.main(["train", *argv, "--quiet"]) == 0

    folder = home / "data" / "models" / "personal"  # the default --name, in the data directory
    model = EmotionModel.load("personal")
    assert model.labels == ["calm", "happy"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["data"]["base"] == str(PROJECT / "models" / "default")
    assert metrics["data"]["train"]["label_map"] == {"happy": "happy", "sad": "calm"}
    assert metrics["scores"]["validation"]["accuracy"] >= 0.65
    sad_session = sorted((four_sessions / "sad").glob("*.npz"))[0]
    probs = model.predict(samples.read_session(sad_session).features)  # LiteRT, as at run time
    assert probs.shape == (len(probs), 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_collect_settings_refuse_nonsense():
    with pytest.raises(DataError, match="at least 1"):
        CollectSettings("happy", target=0)
