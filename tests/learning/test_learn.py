"""``emusify learn``: fine-tune on the person's sessions, keep the model only if it is better."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify import cli, paths
from emusify.config import load_config
from emusify.learning.samples import SessionWriter
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION, features_from_faces
from emusify.sensing.landmarks import LandmarkExtractor

FACES = Path(__file__).parent.parent / "assets" / "faces"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    """Landmarks of the three asset faces of each of two emotions."""
    with LandmarkExtractor() as ex:
        return {
            label: np.stack(
                [ex.extract(cv2.imread(str(FACES / f"{label}_{i}.png"))).face for i in range(3)]
            )
            for label in ("happy", "sad")
        }


def write_sessions(root: Path, faces, label_of: dict[str, str], copies: int = 50) -> None:
    """One session per asset face: noisy copies of its landmarks, saved under ``label_of``."""
    rng = np.random.default_rng(0)
    for source, label in label_of.items():
        for i, face in enumerate(faces[source]):
            noisy = face[None] + rng.normal(0, 0.8, (copies, *face.shape)).astype(np.float32)
            writer = SessionWriter(
                root,
                label,
                source=f"test faces {source}",
                feature_version=FEATURE_VERSION,
                feature_size=FEATURE_SIZE,
                started=T0 + timedelta(days=i, hours=len(label)),
            )
            for row in features_from_faces(noisy):
                writer.append(row)
            writer.save()


@pytest.mark.slow
def test_a_better_personal_model_is_kept_and_the_config_switched_to_it(faces, capsys):
    # A person whose smile the default model takes for sadness, and the other way round.
    write_sessions(paths.samples_dir(), faces, {"happy": "sad", "sad": "happy"})
    config = paths.user_config_path()
    load_config()  # the user's copy, as the first run makes it
    before = config.read_text()
    assert cli.main(["learn", "--epochs", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Kept the new model 'personal-" in out, out
    name = load_config().model
    assert name.startswith("personal-") and (paths.user_models_dir() / name).is_dir()
    assert config.read_text() == before.replace("\nmodel: default\n", f"\nmodel: {name}\n")
    scores = re.search(r"new model ([\d.]+)% right, current model 'default' ([\d.]+)%", out)
    assert scores and float(scores[1]) > float(scores[2]), out

    # Again on the same sessions: the new model cannot beat the one now in use.
    assert cli.main(["learn", "--epochs", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"'{name}' stays in use" in out, out
    assert not re.search(r"new model ([\d.]+)% right", out) or scores_not_better(out)
    assert load_config().model == name
    assert [p.name for p in paths.user_models_dir().iterdir()] == [name]


def test_too_few_sessions_say_what_to_collect(faces, capsys):
    write_sessions(paths.samples_dir(), {"happy": faces["happy"][:1]}, {"happy": "happy"})
    assert cli.main(["learn", "--quiet"]) == 2
    assert "emusify collect" in capsys.readouterr().err


def scores_not_better(out: str) -> bool:
    found = re.search(r"new model ([\d.]+)% right, current model '[^']+' ([\d.]+)%", out)
    return bool(found) and float(found[1]) <= float(found[2])
