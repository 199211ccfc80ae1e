"""A damaged model is refused at load, with the file named; never NaN in the status."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from damage import nan_largest_weights

from emusify import paths
from emusify.errors import ModelError
from emusify.sensing.classifier import MODEL_FILE, EmotionModel
from emusify.sensing.features import FEATURE_SIZE

DEFAULT = paths.PROJECT_MODELS / "default"


@pytest.fixture
def damaged(tmp_path) -> Path:
    """The default model with its largest weight block overwritten: same size, loads fine."""
    folder = Path(
        shutil.copytree(DEFAULT, tmp_path / "damaged", ignore=shutil.ignore_patterns("*.keras"))
    )
    nan_largest_weights(folder / MODEL_FILE)
    return folder


def test_damaged_weights_that_still_load_are_refused_with_the_file_named(damaged):
    with pytest.raises(ModelError) as err:
        EmotionModel.load(damaged)
    message = str(err.value)
    assert str(damaged / MODEL_FILE) in message
    assert "NaN" in message and "reference input" in message


def test_the_damaged_model_really_gives_nan_without_the_check(damaged, monkeypatch):
    """The fault is real: skipping the check, every output is NaN."""
    monkeypatch.setattr(EmotionModel, "_check_reference", lambda self, file: None)
    probs = EmotionModel.load(damaged).predict(np.zeros((2, FEATURE_SIZE), np.float32))
    assert np.isnan(probs).all()


def test_the_shipped_model_passes_the_check():
    assert EmotionModel.load("default").labels


def test_detect_with_a_damaged_model_is_one_clear_line(damaged, capsys):
    from emusify import cli

    face = Path(__file__).parent.parent / "assets" / "faces" / "happy_0.png"
    assert cli.main(["detect", "--image", str(face), "--model", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emusify detect: error:") and "reference input" in err
    assert "Traceback" not in err
