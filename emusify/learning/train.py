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

The network (``build_model``): the features are standardised and projected onto their
leading principal components, whitened (``projection`` of them, fitted on the training faces
and their mirror images; a fixed layer). The 2,064 features are highly redundant (256
components keep 99.99 % of their variance), and whitening lets the network see the small
expression-carrying directions as clearly as the large ones, so it learns better and costs
an eighth. Then a dense trunk (dense -> batch norm -> ReLU -> dropout, twice) scores the face
and its mirror image (``features.mirror_map``) and the two softmax outputs are averaged.
Mirroring makes use of the face's left/right symmetry without doubling the data. Several
such members (``members``), trained one after the other from different seeds, are averaged
too. All the averaging is part of the exported model, so the run-time prediction gets it for
free. Class weights (inverse frequency to the power ``class_weight_power``) help the rare
classes, label smoothing keeps the network from trusting FER2013's noisy labels too much,
early stopping on validation accuracy picks each member's epoch.

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
from emusify.sensing.classifier import (
    LABELS_FILE,
    METRICS_FILE,
    MODEL_FILE,
    EmotionModel,
    average_views,
    reference_input,
)
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
    #: int64 [n]: the picture each row is a view of; a picture is scored on the mean of its
    #: views' readings, as the recognizer reads a frame (None: every row a picture of its own)
    pictures: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.groups = np.asarray(self.groups)
        if self.pictures is None:
            self.pictures = np.arange(len(self.y), dtype=np.int64)
        self.pictures = np.asarray(self.pictures, dtype=np.int64)
        if self.x.ndim != 2 or self.x.shape[1] != FEATURE_SIZE:
            raise DataError(f"feature vectors must be [n, {FEATURE_SIZE}], got {self.x.shape}")
        if not (len(self.x) == len(self.y) == len(self.groups) == len(self.pictures)):
            raise DataError("x, y, groups and pictures must have the same length")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.labels)):
            raise DataError("a label index is out of range")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> TrainingData:
        return TrainingData(
            self.x[mask],
            self.y[mask],
            self.labels,
            self.groups[mask],
            self.info,
            self.pictures[mask],
        )

    def picture_readings(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels [pictures], readings [pictures, k]) from the readings of the rows."""
        _, first, inverse = np.unique(self.pictures, return_index=True, return_inverse=True)
        return self.y[first], average_views(probs, inverse, len(first))

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.y, minlength=len(self.labels))
        return {label: int(c) for label, c in zip(self.labels, n, strict=True)}

    def relabel(self, labels: list[str]) -> TrainingData:
        """The same rows with label indices into ``labels`` (which must hold every used one)."""
        missing = {self.labels[i] for i in np.unique(self.y)} - set(labels)
        if missing:
            raise DataError(f"labels {sorted(missing)} are not in {labels}")
        lookup = np.asarray([labels.index(v) if v in labels else -1 for v in self.labels])
        return TrainingData(
            self.x, lookup[self.y], list(labels), self.groups, self.info, self.pictures
        )


def combine(parts: list[TrainingData]) -> TrainingData:
    """One data set from several (e.g. an image folder and collected samples): the union of
    their labels; each part's groups are prefixed with its position so they stay apart."""
    if len(parts) == 1:
        return parts[0]
    labels = sorted({label for part in parts for label in part.labels})
    parts = [part.relabel(labels) for part in parts]
    groups = np.asarray([f"{i}:{g}" for i, part in enumerate(parts) for g in part.groups])
    offsets = np.cumsum([0] + [int(part.pictures.max(initial=-1)) + 1 for part in parts])
    return TrainingData(
        np.concatenate([part.x for part in parts]),
        np.concatenate([part.y for part in parts]),
        labels,
        groups,
        {"parts": [part.info for part in parts]},
        np.concatenate(
            [part.pictures + offset for part, offset in zip(parts, offsets[:-1], strict=True)]
        ),
    )


