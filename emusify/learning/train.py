"""Training: feature vectors -> a Keras dense network -> a LiteRT model folder.

The core is ``train_model(TrainingData, out_dir, ...)``; where the vectors come from is the
caller's business. ``images_training_data`` builds them from a labelled image folder (every
image is its own group); the collection side (``emusify collect``) builds them from a
person's saved samples, with one group per recording session, so that the validation split
never holds frames of a session the model was trained on.

Fine-tuning: pass ``base=<model folder>``. Its ``model.keras`` (shipped in every model folder
for this) gives the starting weights and the input standardisation, and training continues at
``fine_tune_learning_rate``. With the same label set the base's output layer is kept too; with
other labels (a person adds "tired", or records only three emotions) a new output layer is
trained on top of the base's hidden layers. For a person's samples::

    data = TrainingData(x, y, labels, groups=session_ids, info={"source": "samples"})
    train_model(data, paths.user_models_dir() / "personal", base=resolve_model_dir("default"))

The network (``build_model``): the features are standardised, then a shared dense trunk
(dense -> batch norm -> ReLU -> dropout, twice) scores the face and its mirror image
(``features.mirror_map``) and the two softmax outputs are averaged. Mirroring makes use of
the face's left/right symmetry without doubling the data, and the averaging is part of the
exported model, so the run-time prediction gets it for free. Class weights
(inverse frequency to the power ``class_weight_power``) help the rare classes;
early stopping on validation accuracy picks the epoch.

This module is the only one that imports TensorFlow, and only inside functions.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import logging
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emusify.errors import DataError, EmusifyError, ModelError
from emusify.files import private_dir
from emusify.sensing.classifier import LABELS_FILE, METRICS_FILE, MODEL_FILE
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION, features_from_faces, mirror_map
from emusify.sensing.landmarks import EXTRACTOR_VERSION

log = logging.getLogger(__name__)

KERAS_FILE = "model.keras"
CONFUSION_FILE = "confusion.png"


@dataclass
class TrainingData:
    """Labelled feature vectors. ``groups`` keeps related rows (one session) on one side of a
    validation split; for an image folder each image is its own group."""

    x: np.ndarray  #: float32 [n, FEATURE_SIZE]
    y: np.ndarray  #: int64 [n], index into labels
    labels: list[str]
    groups: np.ndarray  #: [n] group ids (any hashable dtype)
    info: dict[str, Any] = field(default_factory=dict)  #: where it came from, for metrics.json

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.groups = np.asarray(self.groups)
        if self.x.ndim != 2 or self.x.shape[1] != FEATURE_SIZE:
            raise DataError(f"feature vectors must be [n, {FEATURE_SIZE}], got {self.x.shape}")
        if not (len(self.x) == len(self.y) == len(self.groups)):
            raise DataError("x, y and groups must have the same length")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.labels)):
            raise DataError("a label index is out of range")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> TrainingData:
        return TrainingData(self.x[mask], self.y[mask], self.labels, self.groups[mask], self.info)

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.y, minlength=len(self.labels))
        return {label: int(c) for label, c in zip(self.labels, n, strict=True)}

    def relabel(self, labels: list[str]) -> TrainingData:
        """The same rows with label indices into ``labels`` (which must hold every used one)."""
        missing = {self.labels[i] for i in np.unique(self.y)} - set(labels)
        if missing:
            raise DataError(f"labels {sorted(missing)} are not in {labels}")
        lookup = np.asarray([labels.index(v) if v in labels else -1 for v in self.labels])
        return TrainingData(self.x, lookup[self.y], list(labels), self.groups, self.info)


def combine(parts: list[TrainingData]) -> TrainingData:
    """One data set from several (e.g. an image folder and collected samples): the union of
    their labels; each part's groups are prefixed with its position so they stay apart."""
    if len(parts) == 1:
        return parts[0]
    labels = sorted({label for part in parts for label in part.labels})
    parts = [part.relabel(labels) for part in parts]
    groups = np.asarray([f"{i}:{g}" for i, part in enumerate(parts) for g in part.groups])
    return TrainingData(
        np.concatenate([part.x for part in parts]),
        np.concatenate([part.y for part in parts]),
        labels,
        groups,
        {"parts": [part.info for part in parts]},
    )


