"""The run-time model: the shipped default through LiteRT, and every way a folder can be bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emusify import paths
from emusify.config import EMOTIONS
from emusify.errors import ModelError
from emusify.sensing.classifier import EmotionModel, resolve_model_dir
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION

DEFAULT = paths.PROJECT_MODELS / "default"
FER_LABELS = list(EMOTIONS)  #: the default model's labels: FER2013's seven


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of the default model folder to break."""
    return Path(
        shutil.copytree(DEFAULT, tmp_path / "broken", ignore=shutil.ignore_patterns("*.keras"))
    )


def test_the_default_model_loads_by_name_and_predicts_probabilities():
    model = EmotionModel.load("default")
    assert model.folder == DEFAULT and model.name == "default"
    assert model.labels == FER_LABELS
    assert model.feature_version == FEATURE_VERSION
    x = np.random.default_rng(0).normal(size=(5, FEATURE_SIZE)).astype(np.float32)
    probs = model.predict(x)
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    # Batch size changes in both directions, and a single vector works too.
    np.testing.assert_allclose(model.predict(x[2]), probs[2:3], atol=1e-6)
    np.testing.assert_allclose(model.predict(x[:3]), probs[:3], atol=1e-6)
    assert model.predict(np.zeros((0, FEATURE_SIZE))).shape == (0, 7)


def test_vectors_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match=str(FEATURE_SIZE)):
        EmotionModel.load("default").predict(np.zeros((2, 10)))


def test_your_models_come_before_the_projects(private_home):
    mine = private_home / "data" / "models" / "default"
    shutil.copytree(DEFAULT, mine)
    assert resolve_model_dir("default") == mine
    assert EmotionModel.load("default").folder == mine
    assert EmotionModel.load(DEFAULT).folder == DEFAULT  # a path is taken as it is


def test_a_missing_model_names_where_it_looked(private_home, tmp_path):
    with pytest.raises(ModelError, match="model 'nobody' not found") as err:
        EmotionModel.load("nobody")
    assert str(private_home / "data" / "models" / "nobody") in str(err.value)
    assert str(paths.PROJECT_MODELS / "nobody") in str(err.value)
    with pytest.raises(ModelError, match="no such model folder"):
        EmotionModel.load(tmp_path / "nowhere")


def test_a_missing_or_corrupt_tflite_names_the_file(copy):
    tflite = copy / "emotion.tflite"
    tflite.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(ModelError, match="not a valid LiteRT model") as err:
        EmotionModel.load(copy)
    assert str(tflite) in str(err.value)
    tflite.write_bytes(b"")
    with pytest.raises(ModelError, match=r"emotion\.tflite"):
        EmotionModel.load(copy)
    tflite.unlink()
    with pytest.raises(ModelError, match=r"emotion\.tflite: missing"):
        EmotionModel.load(copy)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"labels": ["happy", "happy"], "feature_version": FEATURE_VERSION}),
            "distinct",
        ),
        ('["happy", "sad"]', "list of at least two"),
        (
            json.dumps({"labels": list("abcdef"), "feature_version": FEATURE_VERSION}),
            "names 6 labels",
        ),
        (
            json.dumps({"labels": FER_LABELS, "feature_version": FEATURE_VERSION + 1}),
            "features version",
        ),
    ],
)
def test_bad_labels_json_names_the_file(copy, content, message):
    (copy / "labels.json").write_text(content)
    with pytest.raises(ModelError, match=message) as err:
        EmotionModel.load(copy)
    assert "labels.json" in str(err.value)


def test_missing_labels_json(copy):
    (copy / "labels.json").unlink()
    with pytest.raises(ModelError, match=r"labels\.json: missing"):
        EmotionModel.load(copy)


def test_a_model_for_another_feature_size_is_refused(copy):
    import keras
    import tensorflow as tf

    inputs = keras.Input((FEATURE_SIZE - 4,))
    small = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(inputs))
    (copy / "emotion.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(small).convert())
    with pytest.raises(ModelError, match=f"features have {FEATURE_SIZE} values"):
        EmotionModel.load(copy)