@dataclass
class TrainSettings:
    seed: int = 0
    validation_fraction: float = 0.15
    epochs: int = 80
    patience: int = 12
    batch_size: int = 256
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    hidden: tuple[int, ...] = (512, 256)
    dropout: float = 0.5
    input_noise: float = 0.15
    class_weight_power: float = 0.5
    label_smoothing: float = 0.1
    #: per-class probability factors are fitted so that every class reaches this validation
    #: recall where it can (0: no rebalancing)
    min_recall: float = 0.46
    mirror: bool = True
    projection: int = 256  #: whitened principal components fed to the trunk (0: none)
    members: int = 3  #: networks averaged in the exported model


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

    @keras.saving.register_keras_serializable(package="emusify")
    class ClassScale(keras.layers.Layer):
        """Probabilities times fixed per-class factors, renormalised (see ``rebalance``)."""

        def __init__(self, factors: list[float], **kwargs: Any):
            super().__init__(**kwargs)
            self.factors = [float(f) for f in factors]

        def call(self, p: Any) -> Any:
            scaled = p * keras.ops.convert_to_tensor(self.factors, dtype=p.dtype)
            return scaled / keras.ops.sum(scaled, axis=-1, keepdims=True)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "factors": self.factors}

    return {"MirrorFeatures": MirrorFeatures, "ClassScale": ClassScale}


def rebalance(y: np.ndarray, probs: np.ndarray, min_recall: float) -> np.ndarray:
    """Per-class factors on the probabilities that lift every class's validation recall to
    ``min_recall`` where that is possible, at the least cost in accuracy.

    The rarer, harder classes (fear in FER2013) are otherwise read as their look-alikes, and
    a mood that is never recognised cannot choose its music. Greedy: raise the factor of the
    class with the lowest recall by 5 % at a time (at most to 2), stop when all reach the
    floor or a step would cost more than a point of accuracy in total.
    """
    k = probs.shape[1]
    factors = np.ones(k)
    base = float((probs.argmax(axis=1) == y).mean())

    def recalls(f: np.ndarray) -> np.ndarray:
        pred = (probs * f).argmax(axis=1)
        return np.asarray([(pred[y == c] == c).mean() if (y == c).any() else 1.0 for c in range(k)])

    for _ in range(100):
        r = recalls(factors)
        worst = int(np.argmin(r))
        if r[worst] >= min_recall or factors[worst] >= 2.0:
            break
        trial = factors.copy()
        trial[worst] *= 1.05
        if base - float(((probs * trial).argmax(axis=1) == y).mean()) > 0.01:
            break
        factors = trial
    return factors


def fit_projection(x: np.ndarray, size: int, mirror: bool) -> tuple[np.ndarray, ...]:
    """(mean, variance, projection [FEATURE_SIZE, m]): standardisation and the whitened
    leading principal components of ``x`` (and its mirror images), m <= size."""
    if mirror:
        index, sign = mirror_map()
        x = np.concatenate([x, x[:, index] * sign])
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    variance = np.maximum(x.var(axis=0), 1e-6)
    if size <= 0:
        return mean, variance, np.eye(x.shape[1])
    z = (x - mean) / np.sqrt(variance)
    values, vectors = np.linalg.eigh(z.T @ z / len(z))
    order = np.argsort(values)[::-1][:size]
    order = order[values[order] > 1e-6 * values.max()]  # few rows: leave out empty directions
    return mean, variance, vectors[:, order] / np.sqrt(values[order])


def _member_layers(k: int, width: int, settings: TrainSettings, name: str) -> tuple[Any, Any]:
    """(trunk, head) of one member network."""
    import keras

    trunk = keras.Sequential(name=f"trunk{name}")
    trunk.add(keras.Input((width,)))
    trunk.add(keras.layers.GaussianNoise(settings.input_noise))
    for units in settings.hidden:
        trunk.add(keras.layers.Dense(units, use_bias=False))
        trunk.add(keras.layers.BatchNormalization())
        trunk.add(keras.layers.Activation("relu"))
        trunk.add(keras.layers.Dropout(settings.dropout))
    return trunk, keras.layers.Dense(k, activation="softmax", name=f"head{name}")