@dataclass
class TrainSettings:
    seed: int = 0
    validation_fraction: float = 0.15
    epochs: int = 200
    patience: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    hidden: tuple[int, ...] = (512, 256)
    dropout: float = 0.5
    input_noise: float = 0.15
    class_weight_power: float = 0.5
    mirror: bool = True


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]


def require_training_packages() -> None:
    """Fail before the long landmark extraction, not after it, when the train extra is absent."""
    try:
        import matplotlib  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise EmusifyError(
            f"training needs the 'train' extra ({exc.name} is not installed): "
            "pip install -e '.[train]' in the Emusify folder, or ./setup.sh --dev"
        ) from None


def split_by_group(
    data: TrainingData, fraction: float, seed: int
) -> tuple[TrainingData, TrainingData]:
    """(train, validation), stratified by label, whole groups on one side."""
    rng = np.random.default_rng(seed)
    groups, first = np.unique(data.groups, return_index=True)
    group_label = data.y[first]
    val_groups: list[Any] = []
    for label in np.unique(group_label):
        members = groups[group_label == label]
        n_val = round(len(members) * fraction)
        n_val = min(max(n_val, 1), len(members) - 1) if len(members) > 1 else 0
        val_groups.extend(rng.permutation(members)[:n_val])
    is_val = np.isin(data.groups, np.asarray(val_groups))
    return data.subset(~is_val), data.subset(is_val)


def class_weights(y: np.ndarray, k: int, power: float) -> dict[int, float]:
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    weights = np.zeros(k)
    weights[present] = (counts[present].sum() / (present.sum() * counts[present])) ** power
    weights[present] /= (weights[present] * counts[present]).sum() / counts[present].sum()
    return {i: float(w) for i, w in enumerate(weights)}


def _keras_objects() -> dict[str, Any]:
    """The custom layer, defined lazily so that importing this module needs no TensorFlow."""
    import keras

    @keras.saving.register_keras_serializable(package="emusify")
    class MirrorFeatures(keras.layers.Layer):
        """The feature vector of the mirrored face: a fixed gather and sign flip."""

        def __init__(self, index: list[int], sign: list[float], **kwargs: Any):
            super().__init__(**kwargs)
            self.index = [int(i) for i in index]
            self.sign = [float(s) for s in sign]

        def call(self, x: Any) -> Any:
            index = keras.ops.convert_to_tensor(self.index, dtype="int32")
            sign = keras.ops.convert_to_tensor(self.sign, dtype=x.dtype)
            return keras.ops.take(x, index, axis=1) * sign

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "index": self.index, "sign": self.sign}

    return {"MirrorFeatures": MirrorFeatures}


def build_model(
    k: int,
    settings: TrainSettings,
    mean: np.ndarray,
    variance: np.ndarray,
    trunk: Any = None,
) -> Any:
    """The Keras model [n, FEATURE_SIZE] -> probabilities [n, k] (see the module docstring)."""
    import keras

    mirror_layer = _keras_objects()["MirrorFeatures"]
    inputs = keras.Input((FEATURE_SIZE,), name="features")
    norm = keras.layers.Normalization(mean=mean, variance=variance, name="standardise")
    if trunk is None:
        trunk = keras.Sequential(name="trunk")
        trunk.add(keras.Input((FEATURE_SIZE,)))
        trunk.add(keras.layers.GaussianNoise(settings.input_noise))
        for units in settings.hidden:
            trunk.add(keras.layers.Dense(units, use_bias=False))
            trunk.add(keras.layers.BatchNormalization())
            trunk.add(keras.layers.Activation("relu"))
            trunk.add(keras.layers.Dropout(settings.dropout))
    head = keras.layers.Dense(k, activation="softmax", name="head")
    probs = head(trunk(norm(inputs)))
    if settings.mirror:
        index, sign = mirror_map()
        mirrored = mirror_layer(index.tolist(), sign.tolist(), name="mirror")(inputs)
        probs = keras.layers.Average(name="mirror_average")([probs, head(trunk(norm(mirrored)))])
    return keras.Model(inputs, probs, name="emotion")


