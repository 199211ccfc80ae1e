"""The camera: webcam and video file behind one interface, open only during a window."""

import cv2
import numpy as np
import pytest
from webcam import FakeClock, ScriptedWebcam

from emusify.errors import CameraError
from emusify.sensing.camera import Camera, open_camera


def write_video(path, seconds=2.0, fps=10, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(int(seconds * fps)):
        frame = np.full((size[1], size[0], 3), i * 4 % 256, np.uint8)
        writer.write(frame)
    writer.release()
    return path


def test_video_file_is_sampled_by_its_own_timeline(tmp_path):
    video = write_video(tmp_path / "clip.mp4", seconds=2.0, fps=10)
    with open_camera(str(video)) as cam:
        frames = list(cam.sample(fps=4, seconds=1.0))
    assert [round(f.t, 2) for f in frames] == [0.0, 0.3, 0.5, 0.8]
    assert frames[0].image.shape == (48, 64, 3)
    assert frames[0].image.dtype == np.uint8


def test_a_short_video_ends_the_window_early(tmp_path):
    video = write_video(tmp_path / "clip.mp4", seconds=1.0, fps=10)
    with open_camera(str(video)) as cam:
        frames = list(cam.sample(fps=10, seconds=30))
    assert len(frames) == 10


def test_the_camera_is_released_when_the_window_ends_even_on_error(tmp_path):
    clock = FakeClock()
    capture = ScriptedWebcam(clock, good=5)
    cam = Camera(0, opener=lambda src: capture, clock=clock)
    with pytest.raises(RuntimeError), cam:
        assert cam.is_open
        raise RuntimeError("boom")
    assert capture.released
    assert not cam.is_open


def test_webcam_frame_size_is_requested():
    clock = FakeClock()
    capture = ScriptedWebcam(clock, good=5)
    with Camera(0, 320, 240, opener=lambda src: capture, clock=clock):
        assert capture.props[cv2.CAP_PROP_FRAME_WIDTH] == 320
        assert capture.props[cv2.CAP_PROP_FRAME_HEIGHT] == 240


def test_a_camera_that_vanishes_mid_window_raises_a_clear_error_and_is_released():
    clock = FakeClock()
    capture = ScriptedWebcam(clock, good=5)
    cam = Camera(0, opener=lambda src: capture, clock=clock)
    got = []
    with pytest.raises(CameraError, match="camera 0 stopped delivering frames"), cam:
        for frame in cam.sample(fps=10, seconds=20):
            got.append(frame)
    assert len(got) == 5
    assert capture.released


def test_a_missing_device_is_a_camera_error():
    capture = ScriptedWebcam(FakeClock(), good=5, opened=False)
    with pytest.raises(CameraError, match="cannot open camera 3: missing, busy"):
        Camera(3, opener=lambda src: capture).open()
    assert capture.released


def test_a_missing_video_file_is_a_camera_error(tmp_path):
    with pytest.raises(CameraError, match="no such file"):
        open_camera(str(tmp_path / "nope.mp4")).open()


def test_a_corrupt_video_file_is_a_camera_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video")
    with pytest.raises(CameraError, match="not a readable video"):
        open_camera(str(bad)).open()


def test_a_digit_string_means_a_device_index():
    assert Camera("1").source == 1
    assert not Camera("1").is_file
