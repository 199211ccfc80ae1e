"""Labelled image folders (``DIR/<emotion>/*.jpg|png|tiff``) and their landmark cache.

MediaPipe costs ~10 ms per view of a small image (more for large ones) and every image is read
in its four views (``LandmarkExtractor.views``: as it is, mirrored, reframed, and that
mirrored), so a 28,000-image folder takes about ten minutes on two cores. The raw face
landmarks of every view (not the feature vectors) are cached on disk, so a second run skips
MediaPipe entirely and a change to the feature function needs no new extraction. The cache
lives under ``paths.cache_dir()`` (or a given folder), one file per image folder, and an entry
is reused only while the image's path, size and modification time and
``landmarks.EXTRACTOR_VERSION`` are unchanged.

Training and evaluation read the same views as a mood check at run time, through the same
function: the model learns every view as a row and is scored, like the recognizer reads a
frame, on the average of its readings of a picture's views.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emusify import paths
from emusify.errors import DataError
from emusify.sensing.landmarks import (
    EXTRACTOR_VERSION,
    FACE_POINTS,
    VIEWS,
    LandmarkExtractor,
    Landmarks,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
#: Cached landmark sources, in the order of ``Landmarks.source`` codes stored on disk.
SOURCES = ("none", "holistic", "face_mesh", "face_mesh_padded", "unreadable")
#: Save the cache after this many newly extracted images, so an interrupted run keeps them.
SAVE_EVERY = 2000


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A BGR uint8 image; DataError naming the file when it is missing or not an image."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image (jpg, png, tiff or bmp)")
    return image


def list_images(root: str | os.PathLike[str]) -> list[tuple[Path, str]]:
    """(image path, label) for every image in ``root/<label>/``, sorted; DataError if none."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such image folder")
    items = [
        (path, folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if not items:
        raise DataError(f"{root}: no images in <emotion>/ sub-folders (jpg, png or tiff)")
    return items


@dataclass
class FolderLandmarks:
    """Face landmarks of every view of every image of a labelled folder, in ``list_images``
    order (views in ``landmarks.VIEWS`` order)."""

    root: Path
    paths: list[Path]
    labels: list[str]  #: folder name of each image
    faces: np.ndarray  #: float32 [n, views, 478, 3], NaN where no face was found
    sources: np.ndarray  #: int8 [n, views], index into SOURCES
    image_sizes: np.ndarray  #: int32 [n, views, 2] (width, height) of each analysed view
    unreadable: list[Path] = field(default_factory=list)
    extracted: int = 0  #: images that went through MediaPipe in this call (not cached)

    @property
    def view_found(self) -> np.ndarray:
        """bool [n, views]: where a view holds a face."""
        return np.isin(self.sources, (1, 2, 3))

    @property
    def found(self) -> np.ndarray:
        """bool [n]: images with a face in at least one view."""
        return self.view_found.any(axis=1)

    def __len__(self) -> int:
        return len(self.paths)

    def landmarks(self, i: int) -> list[Landmarks | None]:
        """The landmarks of each view of image ``i``."""
        return [
            Landmarks(self.faces[i, v], (int(w), int(h)), SOURCES[self.sources[i, v]])
            if self.view_found[i, v]
            else None
            for v, (w, h) in enumerate(self.image_sizes[i])
        ]


def cache_file(root: Path, cache_dir: Path | None = None) -> Path:
    base = Path(cache_dir) if cache_dir else paths.cache_dir() / "landmarks"
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return base / f"{root.resolve().name}-{digest}-x{EXTRACTOR_VERSION}.npz"


#: A cache entry: (mtime_ns, size, faces [views, 478, 3], sources [views], sizes [views, 2]).
_Entry = tuple[int, int, np.ndarray, np.ndarray, np.ndarray]


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _load_cache(file: Path) -> dict[str, _Entry]:
    if not file.is_file():
        return {}
    try:
        with np.load(file, allow_pickle=False) as z:
            return {
                str(p): (int(m), int(s), f, src, size)
                for p, m, s, f, src, size in zip(
                    z["paths"],
                    z["mtimes"],
                    z["sizes"],
                    z["faces"],
                    z["sources"],
                    z["image_sizes"],
                    strict=True,
                )
            }
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable landmark cache %s: %s", file, exc)
        return {}


def _save_cache(file: Path, entries: dict[str, _Entry]):
    file.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(entries)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        paths=np.asarray(keys, dtype=str),
        mtimes=np.asarray([entries[k][0] for k in keys], dtype=np.int64),
        sizes=np.asarray([entries[k][1] for k in keys], dtype=np.int64),
        faces=np.asarray([entries[k][2] for k in keys], dtype=np.float32).reshape(
            -1, len(VIEWS), FACE_POINTS, 3
        ),
        sources=np.asarray([entries[k][3] for k in keys], dtype=np.int8).reshape(-1, len(VIEWS)),
        image_sizes=np.asarray([entries[k][4] for k in keys], dtype=np.int32).reshape(
            -1, len(VIEWS), 2
        ),
    )
    os.replace(tmp, file)


_worker_extractor: LandmarkExtractor | None = None


def _init_worker() -> None:
    global _worker_extractor
    logging.getLogger("absl").setLevel(logging.ERROR)
    _worker_extractor = LandmarkExtractor().open()


def _close_worker() -> None:
    global _worker_extractor
    if _worker_extractor is not None:
        _worker_extractor.close()
        _worker_extractor = None


def _extract_one(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faces [views, 478, 3] NaN where none, source codes [views], view sizes [views, 2])."""
    assert _worker_extractor is not None
    views = len(VIEWS)
    faces = np.full((views, FACE_POINTS, 3), np.nan, dtype=np.float32)
    sources = np.zeros(views, np.int8)
    sizes = np.zeros((views, 2), np.int32)
    try:
        image = read_image(path)
    except DataError:
        sources[:] = SOURCES.index("unreadable")
        return faces, sources, sizes
    for v, lm in enumerate(_worker_extractor.views(image)):
        if lm is not None:
            faces[v], sources[v], sizes[v] = lm.face, SOURCES.index(lm.source), lm.image_size
    return faces, sources, sizes


def extract_folder(
    root: str | os.PathLike[str],
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
    labels: Sequence[str] | None = None,
) -> FolderLandmarks:
    """Landmarks of every view of every image under ``root/<label>/``, from the cache where it
    is current.

    ``labels`` limits the folders read (others are skipped). Unreadable images are listed in
    ``unreadable`` rather than raised, so one bad file does not throw away a long extraction.
    """
    root = Path(root)
    items = list_images(root)
    if labels is not None:
        items = [(p, label) for p, label in items if label in set(labels)]
    file = cache_file(root, cache_dir)
    cached = _load_cache(file)
    keys = [str(p.resolve()) for p, _ in items]
    stats = [_stat_key(p) for p, _ in items]
    todo = [
        i
        for i, (key, stat) in enumerate(zip(keys, stats, strict=True))
        if key not in cached or cached[key][:2] != stat
    ]
    log.info(
        "%s: %d images, %d cached, %d to extract",
        root,
        len(items),
        len(items) - len(todo),
        len(todo),
    )
    if todo:
        jobs = [keys[i] for i in todo]
        _extract_into(cached, jobs, [stats[i] for i in todo], file, workers, progress)
    empty = np.zeros((0, len(VIEWS), FACE_POINTS, 3))
    faces = np.stack([cached[k][2] for k in keys]) if keys else empty
    sources = np.asarray([cached[k][3] for k in keys], dtype=np.int8).reshape(-1, len(VIEWS))
    unreadable = [items[i][0] for i in np.flatnonzero(sources[:, 0] == SOURCES.index("unreadable"))]
    return FolderLandmarks(
        root=root,
        paths=[p for p, _ in items],
        labels=[label for _, label in items],
        faces=faces.astype(np.float32),
        sources=sources,
        image_sizes=np.asarray([cached[k][4] for k in keys], dtype=np.int32).reshape(
            -1, len(VIEWS), 2
        ),
        unreadable=unreadable,
        extracted=len(todo),
    )


def _extract_into(cached, jobs, stats, file, workers, progress) -> None:
    from tqdm import tqdm

    keys = list(jobs)
    bar = tqdm(
        total=len(keys),
        desc=f"landmarks {file.name.split('-')[0]}",
        unit="img",
        disable=not progress,
        file=sys.stderr,
    )
    since_save = 0

    def store(results: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        nonlocal since_save
        for key, stat, (face, source, size) in zip(keys, stats, results, strict=True):
            cached[key] = (stat[0], stat[1], face, source, size)
            bar.update()
            since_save += 1
            if since_save >= SAVE_EVERY:
                _save_cache(file, cached)
                since_save = 0

    try:
        if workers <= 1:
            _init_worker()
            try:
                store(map(_extract_one, jobs))
            finally:
                _close_worker()
        else:
            context = multiprocessing.get_context("spawn")  # MediaPipe graphs do not fork well
            with context.Pool(workers, initializer=_init_worker) as pool:
                store(pool.imap(_extract_one, jobs, chunksize=8))
    finally:
        bar.close()
        if since_save:
            _save_cache(file, cached)
