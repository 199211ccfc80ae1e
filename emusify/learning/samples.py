"""A person's own landmark samples: one file per collection session, never overwritten.

Layout under the samples directory (``paths.samples_dir()`` unless given)::

    <emotion>/<started UTC>-<random id>.npz    features float32 [n, size] + JSON metadata

Every write goes to a temporary file beside the target, is flushed to disk, and only then
takes the target name: the first save of a session claims a name that does not exist yet
(``os.link`` fails rather than replace), later checkpoints of the *same* session atomically
replace that session's own file with a longer one. So a full disk, a crash or a kill at any
moment leaves every earlier file complete and readable. Only feature vectors are stored, never
an image.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emusify import __version__, paths
from emusify.errors import DataError
from emusify.files import private_dir

if TYPE_CHECKING:
    from emusify.learning.train import TrainingData

log = logging.getLogger(__name__)

#: Layout of one sample file; bump when the keys below change.
FILE_FORMAT = 1
SUFFIX = ".npz"
TMP_SUFFIX = ".tmp"
#: Emotion (folder) names: lower-case word characters, so a name can never escape the folder.
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_STAMP = "%Y%m%dT%H%M%SZ"


def check_emotion_name(name: str) -> str:
    """The normalised (lower-case) emotion name, or DataError for a name unfit for a folder."""
    norm = name.strip().lower()
    if not _NAME.match(norm):
        raise DataError(
            f"{name!r} cannot be an emotion name: use a lower-case word of letters, digits, "
            "'-' or '_' (up to 32 characters, starting with a letter), e.g. 'happy' or 'calm'"
        )
    return norm


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SessionInfo:
    """What one session file says about itself (its features are loaded separately)."""

    path: Path
    emotion: str
    count: int
    feature_version: int
    feature_size: int
    source: str  #: the camera or video the samples came from
    started: datetime
    ended: datetime
    app_version: str

    @property
    def session_id(self) -> str:
        return self.path.name[: -len(SUFFIX)]


@dataclass(frozen=True)
class Session:
    info: SessionInfo
    features: np.ndarray  #: float32 [count, feature_size]


@dataclass(frozen=True)
class SampleProblem:
    """A file that could not be used, and why (shown by the listing; never fatal there)."""

    path: Path
    message: str


@dataclass
class Inventory:
    root: Path
    sessions: list[SessionInfo] = field(default_factory=list)
    problems: list[SampleProblem] = field(default_factory=list)

    def by_emotion(self) -> dict[str, list[SessionInfo]]:
        out: dict[str, list[SessionInfo]] = {}
        for info in sorted(self.sessions, key=lambda s: (s.emotion, s.started, s.session_id)):
            out.setdefault(info.emotion, []).append(info)
        return out


# --- writing ------------------------------------------------------------------------------


class SessionWriter:
    """Collects one session's vectors in memory and saves them atomically on request.

    Nothing touches the disk before the first ``save()``. The in-memory samples survive a
    failed save, so the caller can retry (a later checkpoint) or tell the user what was lost.
    """

    def __init__(
        self,
        root: Path,
        emotion: str,
        *,
        source: str,
        feature_version: int,
        feature_size: int,
        started: datetime | None = None,
    ):
        self.root = Path(root)
        self.emotion = check_emotion_name(emotion)
        self.source = source
        self.feature_version = int(feature_version)
        self.feature_size = int(feature_size)
        self.started = started or _utc_now()
        self._rows: list[np.ndarray] = []
        self._path: Path | None = None
        self._saved = 0

    @property
    def folder(self) -> Path:
        return self.root / self.emotion

    @property
    def path(self) -> Path | None:
        """The session's file once it has been saved at least once."""
        return self._path

    @property
    def count(self) -> int:
        return len(self._rows)

    @property
    def saved_count(self) -> int:
        return self._saved

    @property
    def unsaved(self) -> int:
        return len(self._rows) - self._saved

    def features(self) -> np.ndarray:
        if not self._rows:
            return np.zeros((0, self.feature_size), np.float32)
        return np.stack(self._rows).astype(np.float32, copy=False)

    def append(self, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.feature_size,):
            raise ValueError(f"expected a vector of {self.feature_size}, got {vector.shape}")
        self._rows.append(vector)

    def save(self, ended: datetime | None = None) -> Path:
        """Write every sample so far; raise DataError (earlier files untouched) if that fails."""
        features = self.features()
        meta = {
            "format": FILE_FORMAT,
            "emotion": self.emotion,
            "feature_version": self.feature_version,
            "feature_size": self.feature_size,
            "count": int(features.shape[0]),
            "source": self.source,
            "started": self.started.isoformat(),
            "ended": (ended or _utc_now()).isoformat(),
            "app_version": __version__,
        }
        target = self._path or self._new_name()
        tmp = target.with_name(target.name + TMP_SUFFIX)
        try:
            private_dir(self.folder)  # 0700 inside your data folder
            _write_npz(tmp, features, meta)
            if self._path is None:
                target = _claim(tmp, target, self._new_name)
            else:
                os.replace(tmp, target)  # over this session's own earlier, shorter save
            _fsync_dir(self.folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            reason = exc.strerror or str(exc)
            if exc.errno == errno.ENOSPC:
                reason = "the disk is full"
            raise DataError(
                f"could not save {features.shape[0]} '{self.emotion}' samples to "
                f"{self.folder}: {reason}. Earlier sample files are unchanged."
            ) from exc
        self._path = target
        self._saved = int(features.shape[0])
        log.debug("saved %d samples to %s", self._saved, target)
        return target

    def _new_name(self) -> Path:
        stamp = self.started.astimezone(timezone.utc).strftime(_STAMP)
        return self.folder / f"{stamp}-{secrets.token_hex(3)}{SUFFIX}"


def _write_npz(tmp: Path, features: np.ndarray, meta: dict) -> None:
    # O_EXCL: never write into a file someone else (another session) has open.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    # The archive is built in memory and written in one go: a zip writer on a full disk
    # would fail again in ``ZipFile.__del__`` after the clear message.
    data = io.BytesIO()
    try:
        np.savez(data, features=features, meta=np.array(json.dumps(meta)))
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data.getbuffer())
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd >= 0:
            os.close(fd)


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


