"""Labelled image folders and the on-disk landmark cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.errors import DataError
from emusify.learning.dataset import cache_file, extract_folder, list_images, read_image
from emusify.sensing.features import point_mirror
from emusify.sensing.landmarks import VIEWS, webcam_frame

FACES = Path(__file__).parent.parent / "assets" / "faces"


def make_folder(root: Path, per_label: dict[str, list[str]]) -> Path:
    for label, names in per_label.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(FACES / name, root / label / name)
    return root


def test_images_are_listed_by_folder_with_their_labels(tmp_path):
    root = make_folder(
        tmp_path / "img", {"happy": ["happy_0.png", "happy_1.png"], "sad": ["sad_0.png"]}
    )
    (root / "sad" / "notes.txt").write_text("not an image")
    (root / "README").write_text("ignored: not a folder")
    items = list_images(root)
    assert [(p.name, label) for p, label in items] == [
        ("happy_0.png", "happy"),
        ("happy_1.png", "happy"),
        ("sad_0.png", "sad"),
    ]


def test_a_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such image folder"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        list_images(tmp_path / "empty")


def test_unreadable_images_are_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg: not a readable image"):
        read_image(bad)
    with pytest.raises(DataError, match=r"missing\.png: no such image file"):
        read_image(tmp_path / "missing.png")
    assert read_image(FACES / "happy_0.png").shape == (48, 48, 3)


def test_second_run_reads_the_cache_and_only_changed_images_are_redone(tmp_path):
    root = make_folder(
        tmp_path / "img",
        {"happy": ["happy_0.png", "happy_1.png"], "sad": ["sad_0.png", "sad_1.png"]},
    )
    (root / "sad" / "broken.png").write_bytes(b"garbage")
    cv2.imwrite(str(root / "sad" / "blank.png"), np.full((48, 48, 3), 128, np.uint8))
    cache = tmp_path / "cache"
    first = extract_folder(root, cache_dir=cache, workers=1, progress=False)
    assert first.extracted == 6 and len(first) == 6
    assert cache_file(root, cache).is_file()
    assert first.labels == ["happy", "happy", "sad", "sad", "sad", "sad"]
    assert [p.name for p in first.unreadable] == ["broken.png"]
    assert first.found.tolist() == [True, True, False, False, True, True]  # blank, broken
    assert np.isnan(first.faces[~first.found]).all()
    assert first.landmarks(2) == [None] * len(VIEWS)
    assert all(lm.face.shape == (478, 3) for lm in first.landmarks(0) if lm is not None)

    second = extract_folder(root, cache_dir=cache, workers=1, progress=False)
    assert second.extracted == 0
    np.testing.assert_array_equal(second.faces, first.faces)

    touched = root / "happy" / "happy_1.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    third = extract_folder(root, cache_dir=cache, workers=1, progress=False)
    assert third.extracted == 1


def test_only_the_requested_labels_are_read(tmp_path):
    root = make_folder(tmp_path / "img", {"happy": ["happy_0.png"], "bored": ["sad_0.png"]})
    data = extract_folder(
        root, cache_dir=tmp_path / "c", workers=1, progress=False, labels=["happy"]
    )
    assert data.labels == ["happy"] and data.extracted == 1


def test_two_worker_processes_give_the_same_landmarks(tmp_path):
    root = make_folder(tmp_path / "img", {"fear": ["fear_0.png", "fear_1.png", "fear_2.png"]})
    one = extract_folder(root, cache_dir=tmp_path / "a", workers=1, progress=False)
    two = extract_folder(root, cache_dir=tmp_path / "b", workers=2, progress=False)
    np.testing.assert_allclose(two.faces, one.faces, atol=1e-3)


def test_every_view_of_an_image_is_extracted_and_cached(tmp_path):
    """Training reads the same four views as a mood check: the image, mirrored, reframed into
    a webcam-sized frame (a tight crop like these) and that mirrored."""
    root = make_folder(tmp_path / "img", {"happy": ["happy_0.png"], "sad": ["sad_1.png"]})
    cache = tmp_path / "cache"
    data = extract_folder(root, cache_dir=cache, workers=1, progress=False)
    assert data.faces.shape == (2, len(VIEWS), 478, 3) and data.view_found.all()
    assert [tuple(s) for s in data.image_sizes[0]] == [(192, 192)] * 2 + [(640, 480)] * 2
    image, mirrored, framed, _ = data.faces[0]
    # The mirrored view's mesh, mirrored back, lies on the image's.
    assert np.median(np.abs(192 - mirrored[point_mirror(), 0] - image[:, 0])) < 0.04 * 192
    # The 48x48 face is scaled 4x and centred: its landmarks sit in the frame's middle.
    centre = framed[:, :2].mean(axis=0)
    assert 224 < centre[0] < 416 and 144 < centre[1] < 336
    again = extract_folder(root, cache_dir=cache, workers=1, progress=False)
    assert again.extracted == 0
    np.testing.assert_array_equal(again.faces, data.faces)
    frame = webcam_frame(read_image(FACES / "happy_0.png"))
    assert frame.shape == (480, 640, 3) and (frame[0, 0] == 128).all()
