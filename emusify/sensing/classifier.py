"""The run-time emotion model: a LiteRT ``emotion.tflite`` plus ``labels.json``, checked on load.

A model folder (``models/<name>/``) holds::

    emotion.tflite   feature vector [n, FEATURE_SIZE] -> probabilities [n, len(labels)]
    labels.json      {"labels": [...], "feature_version": 1, "feature_size": 2064}
    metrics.json     how it was trained and how well it scored (not needed to run)
    model.keras      the Keras weights, for fine-tuning only (not needed to run)

Everything the model needs is checked when it loads, so a broken folder fails at start-up with
the file named, never halfway through a window: also its answers, on a fixed reference input
(damaged weights still load, then give NaN for every frame). This module imports LiteRT,
never TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emusify import paths
from emusify.errors import ModelError
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION

log = logging.getLogger(__name__)

MODEL_FILE = "emotion.tflite"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"


def resolve_model_dir(name_or_path: str | os.PathLike[str]) -> Path:
    """A model folder from a name (your models first, then the project's) or a path."""
    text = os.fspath(name_or_path)
    if not text.strip():
        raise ModelError("no model given: name a model folder or give its path")
    candidate = Path(text).expanduser()
    is_name = candidate.name == text and text not in (".", "..")
    if is_name:
        for base in (paths.user_models_dir(), paths.PROJECT_MODELS):
            if (base / text).is_dir():
                return base / text
        raise ModelError(
            f"model {text!r} not found: looked for {paths.user_models_dir() / text} "
            f"and {paths.PROJECT_MODELS / text}"
        )
    if not candidate.is_dir():
        raise ModelError(f"{candidate}: no such model folder")
    return candidate


def read_labels(folder: Path) -> dict[str, Any]:
    """labels.json, checked: a non-empty list of distinct names and the feature layout."""
    file = folder / LABELS_FILE
    if not file.is_file():
        raise ModelError(f"{file}: missing (every model folder needs its labels)")
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{file}: not valid JSON ({exc})") from None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(v, str) and v for v in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ModelError(f"{file}: 'labels' must be a list of at least two distinct names")
    version = meta.get("feature_version")
    if version != FEATURE_VERSION:
        raise ModelError(
            f"{file}: the model was trained on features version {version}, this Emusify "
            f"computes version {FEATURE_VERSION}; retrain it (emusify train)"
        )
    return meta


@dataclass
class EmotionModel:
    """A loaded, checked model. ``predict`` is not thread-safe (one interpreter)."""

    folder: Path
    labels: list[str]
    feature_version: int
    _interpreter: Any
    _input: int
    _output: int
    _batch: int = 1

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str]) -> EmotionModel:
        folder = resolve_model_dir(name_or_path)
        meta = read_labels(folder)
        file = folder / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file}: missing (train a model with `emusify train`)")
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(file), num_threads=1)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{file}: not a valid LiteRT model ({exc})") from None
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{file}: expected one input and one output tensor")
        in_shape, out_shape = inputs[0]["shape"], outputs[0]["shape"]
        if len(in_shape) != 2 or in_shape[1] != FEATURE_SIZE:
            raise ModelError(
                f"{file}: the model takes inputs of shape {list(in_shape)}, but the features "
                f"have {FEATURE_SIZE} values; retrain it (emusify train)"
            )
        if len(out_shape) != 2 or out_shape[1] != len(meta["labels"]):
            raise ModelError(
                f"{file}: the model gives {out_shape[-1]} outputs but {folder / LABELS_FILE} "
                f"names {len(meta['labels'])} labels"
            )
        model = cls(
            folder=folder,
            labels=list(meta["labels"]),
            feature_version=int(meta["feature_version"]),
            _interpreter=interpreter,
            _input=inputs[0]["index"],
            _output=outputs[0]["index"],
            _batch=int(in_shape[0]),
        )
        model._check_reference(file, meta.get("reference_output"))
        log.debug("loaded model %s (%s)", folder, ", ".join(meta["labels"]))
        return model

    def _check_reference(self, file: Path, expected: Any = None) -> None:
        """Damaged weights load fine and give wrong answers for every frame: refuse them here.

        Every row of the reference input must give finite probabilities that sum to 1 (float
        weights overwritten give NaN), and, where labels.json keeps the answers the model gave
        when it was made (``reference_output``), those same answers (int8 weights overwritten
        give numbers, just wrong ones).
        """
        try:
            probs = self.predict(reference_input())
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{file}: the model fails on a reference input ({exc})") from None
        if not np.all(np.isfinite(probs)):
            problem = "values that are not numbers (NaN or infinite)"
        elif np.any(probs < -1e-6) or np.any(probs > 1 + 1e-6):
            problem = "values outside 0..1"
        elif not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
            problem = f"probabilities that sum to {float(probs.sum(axis=1)[0]):.3g}, not 1"
        elif expected is not None and (
            np.shape(expected) != probs.shape or not np.allclose(probs, expected, atol=1e-4)
        ):
            problem = "other answers than when it was made"
        else:
            return
        cause = (
            "its weights or labels.json are damaged"
            if expected is not None and problem.startswith("other answers")
            else "its weights are damaged or it does not end in softmax"
        )
        raise ModelError(
            f"{file}: the model gives {problem} for a reference input; {cause}. Restore the "
            "model folder or retrain (emusify train)"
        )

    @property
    def name(self) -> str:
        return self.folder.name

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities float32 [n, len(labels)] for feature vectors [n, FEATURE_SIZE]."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != FEATURE_SIZE:
            raise ValueError(f"expected features of shape [n, {FEATURE_SIZE}], got {x.shape}")
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if len(x) != self._batch:
            self._interpreter.resize_tensor_input(self._input, [len(x), FEATURE_SIZE])
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(x))
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)


def reference_input() -> np.ndarray:
    """The fixed batch a model is checked on at load: zeros and seeded normal vectors (about
    the scale of real features)."""
    rows = np.random.default_rng(0).normal(size=(3, FEATURE_SIZE)).astype(np.float32)
    return np.vstack([np.zeros((1, FEATURE_SIZE), np.float32), rows])


def average_views(probs: np.ndarray, picture: np.ndarray, n: int) -> np.ndarray:
    """float32 [n, k]: each picture's reading, the mean of the readings ``probs`` [m, k] of its
    views (``picture`` [m]: the picture each row belongs to; a picture without rows is 0)."""
    probs = np.asarray(probs, dtype=np.float64)
    total = np.zeros((n, probs.shape[1]))
    np.add.at(total, picture, probs)
    count = np.bincount(picture, minlength=n)[:, None]
    return (total / np.maximum(count, 1)).astype(np.float32)
