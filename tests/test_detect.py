"""``emusify detect``: a photo's emotion and a video's mood, and clear errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emusify import paths
from emusify.cli import main

ASSETS = Path(__file__).parent / "assets"


def test_a_photo_prints_its_emotion_and_confidence(capsys):
    image = ASSETS / "faces" / "happy_0.png"
    assert main(["detect", "--image", str(image)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{image}: happy (")


def test_several_photos_one_line_each(capsys):
    images = [str(ASSETS / "faces" / f"{e}_0.png") for e in ("happy", "surprise")]
    assert main(["detect", "--image", *images]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == images
    assert main(["detect", "--image", *images, "--json"]) == 0
    assert [json.loads(line)["image"] for line in capsys.readouterr().out.splitlines()] == images


def test_a_photo_as_json(capsys):
    assert main(["detect", "--image", str(ASSETS / "faces" / "surprise_0.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["face"] is True and out["emotion"] in out["probabilities"]
    assert out["confidence"] == max(out["probabilities"].values())


def test_a_photo_without_a_face(tmp_path, capsys):
    import cv2
    import numpy as np

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 200, np.uint8))
    assert main(["detect", "--image", str(blank)]) == 0
    assert capsys.readouterr().out.strip() == f"{blank}: no face found"


def test_a_video_prints_the_mood_and_the_tally(capsys):
    video = ASSETS / "happy_faces.mp4"
    assert main(["detect", "--video", str(video), "--fps", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{video}: happy in ") and "of 40 frames with a face" in lines[0]
    assert lines[1].startswith("  votes: happy ")


def test_a_video_as_json(capsys):
    video = ASSETS / "sad_faces.mp4"
    assert main(["detect", "--video", str(video), "--seconds", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"] in ("mood", "uncertain") and out["total_frames"] == 16  # 4 s at 4 fps
    assert sum(out["counts"].values()) == out["face_frames"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.jpg", "missing.jpg: no such image file"),
        (
            lambda d: _write(d / "photo.jpg", b"\xff\xd8\xff\xe0 cut short"),
            "photo.jpg: not a readable",
        ),
        (lambda d: _write(d / "notes.png", b"plain text"), "notes.png: not a readable image"),
    ],
)
def test_an_unreadable_photo_is_one_clear_error(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main(["detect", "--image", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_a_broken_model_is_one_clear_error(tmp_path, capsys):
    broken = Path(shutil.copytree(paths.PROJECT_MODELS / "default", tmp_path / "m"))
    (broken / "emotion.tflite").write_bytes(b"\x00" * 64)
    image = str(ASSETS / "faces" / "happy_0.png")
    assert main(["detect", "--image", image, "--model", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"{broken / 'emotion.tflite'}: not a valid LiteRT model" in err
    assert "Traceback" not in err
    assert main(["detect", "--image", image, "--model", str(tmp_path / "gone")]) == 2
    assert f"{tmp_path / 'gone'}: no such model folder" in capsys.readouterr().err


def test_a_missing_video_is_one_clear_error(tmp_path, capsys):
    assert main(["detect", "--video", str(tmp_path / "clip.mp4")]) == 2
    assert "clip.mp4: no such file" in capsys.readouterr().err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
