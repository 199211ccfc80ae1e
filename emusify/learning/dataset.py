"""Labelled image folders (``DIR/<emotion>/*.jpg|png|tiff``) and their landmark cache.

MediaPipe costs ~10 ms per small image (more for large ones), so a 28,000-image folder takes
about five minutes on two cores. The raw face landmarks (not the feature vectors) are cached
on disk, so a second run skips MediaPipe entirely and a change to the feature function needs
no new extraction. The cache lives under ``paths.cache_dir()`` (or a given folder), one file
per image folder, and an entry is reused only while the image's path, size and modification
time and ``landmarks.EXTRACTOR_VERSION`` are unchanged.

``framed=True`` extracts the landmarks of each image put into a webcam-sized frame instead
(``webcam_frame``, cached separately). MediaPipe's face mesh of a tight face crop differs a
little from that of the same face in a larger frame (the face crop the mesh model sees holds
the image border in one case, background in the other); training on both teaches the model to
read a face the same way in either.
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
from emusify.sensing.landmarks import EXTRACTOR_VERSION, FACE_POINTS, LandmarkExtractor, Landmarks

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
#: Cached landmark sources, in the order of ``Landmarks.source`` codes stored on disk.
SOURCES = ("none", "holistic", "face_mesh", "face_mesh_padded", "unreadable")
#: Save the cache after this many newly extracted images, so an interrupted run keeps them.
SAVE_EVERY = 2000
#: The webcam-sized frame of ``webcam_frame`` (width, height) and its grey level.
FRAME_SIZE = (640, 480)
FRAME_GREY = 128


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


def webcam_frame(image: np.ndarray) -> np.ndarray:
    """The image centred in a mid-grey 640x480 frame, as a webcam would show the face: 48x48
    FER2013 faces scaled 4x, larger images at most 400 pixels on their longer side (the
    layout of ``../shared/tools/frame-faces.py``)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    height, width = image.shape[:2]
    if (height, width) == (48, 48):
        image = cv2.resize(image, (192, 192), interpolation=cv2.INTER_CUBIC)
    elif max(height, width) > 400:
        scale = 400 / max(height, width)
        size = (round(width * scale), round(height * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    frame_width, frame_height = FRAME_SIZE
    out = np.full((frame_height, frame_width, 3), FRAME_GREY, np.uint8)
    top, left = (frame_height - height) // 2, (frame_width - width) // 2
    out[top : top + height, left : left + width] = image
    return out


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
    """Face landmarks for every image of a labelled folder, in ``list_images`` order."""

    root: Path
    paths: list[Path]
    labels: list[str]  #: folder name of each image
    faces: np.ndarray  #: float32 [n, 478, 3], NaN where no face was found
    sources: np.ndarray  #: int8 [n], index into SOURCES
    image_sizes: np.ndarray  #: int32 [n, 2] (width, height) of the analysed image
    unreadable: list[Path] = field(default_factory=list)
    extracted: int = 0  #: images that went through MediaPipe in this call (not cached)

    @property
    def found(self) -> np.ndarray:
        return np.isin(self.sources, (1, 2, 3))

    def __len__(self) -> int:
        return len(self.paths)

    def landmarks(self, i: int) -> Landmarks | None:
        if not self.found[i]:
            return None
        width, height = (int(v) for v in self.image_sizes[i])
        return Landmarks(self.faces[i], (width, height), SOURCES[self.sources[i]])

    def iter_landmarks(self) -> Iterator[Landmarks | None]:
        for i in range(len(self)):
            yield self.landmarks(i)


def cache_file(root: Path, cache_dir: Path | None = None, framed: bool = False) -> Path:
    base = Path(cache_dir) if cache_dir else paths.cache_dir() / "landmarks"
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    kind = "-framed" if framed else ""
    return base / f"{root.resolve().name}-{digest}{kind}-x{EXTRACTOR_VERSION}.npz"


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _load_cache(file: Path) -> dict[str, tuple[int, int, np.ndarray, int, np.ndarray]]:
    if not file.is_file():
        return {}
    try:
        with np.load(file, allow_pickle=False) as z:
            return {
                str(p): (int(m), int(s), f, int(src), size)
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


def _save_cache(file: Path, entries: dict[str, tuple[int, int, np.ndarray, int, np.ndarray]]):
    file.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(entries)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        paths=np.asarray(keys, dtype=str),
        mtimes=np.asarray([entries[k][0] for k in keys], dtype=np.int64),
        sizes=np.asarray([entries[k][1] for k in keys], dtype=np.int64),
        faces=np.asarray([entries[k][2] for k in keys], dtype=np.float32).reshape(
            -1, FACE_POINTS, 3
        ),
        sources=np.asarray([entries[k][3] for k in keys], dtype=np.int8),
        image_sizes=np.asarray([entries[k][4] for k in keys], dtype=np.int32).reshape(-1, 2),
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


def _extract_one(job: tuple[str, bool]) -> tuple[np.ndarray, int, np.ndarray]:
    """(face [478, 3] or NaN, source code, analysed image size) for one image file."""
    assert _worker_extractor is not None
    path, framed = job
    nan = np.full((FACE_POINTS, 3), np.nan, dtype=np.float32)
    try:
        image = read_image(path)
    except DataError:
        return nan, SOURCES.index("unreadable"), np.zeros(2, np.int32)
    if framed:
        image = webcam_frame(image)
    lm = _worker_extractor.extract(image)
    if lm is None:
        return nan, 0, np.zeros(2, np.int32)
    return lm.face, SOURCES.index(lm.source), np.asarray(lm.image_size, np.int32)


def extract_folder(
    root: str | os.PathLike[str],
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
    labels: Sequence[str] | None = None,
    framed: bool = False,
) -> FolderLandmarks:
    """Landmarks for every image under ``root/<label>/``, from the cache where it is current
    (``framed``: of each image in a webcam-sized frame, see the module docstring).

    ``labels`` limits the folders read (others are skipped). Unreadable images are listed in
    ``unreadable`` rather than raised, so one bad file does not throw away a long extraction.
    """
    root = Path(root)
    items = list_images(root)
    if labels is not None:
        items = [(p, label) for p, label in items if label in set(labels)]
    file = cache_file(root, cache_dir, framed)
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
        jobs = [(keys[i], framed) for i in todo]
        _extract_into(cached, jobs, [stats[i] for i in todo], file, workers, progress)
    faces = np.stack([cached[k][2] for k in keys]) if keys else np.zeros((0, FACE_POINTS, 3))
    sources = np.asarray([cached[k][3] for k in keys], dtype=np.int8)
    unreadable = [items[i][0] for i in np.flatnonzero(sources == SOURCES.index("unreadable"))]
    return FolderLandmarks(
        root=root,
        paths=[p for p, _ in items],
        labels=[label for _, label in items],
        faces=faces.astype(np.float32),
        sources=sources,
        image_sizes=np.asarray([cached[k][4] for k in keys], dtype=np.int32).reshape(-1, 2),
        unreadable=unreadable,
        extracted=len(todo),
    )


def _extract_into(cached, jobs, stats, file, workers, progress) -> None:
    from tqdm import tqdm

    keys = [key for key, _ in jobs]
    bar = tqdm(
        total=len(keys),
        desc=f"landmarks {file.name.split('-')[0]}",
        unit="img",
        disable=not progress,
        file=sys.stderr,
    )
    since_save = 0

    def store(results: Iterator[tuple[np.ndarray, int, np.ndarray]]) -> None:
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
