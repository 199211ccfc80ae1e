"""Training: real TensorFlow on real landmarks, exported to a real LiteRT model folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.cli import main
from emusify.learning.train import (
    TrainingData,
    TrainSettings,
    class_weights,
    split_by_group,
    train_model,
)
from emusify.sensing.classifier import EmotionModel
from emusify.sensing.features import features_from_faces
from emusify.sensing.landmarks import LandmarkExtractor

FACES = Path(__file__).parent.parent / "assets" / "faces"
FAST = TrainSettings(epochs=4, patience=4, hidden=(32, 16), batch_size=16)


@pytest.fixture(scope="module")
def face_rows() -> dict[str, np.ndarray]:
    """Landmarks [3, 478, 3] of the three asset faces of each of three emotions."""
    out = {}
    with LandmarkExtractor() as ex:
        for label in ("happy", "sad", "surprise"):
            faces = [ex.extract(cv2.imread(str(FACES / f"{label}_{i}.png"))) for i in range(3)]
            out[label] = np.stack([lm.face for lm in faces])
    return out


def jittered(face_rows, labels, copies=10, seed=0) -> TrainingData:
    """Each face plus noisy copies of its landmarks; the copies share the face's group."""
    rng = np.random.default_rng(seed)
    x, y, groups = [], [], []
    for k, label in enumerate(labels):
        source = face_rows[label if label in face_rows else "sad"]
        for i, face in enumerate(source):
            noisy = face[None] + rng.normal(0, 0.8, (copies, *face.shape)).astype(np.float32)
            x.append(features_from_faces(noisy))
            y += [k] * copies
            groups += [f"{label}{i}"] * copies
    return TrainingData(np.concatenate(x), np.asarray(y), list(labels), np.asarray(groups))


def test_validation_split_keeps_groups_whole_and_every_label_on_both_sides(face_rows):
    data = jittered(face_rows, ["happy", "sad", "surprise"])
    train, val = split_by_group(data, 0.34, seed=1)
    assert len(train) + len(val) == len(data)
    assert not set(train.groups) & set(val.groups)
    assert set(train.y) == set(val.y) == {0, 1, 2}


def test_rare_classes_weigh_more():
    y = np.asarray([0] * 90 + [1] * 10)
    full = class_weights(y, 2, power=1.0)
    assert full[1] == pytest.approx(9 * full[0])
    half = class_weights(y, 2, power=0.5)
    assert half[1] == pytest.approx(3 * half[0])
    assert 0.9 * half[0] + 0.1 * half[1] == pytest.approx(1.0)  # mean weight per row is 1


def test_training_writes_a_complete_model_folder_that_litert_runs(face_rows, tmp_path):
    import keras

    data = jittered(face_rows, ["happy", "sad", "surprise"])
    out = tmp_path / "m"
    result = train_model(data, out, settings=FAST, command="test", progress=False)
    for name in ("emotion.tflite", "labels.json", "metrics.json", "model.keras", "confusion.png"):
        assert (out / name).is_file(), name
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    assert {"data", "sizes", "scores", "date", "settings", "command"} <= metrics.keys()
    assert metrics["data"]["train"]["rows"] + metrics["data"]["validation"]["rows"] == len(data)
    assert 0 <= metrics["scores"]["validation"]["accuracy"] <= 1

    model = EmotionModel.load(out)
    assert model.labels == ["happy", "sad", "surprise"]
    probs = model.predict(data.x[:7])
    assert probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    keras_model = keras.saving.load_model(out / "model.keras", compile=False)
    # The same network, its weights stored as int8 in the .tflite (export_tflite).
    np.testing.assert_allclose(probs, keras_model(data.x[:7]).numpy(), atol=0.1)


def test_fine_tuning_keeps_the_trunk_and_can_add_a_label(face_rows, tmp_path):
    import keras

    base = train_model(
        jittered(face_rows, ["happy", "sad", "surprise"]),
        tmp_path / "base",
        settings=FAST,
        progress=False,
    ).out_dir
    personal = jittered(face_rows, ["happy", "sad", "tired"], seed=1)  # "tired": new label
    out = tmp_path / "personal"
    result = train_model(personal, out, base=base, settings=FAST, progress=False)
    assert result.metrics["data"]["base"] == str(base)
    model = EmotionModel.load(out)
    assert model.labels == ["happy", "sad", "tired"]
    assert model.predict(personal.x[:2]).shape == (2, 3)
    # Same labels in another order: the base's order and output layer are kept.
    same = jittered(face_rows, ["surprise", "happy", "sad"], seed=2)
    again = train_model(same, tmp_path / "again", base=base, settings=FAST, progress=False)
    assert EmotionModel.load(again.out_dir).labels == ["happy", "sad", "surprise"]
    base_trunk = keras.saving.load_model(base / "model.keras", compile=False)
    assert base_trunk.get_layer("trunk").count_params() == (
        keras.saving.load_model(out / "model.keras", compile=False)
        .get_layer("trunk")
        .count_params()
    )


def test_train_command_from_an_image_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path / "home"))
    images = tmp_path / "images"
    for label in ("happy", "surprise"):
        (images / label).mkdir(parents=True)
        for i in range(3):
            shutil.copy(FACES / f"{label}_{i}.png", images / label)
    monkeypatch.setattr(sys, "argv", ["emusify", "train"])
    args = ["--name", "mine", "--epochs", "2", "--workers", "1", "--validation-fraction", "0.34"]
    code = main(["train", "--images", str(images), *args, "--quiet"])
    assert code == 0
    out = tmp_path / "home" / "data" / "models" / "mine"
    printed = capsys.readouterr().out
    assert "model written to" in printed
    config = tmp_path / "home" / "config" / "config.yaml"
    assert f"To use it, set `model: mine` in {config}" in printed
    assert EmotionModel.load("mine").folder == out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["train"]["images"] == 6
    # The landmark cache went to the cache folder: a second run extracts nothing.
    assert list((tmp_path / "home" / "cache" / "landmarks").glob("*.npz"))


def test_train_command_reports_a_missing_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path / "home"))
    assert main(["train", "--images", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "nope: no such image folder" in capsys.readouterr().err


def test_without_the_train_extra_the_command_says_what_to_install_before_any_work(
    private_home, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if it were not installed
    assert main(["train", "--images", str(FACES.parent), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "training needs the 'train' extra (tensorflow is not installed)" in err
    assert "pip install -e '.[train]'" in err
    assert not (private_home / "cache").exists()  # no landmark was extracted


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--images", "nowhere"], "--images nowhere: no such image folder"),
        (["--samples"], "no collected samples in"),
        (["--images", ".", "--base", "nosuchmodel"], "model 'nosuchmodel' not found"),
        (["--images", ".", "--epochs", "0"], "--epochs 0: use a whole number >= 1"),
    ],
)
def test_wrong_arguments_are_said_before_tensorflow_loads(tmp_path, argv, message):
    code = (
        "import sys; from emusify import cli; rc = cli.main(sys.argv[1:]); "
        "print('tensorflow' in sys.modules); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "train", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stdout.strip() == "False"
