"""How well a model recognises the faces of a labelled image folder, from the image on.

Every image counts: one where no face is found is a wrong answer in ``accuracy`` (and left
out of ``accuracy_detected``), because that is what the user gets. Folders whose name is not
one of the model's labels are reported and skipped. Landmarks come from the same cache as
training (keyed by the extractor version and each file's size and time), so a second
evaluation of a folder costs seconds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emusify.errors import DataError
from emusify.learning.dataset import extract_folder, list_images
from emusify.sensing.classifier import EmotionModel, average_views
from emusify.sensing.features import features_from_faces

log = logging.getLogger(__name__)

NO_FACE = "no face"


@dataclass
class Evaluation:
    model: str
    folder: str
    labels: list[str]
    n: int
    detected: int
    correct: int
    #: rows: true label, columns: predicted label and a last "no face" column
    confusion: np.ndarray
    skipped_folders: list[str] = field(default_factory=list)

    @property
    def detection_rate(self) -> float:
        return self.detected / self.n if self.n else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def accuracy_detected(self) -> float:
        return self.correct / self.detected if self.detected else 0.0

    def per_class(self) -> dict[str, float | None]:
        """Recall per label over all its images (no face found counts as missed)."""
        totals = self.confusion.sum(axis=1)
        return {
            label: (float(self.confusion[i, i] / totals[i]) if totals[i] else None)
            for i, label in enumerate(self.labels)
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "detection_rate": round(self.detection_rate, 4),
            "accuracy": round(self.accuracy, 4),
            "accuracy_detected": round(self.accuracy_detected, 4),
            "per_class": {
                k: (round(v, 4) if v is not None else None) for k, v in self.per_class().items()
            },
            "confusion": {
                "rows": self.labels,
                "columns": [*self.labels, NO_FACE],
                "counts": self.confusion.tolist(),
            },
            "model": self.model,
            "folder": self.folder,
            "skipped_folders": self.skipped_folders,
        }

    def report(self) -> str:
        """The figures and the confusion matrix as text for a terminal."""
        lines = [
            f"model {self.model} on {self.folder}",
            f"images:             {self.n}",
            f"detection rate:     {self.detection_rate:.3f}",
            f"accuracy:           {self.accuracy:.3f}  (no face found counts as wrong)",
            f"accuracy on faces:  {self.accuracy_detected:.3f}",
            "recall per class:",
        ]
        width = max(len(v) for v in [*self.labels, NO_FACE])
        for label, recall in self.per_class().items():
            text = "-" if recall is None else f"{recall:.3f}"
            lines.append(f"  {label:<{width}}  {text}")
        columns = [*self.labels, NO_FACE]
        cell = max(6, *(len(c) for c in columns))
        lines.append("confusion matrix (rows: true, columns: predicted):")
        lines.append(" " * (width + 2) + "".join(f"{c:>{cell + 1}}" for c in columns))
        for label, row in zip(self.labels, self.confusion, strict=True):
            lines.append(f"  {label:<{width}}" + "".join(f"{v:>{cell + 1}}" for v in row))
        for name in self.skipped_folders:
            lines.append(f"skipped folder {name!r}: not one of the model's labels")
        return "\n".join(lines)


def evaluate_folder(
    model: EmotionModel,
    root: str | os.PathLike[str],
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
) -> Evaluation:
    root = Path(root)
    folders = sorted({label for _, label in list_images(root)})
    skipped = [name for name in folders if name not in model.labels]
    for name in skipped:
        log.info("%s: folder %r is not one of the model's labels; skipped", root, name)
    if len(skipped) == len(folders):
        raise DataError(
            f"{root}: none of its folders ({', '.join(folders)}) is one of the model's labels "
            f"({', '.join(model.labels)})"
        )
    data = extract_folder(
        root, cache_dir=cache_dir, workers=workers, progress=progress, labels=model.labels
    )
    if data.unreadable:
        more = f" (and {len(data.unreadable) - 1} more)" if len(data.unreadable) > 1 else ""
        raise DataError(f"{data.unreadable[0]}: not a readable image{more}; fix or remove it")
    k = len(model.labels)
    truth = np.asarray([model.labels.index(v) for v in data.labels], dtype=np.int64)
    predicted = np.full(len(data), k, dtype=np.int64)  # k = "no face"
    found = data.found
    rows = data.view_found
    if rows.any():
        readings = model.predict(features_from_faces(data.faces[rows]))
        probs = average_views(readings, np.nonzero(rows)[0], len(data))
        predicted[found] = probs[found].argmax(axis=1)
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    return Evaluation(
        model=str(model.folder),
        folder=str(root),
        labels=list(model.labels),
        n=len(data),
        detected=int(found.sum()),
        correct=int((predicted == truth).sum()),
        confusion=confusion,
        skipped_folders=skipped,
    )
