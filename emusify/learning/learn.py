"""``emusify learn``: a personal model from everything collected and corrected, kept only if
it recognises the person better than the model in use.

The person's sample sessions (``emusify collect`` and, with learning on, the checks they
corrected) are split by session: some are held out and never trained on. The default model is
fine-tuned on the rest through the one training path (``train.train_model``), then both the
new model and the current one (the config's ``model:``) are scored on the held-out sessions.
Only a strictly better new model is kept: it goes to the user's models folder and the
config's ``model:`` line is switched to it (nothing else in the file changes). A model that
is not better is deleted and the config is left alone.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from emusify import paths
from emusify.errors import DataError

log = logging.getLogger(__name__)

#: Share of each emotion's sessions held out to compare the models (at least one session).
HOLDOUT_FRACTION = 0.3
#: The model a personal one is fine-tuned from.
BASE_MODEL = "default"


@dataclass(frozen=True)
class LearnResult:
    candidate: str  #: the new model's folder name
    current: str  #: the model the config used
    new_accuracy: float
    current_accuracy: float
    held_out_sessions: int
    held_out_faces: int
    kept: bool
    config_path: Path | None


def accuracy(model, x: np.ndarray, y: np.ndarray, labels: list[str]) -> float:
    """Share of rows whose predicted label name is the true one (labels the model lacks miss)."""
    if len(y) == 0:
        return 0.0
    predicted = np.asarray(model.labels)[model.predict(x).argmax(axis=1)]
    return float((predicted == np.asarray(labels)[y]).mean())


def learn(
    config_path: Path | None,
    current_model: str,
    *,
    samples_root: Path | None = None,
    settings=None,
    progress: bool = True,
) -> LearnResult:
    from emusify.config_file import set_key
    from emusify.learning.samples import samples_training_data
    from emusify.learning.train import (
        TrainSettings,
        require_training_packages,
        split_by_group,
        train_model,
    )
    from emusify.sensing.classifier import EmotionModel, resolve_model_dir

    require_training_packages()
    settings = settings or TrainSettings()
    data = samples_training_data(samples_root)
    train, held_out = split_by_group(data, HOLDOUT_FRACTION, settings.seed)
    if len(held_out) == 0 or len(train) == 0:
        raise DataError("not enough sessions to hold some out: collect each emotion twice")
    # Early stopping needs data of its own; the held-out sessions must stay unseen, so it
    # uses a further split of the training sessions, or, when they are too few, themselves.
    fit, stop_on = split_by_group(train, settings.validation_fraction, settings.seed)
    if len(stop_on) == 0 or len(fit) == 0:
        fit, stop_on = train, train
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = paths.user_models_dir() / f"personal-{stamp}"
    train_model(
        fit,
        out,
        validation=stop_on,
        base=resolve_model_dir(BASE_MODEL),
        settings=settings,
        command="emusify learn",
        progress=progress,
    )
    new = accuracy(EmotionModel.load(out), held_out.x, held_out.y, held_out.labels)
    old = accuracy(EmotionModel.load(current_model), held_out.x, held_out.y, held_out.labels)
    kept = new > old
    result = LearnResult(
        candidate=out.name,
        current=current_model,
        new_accuracy=new,
        current_accuracy=old,
        held_out_sessions=len(set(held_out.groups.tolist())),
        held_out_faces=len(held_out),
        kept=kept,
        config_path=config_path,
    )
    if kept:
        if config_path is not None:
            set_key(config_path, "model", out.name)
        log.info("kept %s (%.3f > %.3f on held-out sessions)", out.name, new, old)
    else:
        shutil.rmtree(out)
        log.info("dropped %s (%.3f <= %.3f on held-out sessions)", out.name, new, old)
    return result
