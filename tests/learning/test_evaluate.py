"""``emusify evaluate``: figures over a labelled folder where a face not found counts as wrong."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.cli import main
from emusify.config import EMOTIONS
from emusify.learning.evaluate import evaluate_folder
from emusify.sensing.classifier import EmotionModel

FACES = Path(__file__).parent.parent / "assets" / "faces"
FER = Path(__file__).resolve().parents[3] / "shared" / "data" / "fer2013"
LABELS = list(EMOTIONS)  #: the default model's labels: FER2013's seven


@pytest.fixture
def images(tmp_path) -> Path:
    """All asset faces in <emotion>/ folders, a blank image in happy/, and a folder "bored"."""
    root = tmp_path / "images"
    for path in FACES.glob("*.png"):
        label = path.stem.rsplit("_", 1)[0]
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / label / path.name)
    cv2.imwrite(str(root / "happy" / "blank.png"), np.full((48, 48), 128, np.uint8))
    (root / "bored").mkdir()
    shutil.copy(FACES / "neutral_0.png", root / "bored")
    return root


def test_figures_count_a_missing_face_as_wrong(images):
    ev = evaluate_folder(EmotionModel.load("default"), images, workers=1, progress=False)
    assert ev.n == 22 and ev.detected == 21  # 21 faces and the blank image
    assert ev.skipped_folders == ["bored"]
    assert ev.detection_rate == pytest.approx(21 / 22)
    assert ev.accuracy == pytest.approx(ev.correct / 22)
    assert ev.accuracy_detected == pytest.approx(ev.correct / 21)
    assert ev.confusion.shape == (7, 8) and ev.confusion.sum() == 22
    assert ev.confusion[LABELS.index("happy"), -1] == 1  # the blank image: "no face"
    per_class = ev.per_class()
    assert per_class["happy"] <= 3 / 4  # happy: 4 images, at most the 3 faces right
    assert ev.correct == sum(
        round(per_class[k] * ev.confusion[i].sum()) for i, k in enumerate(LABELS)
    )
    report = ev.report()
    assert "detection rate" in report and "no face" in report and "bored" in report


def test_json_output_has_the_documented_keys(images, capsys):
    assert main(["evaluate", "--images", str(images), "--model", "default", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert {"n", "detection_rate", "accuracy", "accuracy_detected", "per_class"} <= out.keys()
    assert out["n"] == 22 and set(out["per_class"]) == set(LABELS)
    assert "bored" in captured.err


def test_text_output_and_the_cache_make_a_second_run_fast(images, private_home, capsys):
    assert main(["evaluate", "--images", str(images), "--model", "default"]) == 0
    first = capsys.readouterr().out
    assert "images:             22" in first and "confusion matrix" in first
    cache = list((private_home / "cache" / "landmarks").glob("*.npz"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    assert main(["evaluate", "--images", str(images), "--model", "default"]) == 0
    assert capsys.readouterr().out == first
    assert cache[0].stat().st_mtime_ns == stamp  # nothing new was extracted


def test_an_unreadable_image_is_one_clear_error(images, capsys):
    bad = images / "sad" / "truncated.jpg"
    bad.write_bytes((FACES / "sad_0.png").read_bytes()[:40])
    assert main(["evaluate", "--images", str(images), "--model", "default"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not a readable image" in err and "Traceback" not in err


def test_a_missing_model_or_folder_is_one_clear_error(images, tmp_path, capsys):
    assert main(["evaluate", "--images", str(images), "--model", str(tmp_path / "none")]) == 2
    assert f"{tmp_path / 'none'}: no such model folder" in capsys.readouterr().err
    assert main(["evaluate", "--images", str(tmp_path / "nothing"), "--model", "default"]) == 2
    assert "no such image folder" in capsys.readouterr().err


@pytest.mark.shared_data
@pytest.mark.skipif(not FER.is_dir(), reason="needs ../shared/data/fer2013")
def test_default_model_on_a_slice_of_the_fer2013_test_split(tmp_path):
    """A quick look on 30 unseen test faces per class (the full figure is in metrics.json)."""
    root = tmp_path / "slice"
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for path in sorted((FER / "test" / label).glob("*.jpg"))[-30:]:
            os.symlink(path, root / label / path.name)
    ev = evaluate_folder(EmotionModel.load("default"), root, progress=False)
    assert ev.detection_rate >= 0.9
    assert ev.accuracy >= 0.4