def _claim(tmp: Path, target: Path, new_name) -> Path:
    """Give ``tmp`` a name that did not exist before; never replaces an existing file."""
    for _ in range(20):
        try:
            os.link(tmp, target)
        except FileExistsError:
            target = new_name()
            continue
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            # No hard links here (e.g. FAT): reserve the name exclusively, then replace it.
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                target = new_name()
                continue
            os.replace(tmp, target)
            return target
        with contextlib.suppress(OSError):  # the name is ours either way
            os.unlink(tmp)
        return target
    raise OSError(errno.EEXIST, f"no free file name in {target.parent}")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- reading ------------------------------------------------------------------------------


def read_session(
    path: Path, *, feature_version: int | None = None, feature_size: int | None = None
) -> Session:
    """One session file, checked; DataError naming the file if it is unusable."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise ValueError("not an .npz archive; empty or cut short?")
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
            features = np.asarray(npz["features"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: not a readable sample file ({exc}); move it out of the samples folder"
        ) from None
    if features.ndim != 2:
        raise DataError(f"{path}: features have shape {features.shape}, expected [n, size]")
    try:
        info = SessionInfo(
            path=path,
            emotion=str(meta["emotion"]),
            count=int(features.shape[0]),
            feature_version=int(meta["feature_version"]),
            feature_size=int(meta["feature_size"]),
            source=str(meta.get("source", "unknown")),
            started=datetime.fromisoformat(meta["started"]),
            ended=datetime.fromisoformat(meta["ended"]),
            app_version=str(meta.get("app_version", "unknown")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: sample file with incomplete metadata ({exc})") from None
    if feature_version is not None and info.feature_version != feature_version:
        raise DataError(
            f"{path}: recorded with feature version {info.feature_version}, but this Emusify "
            f"uses version {feature_version}; collect '{info.emotion}' again"
        )
    expected = feature_size if feature_size is not None else info.feature_size
    if features.dtype != np.float32 or features.shape[1:] != (expected,):
        raise DataError(
            f"{path}: features are {features.dtype} {features.shape}, expected float32 "
            f"[n, {expected}]"
        )
    if not np.isfinite(features).all():
        raise DataError(f"{path}: features contain NaN or infinite values")
    return Session(info, features)


def _session_files(root: Path) -> Iterable[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"*/*{SUFFIX}") if p.is_file())


def scan(
    root: Path | None = None,
    *,
    feature_version: int | None = None,
    feature_size: int | None = None,
) -> tuple[Inventory, dict[Path, np.ndarray]]:
    """Every readable session under ``root`` and its features; bad files become problems."""
    root = Path(root) if root is not None else paths.samples_dir()
    inventory = Inventory(root)
    features: dict[Path, np.ndarray] = {}
    for path in _session_files(root):
        try:
            session = read_session(path, feature_version=feature_version, feature_size=feature_size)
        except DataError as exc:
            inventory.problems.append(SampleProblem(path, str(exc)))
            continue
        if session.info.count == 0:
            continue  # a session stopped before its first face: nothing to list or train on
        inventory.sessions.append(session.info)
        features[path] = session.features
    return inventory, features


def inventory(root: Path | None = None, *, feature_version: int | None = None) -> Inventory:
    return scan(root, feature_version=feature_version)[0]


# --- from sessions to labelled training data --------------------------------------------

#: Fewest samples a label needs before a personal model is trained on it.
MIN_SAMPLES_PER_LABEL = 100
#: Fewest sessions a label needs: one to train on and one, unseen, to validate on.
MIN_SESSIONS_PER_LABEL = 2


@dataclass(frozen=True)
class LabelMap:
    """Collected emotion name -> model label; names not listed keep their own name.

    Labels need not be FER2013's: collecting "calm" gives a model with a "calm" label.
    """

    mapping: dict[str, str] = field(default_factory=dict)

    def label(self, emotion: str) -> str:
        return self.mapping.get(emotion, emotion)

    @classmethod
    def parse(cls, items: Iterable[str] = (), file: Path | None = None) -> LabelMap:
        """From ``collected=label`` items and/or a YAML/JSON file of ``collected: label``."""
        mapping: dict[str, str] = {}
        if file is not None:
            mapping.update(_read_map_file(Path(file)))
        for item in items:
            collected, sep, label = item.partition("=")
            if not sep:
                raise DataError(f"--map {item!r}: write it as COLLECTED=LABEL, e.g. calm=neutral")
            mapping[check_emotion_name(collected)] = check_emotion_name(label)
        return cls(mapping)


def _read_map_file(path: Path) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read the label mapping ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise DataError(f"{path}: the label mapping must map collected names to labels")
    return {check_emotion_name(k): check_emotion_name(v) for k, v in data.items()}


def samples_training_data(
    root: Path | None = None,
    *,
    label_map: LabelMap | None = None,
    min_samples: int = MIN_SAMPLES_PER_LABEL,
    min_sessions: int = MIN_SESSIONS_PER_LABEL,
) -> TrainingData:
    """Every usable session under ``root`` as training data, one group per session.

    The groups make training's validation split hold out whole sessions: neighbouring frames
    of one session are near-duplicates, so a split by frame would score the model on what it
    has practically seen. Raises DataError naming every label that is too thin; unreadable
    files are skipped with a warning (and listed in ``info``) rather than blocking training.
    """
    from emusify.learning.train import TrainingData
    from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION

    label_map = label_map or LabelMap()
    inv, features = scan(root, feature_version=FEATURE_VERSION, feature_size=FEATURE_SIZE)
    for problem in inv.problems:
        log.warning("skipped: %s", problem.message)
    if not inv.sessions:
        extra = f" ({len(inv.problems)} unusable file(s))" if inv.problems else ""
        raise DataError(
            f"no collected samples in {inv.root}{extra}: record some with `emusify collect EMOTION`"
        )
    sessions = sorted(inv.sessions, key=lambda s: (s.emotion, s.started, s.session_id))
    problems = _thin_labels(sessions, label_map, min_samples, min_sessions)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise DataError(f"not enough collected samples in {inv.root} to train on:\n{lines}")
    labels = sorted({label_map.label(s.emotion) for s in sessions})
    x = np.concatenate([features[s.path] for s in sessions])
    y = np.concatenate(
        [np.full(s.count, labels.index(label_map.label(s.emotion))) for s in sessions]
    )
    groups = np.concatenate([np.full(s.count, s.session_id) for s in sessions])
    info = {
        "source": f"collected samples in {inv.root.resolve()}",
        "label_map": {s.emotion: label_map.label(s.emotion) for s in sessions},
        "unusable_files": [str(p.path) for p in inv.problems],
    }
    return TrainingData(x, y, labels, groups, info)


def training_shortfall(sessions: Iterable[SessionInfo]) -> list[str]:
    """What keeps ``emusify train --samples`` from these sessions; empty when it can train."""
    labels = {s.emotion for s in sessions}
    problems = _thin_labels(sessions, LabelMap(), MIN_SAMPLES_PER_LABEL, MIN_SESSIONS_PER_LABEL)
    if len(labels) < 2:
        problems.append("a model needs at least two emotions: collect another one")
    return problems


def _thin_labels(
    sessions: Iterable[SessionInfo], label_map: LabelMap, min_samples: int, min_sessions: int
) -> list[str]:
    per_label: dict[str, list[SessionInfo]] = {}
    for info in sessions:
        per_label.setdefault(label_map.label(info.emotion), []).append(info)
    problems = []
    for label, group in sorted(per_label.items()):
        how = " and ".join(f"`emusify collect {n}`" for n in sorted({s.emotion for s in group}))
        count = sum(s.count for s in group)
        if count < min_samples:
            problems.append(
                f"'{label}' has {count} samples, at least {min_samples} are needed "
                f"({min_samples - count} more): collect more with {how}"
            )
        if len(group) < min_sessions:
            problems.append(
                f"'{label}' has {len(group)} session(s), at least {min_sessions} are needed "
                f"({min_sessions - len(group)} more) "
                f"so that the model is checked on a session it was not trained on: run {how} "
                "again (another time of day or light helps)"
            )
    return problems