def _load_base(base: Path) -> Any:
    import keras

    file = Path(base) / KERAS_FILE
    if not file.is_file():
        raise ModelError(f"{file}: missing, so {base} cannot be fine-tuned")
    _keras_objects()
    try:
        return keras.saving.load_model(file, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelError(f"{file}: cannot be loaded ({exc})") from None


def train_model(
    train: TrainingData,
    out_dir: str | os.PathLike[str],
    *,
    validation: TrainingData | None = None,
    base: str | os.PathLike[str] | None = None,
    settings: TrainSettings | None = None,
    command: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train, pick the best epoch on the validation data, and write the model folder.

    Without ``validation`` a group-wise split of ``train`` is held out.
    """
    import keras
    import tensorflow as tf

    settings = settings or TrainSettings()
    out_dir = Path(out_dir)
    keras.utils.set_random_seed(settings.seed)
    base_model = _load_base(Path(base)) if base else None
    labels = list(train.labels)
    if base_model is not None:
        base_labels = json.loads((Path(base) / LABELS_FILE).read_text())["labels"]
        if set(base_labels) == set(labels):
            labels = list(base_labels)  # keep the base's order and its output layer
    train = train.relabel(labels)
    if validation is None:
        train, validation = split_by_group(train, settings.validation_fraction, settings.seed)
    else:
        validation = validation.relabel(labels)
    if len(train) == 0 or len(validation) == 0:
        raise DataError("not enough data: training and validation both need examples")
    k = len(labels)

    if base_model is not None:
        norm = base_model.get_layer("standardise")
        mean, variance = (np.asarray(v).reshape(-1) for v in (norm.mean, norm.variance))
        same_head = base_model.output_shape[-1] == k and labels == base_labels
        model = build_model(k, settings, mean, variance, trunk=base_model.get_layer("trunk"))
        if same_head:
            model.get_layer("head").set_weights(base_model.get_layer("head").get_weights())
        learning_rate = settings.fine_tune_learning_rate
    else:
        mean = train.x.mean(axis=0)
        variance = np.maximum(train.x.var(axis=0), 1e-6)
        model = build_model(k, settings, mean, variance)
        learning_rate = settings.learning_rate
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=settings.weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    weights = class_weights(train.y, k, settings.class_weight_power)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            patience=settings.patience,
            restore_best_weights=True,
            mode="max",
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=max(3, settings.patience // 3), min_lr=1e-5
        ),
    ]
    history = model.fit(
        train.x,
        train.y,
        validation_data=(validation.x, validation.y),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        class_weight=weights,
        callbacks=callbacks,
        verbose=2 if progress else 0,
        shuffle=True,
    )
    val_probs = model.predict(validation.x, batch_size=1024, verbose=0)
    scores = score(validation.y, val_probs, labels)
    epochs_run = len(history.history["loss"])
    best_epoch = int(np.argmax(history.history["val_accuracy"])) + 1

    private_dir(out_dir)  # 0700 when it is one of your models (your data folder)
    tflite_bytes = export_tflite(model, out_dir / MODEL_FILE)
    save_keras(model, out_dir / KERAS_FILE)
    (out_dir / LABELS_FILE).write_text(
        json.dumps(
            {"labels": labels, "feature_version": FEATURE_VERSION, "feature_size": FEATURE_SIZE},
            indent=2,
        )
        + "\n"
    )
    save_confusion_png(
        np.asarray(scores["confusion"]),
        labels,
        out_dir / CONFUSION_FILE,
        f"{out_dir.name}: validation, accuracy {scores['accuracy']:.3f}",
    )
    metrics = {
        "model": out_dir.name,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "data": {
            "train": {**train.info, "rows": len(train), "per_class": train.counts()},
            "validation": {
                **validation.info,
                "rows": len(validation),
                "per_class": validation.counts(),
            },
            "base": str(base) if base else None,
        },
        "sizes": {
            "feature_size": FEATURE_SIZE,
            "feature_version": FEATURE_VERSION,
            "extractor_version": EXTRACTOR_VERSION,
            "parameters": int(model.count_params()),
            "tflite_bytes": tflite_bytes,
        },
        "scores": {"validation": scores},
        "training": {
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "class_weights": {labels[i]: round(w, 4) for i, w in weights.items()},
        },
        "settings": asdict(settings),
        "software": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
        },
    }
    write_metrics(out_dir, metrics)
    log.info("wrote %s (validation accuracy %.3f)", out_dir, scores["accuracy"])
    return TrainResult(out_dir, metrics)


def write_metrics(out_dir: Path, metrics: dict[str, Any]) -> None:
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")


def score(y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, per-class recall and the confusion matrix (rows: truth, columns: predicted)."""
    k = len(labels)
    pred = np.asarray(probs).argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    totals = confusion.sum(axis=1)
    recall = {
        labels[i]: (round(float(confusion[i, i] / totals[i]), 4) if totals[i] else None)
        for i in range(k)
    }
    return {
        "n": len(y),
        "accuracy": round(float((pred == y).mean()), 4) if len(y) else 0.0,
        "per_class": recall,
        "confusion": confusion.tolist(),
    }


def export_tflite(model: Any, file: Path) -> int:
    """Write the LiteRT model (float32, any batch size); returns its size in bytes."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()) as dump:  # TensorFlow prints its signatures
        data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    log.debug("LiteRT conversion: %s", dump.getvalue().strip())
    file.write_bytes(data)
    return len(data)


def save_keras(model: Any, file: Path) -> None:
    """The weights for fine-tuning, without the optimizer state (a third of the size)."""
    import keras

    clone = keras.Model.from_config(model.get_config())  # same layer names, not compiled
    clone.set_weights(model.get_weights())
    clone.save(file)


def save_confusion_png(confusion: np.ndarray, labels: list[str], file: Path, title: str) -> None:
    """A confusion matrix (row-normalised colours, counts written in) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.6 + 0.75 * len(labels)))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{confusion[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if share[i, j] > 0.5 else "black",
            )
    fig.tight_layout()
    fig.savefig(file, dpi=100)
    plt.close(fig)


def images_training_data(
    root: str | os.PathLike[str],
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
    labels: list[str] | None = None,
) -> TrainingData:
    """Feature vectors of the faces found in ``root/<label>/`` (images without a face are left
    out and counted in ``info``)."""
    from emusify.learning.dataset import extract_folder

    folder = extract_folder(
        root, cache_dir=cache_dir, workers=workers, progress=progress, labels=labels
    )
    for path in folder.unreadable:
        log.warning("%s: not a readable image, skipped", path)
    found = folder.found
    names = labels or sorted(set(folder.labels))
    y = np.asarray([names.index(v) for v in folder.labels], dtype=np.int64)
    x = (
        features_from_faces(folder.faces[found])
        if found.any()
        else np.zeros((0, FEATURE_SIZE), np.float32)
    )
    info = {
        "source": str(Path(root).resolve()),
        "images": len(folder),
        "faces_found": int(found.sum()),
        "unreadable": len(folder.unreadable),
    }
    return TrainingData(x, y[found], names, np.flatnonzero(found), info)