def _average(outputs: list[Any], name: str) -> Any:
    import keras

    return outputs[0] if len(outputs) == 1 else keras.layers.Average(name=name)(outputs)


def build_model(
    mean: np.ndarray,
    variance: np.ndarray,
    projection: np.ndarray,
    members: list[tuple[Any, Any]],
    mirror: bool,
    factors: np.ndarray | None = None,
) -> Any:
    """The Keras model [n, FEATURE_SIZE] -> probabilities [n, k] (see the module docstring)
    around already built member (trunk, head) layers."""
    import keras

    objects = _keras_objects()
    inputs = keras.Input((FEATURE_SIZE,), name="features")
    norm = keras.layers.Normalization(mean=mean, variance=variance, name="standardise")
    project = keras.layers.Dense(
        projection.shape[1], use_bias=False, trainable=False, name="project"
    )
    views = [inputs]
    if mirror:
        index, sign = mirror_map()
        views.append(
            objects["MirrorFeatures"](index.tolist(), sign.tolist(), name="mirror")(inputs)
        )
    projected = [project(norm(view)) for view in views]
    project.set_weights([np.asarray(projection, dtype=np.float32)])
    outputs = [head(trunk(z)) for trunk, head in members for z in projected]
    probs = _average(outputs, "average")
    if factors is not None and not np.allclose(factors, 1.0):
        probs = objects["ClassScale"](np.asarray(factors).tolist(), name="rebalance")(probs)
    return keras.Model(inputs, probs, name="emotion")


def _core_model(member: tuple[Any, Any], width: int, views: int) -> Any:
    """One member on already projected views (what is trained; fast, no fixed layers)."""
    import keras

    trunk, head = member
    inputs = [keras.Input((width,)) for _ in range(views)]
    return keras.Model(inputs, _average([head(trunk(z)) for z in inputs], "mirror_average"))


def _base_members(base_model: Any) -> list[tuple[Any, Any]]:
    names = [layer.name for layer in base_model.layers]
    return [
        (base_model.get_layer(name), base_model.get_layer("head" + name[len("trunk") :]))
        for name in names
        if name.startswith("trunk")
    ]


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

    index, sign = mirror_map()
    if base_model is not None:
        norm = base_model.get_layer("standardise")
        mean, variance = (np.asarray(v).reshape(-1) for v in (norm.mean, norm.variance))
        projection = np.asarray(base_model.get_layer("project").get_weights()[0])
        members = _base_members(base_model)
        if not (base_model.output_shape[-1] == k and labels == base_labels):
            members = [
                (trunk, keras.layers.Dense(k, activation="softmax", name=head.name))
                for trunk, head in members
            ]
        learning_rate = settings.fine_tune_learning_rate
    else:
        mean, variance, projection = fit_projection(train.x, settings.projection, settings.mirror)
        width = projection.shape[1]
        members = [
            _member_layers(k, width, settings, f"_{i}" if i else "")
            for i in range(settings.members)
        ]
        learning_rate = settings.learning_rate

    def views(x: np.ndarray) -> list[np.ndarray]:
        faces = [x, x[:, index] * sign] if settings.mirror else [x]
        z = [((v - mean) / np.sqrt(variance)) @ projection for v in faces]
        return [v.astype(np.float32) for v in z]

    train_views, val_views = views(train.x), views(validation.x)
    y_train = np.eye(k, dtype=np.float32)[train.y]
    y_val = np.eye(k, dtype=np.float32)[validation.y]
    weights = class_weights(train.y, k, settings.class_weight_power)
    epochs_run, best_epochs = [], []
    for i, member in enumerate(members):
        keras.utils.set_random_seed(settings.seed + i)
        core = _core_model(member, projection.shape[1], len(train_views))
        core.compile(
            optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=settings.weight_decay),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
            metrics=["accuracy"],
        )
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                patience=settings.patience,
                restore_best_weights=True,
                mode="max",
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss",
                factor=0.5,
                patience=max(3, settings.patience // 3),
                min_lr=1e-5,
            ),
        ]
        if progress and len(members) > 1:
            log.info("member %d of %d", i + 1, len(members))
        history = core.fit(
            train_views,
            y_train,
            validation_data=(val_views, y_val),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            class_weight=weights,
            callbacks=callbacks,
            verbose=2 if progress else 0,
            shuffle=True,
        )
        epochs_run.append(len(history.history["loss"]))
        best_epochs.append(int(np.argmax(history.history["val_accuracy"])) + 1)
    model = build_model(mean, variance, projection, members, settings.mirror)
    factors = np.ones(k)
    if settings.min_recall > 0:
        y_pictures, readings = validation.picture_readings(
            model.predict(validation.x, batch_size=1024, verbose=0)
        )
        factors = rebalance(y_pictures, readings, settings.min_recall)
        model = build_model(mean, variance, projection, members, settings.mirror, factors)
    y_pictures, readings = validation.picture_readings(
        model.predict(validation.x, batch_size=1024, verbose=0)
    )
    scores = score(y_pictures, readings, labels)

    private_dir(out_dir)  # 0700 when it is one of your models (your data folder)
    tflite_bytes = export_tflite(model, out_dir / MODEL_FILE)
    save_keras(model, out_dir / KERAS_FILE)
    write_labels(out_dir, labels)
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
            "best_epoch": best_epochs,
            "class_weights": {labels[i]: round(w, 4) for i, w in weights.items()},
            "class_factors": {labels[i]: round(float(f), 4) for i, f in enumerate(factors)},
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


