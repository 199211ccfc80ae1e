"""A damaged model is refused at load, with the file named; never NaN in the status."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from damage import damage_largest_weights

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
    damage_largest_weights(folder / MODEL_FILE)
    return folder


def test_damaged_weights_that_still_load_are_refused_with_the_file_named(damaged):
    with pytest.raises(ModelError) as err:
        EmotionModel.load(damaged)
    message = str(err.value)
    assert str(damaged / MODEL_FILE) in message
    assert "other answers than when it was made" in message and "reference input" in message


def test_the_damaged_model_really_reads_faces_differently_without_the_check(damaged, monkeypatch):
    """The fault is real: skipping the check, the damaged weights give other readings."""
    x = np.random.default_rng(1).normal(size=(50, FEATURE_SIZE)).astype(np.float32)
    intact = EmotionModel.load("default").predict(x)
    monkeypatch.setattr(EmotionModel, "_check_reference", lambda self, file, expected: None)
    probs = EmotionModel.load(damaged).predict(x)
    assert np.abs(probs - intact).max() > 0.1


def test_the_shipped_model_passes_the_check():
    assert EmotionModel.load("default").labels


def test_detect_with_a_damaged_model_is_one_clear_line(damaged, capsys):
    from emusify import cli

    face = Path(__file__).parent.parent / "assets" / "faces" / "happy_0.png"
    assert cli.main(["detect", "--image", str(face), "--model", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emusify detect: error:") and "reference input" in err
    assert "Traceback" not in err