def write_labels(out_dir: Path, labels: list[str]) -> None:
    """labels.json, with the answers the exported model gives for the reference input, so that
    damaged weights that still give probabilities are refused at load."""
    meta = {"labels": labels, "feature_version": FEATURE_VERSION, "feature_size": FEATURE_SIZE}
    file = out_dir / LABELS_FILE
    file.write_text(json.dumps(meta, indent=2) + "\n")
    probs = EmotionModel.load(out_dir).predict(reference_input())
    meta["reference_output"] = np.round(probs.astype(np.float64), 7).tolist()
    file.write_text(json.dumps(meta, indent=2) + "\n")


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
    """Write the LiteRT model (any batch size); returns its size in bytes.

    Weights are stored as int8 (dynamic-range quantization; activations stay float32): a
    frame's four views go through the network between MediaPipe's runs, which leave the caches
    cold, and a quarter of the bytes to fetch cut the call from 0.90 to 0.35 ms for four views
    (default model; readings within about 0.01 of float32).
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with contextlib.redirect_stdout(io.StringIO()) as dump:  # TensorFlow prints its signatures
        data = converter.convert()
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
    """Feature vectors of every view with a face of the images in ``root/<label>/`` (images
    without a face are left out and counted in ``info``); an image's views share its group
    and picture, so they stay on one side of a validation split and are scored together."""
    from emusify.learning.dataset import extract_folder

    folder = extract_folder(
        root, cache_dir=cache_dir, workers=workers, progress=progress, labels=labels
    )
    for path in folder.unreadable:
        log.warning("%s: not a readable image, skipped", path)
    names = labels or sorted(set(folder.labels))
    y = np.asarray([names.index(v) for v in folder.labels], dtype=np.int64)
    rows = folder.view_found
    image = np.nonzero(rows)[0]
    info = {
        "source": str(Path(root).resolve()),
        "images": len(folder),
        "faces_found": int(folder.found.sum()),
        "views_found": int(rows.sum()),
        "unreadable": len(folder.unreadable),
    }
    x = features_from_faces(folder.faces[rows]) if rows.any() else None
    if x is None:
        return TrainingData(
            np.zeros((0, FEATURE_SIZE), np.float32), y[:0], names, np.zeros(0, np.int64), info
        )
    return TrainingData(x, y[image], names, image, info, image)
