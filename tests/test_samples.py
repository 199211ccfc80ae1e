"""Per-person sample files: atomic, never overwritten, and read back with clear refusals."""

from __future__ import annotations

import errno
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from emusify import samples
from emusify.commands.samples import format_inventory
from emusify.errors import DataError

VERSION = 3
SIZE = 8
T0 = datetime(2026, 11, 21, 6, 30, tzinfo=timezone.utc)


def writer(root, emotion="happy", started=T0, **kw):
    return samples.SessionWriter(
        root,
        emotion,
        source="video file faces.mp4",
        feature_version=kw.pop("feature_version", VERSION),
        feature_size=kw.pop("feature_size", SIZE),
        started=started,
        **kw,
    )


def session(root, emotion="happy", n=5, started=T0, offset=0.0, **kw):
    """A saved session whose vectors are all ``offset + row index``."""
    w = writer(root, emotion, started, **kw)
    for i in range(n):
        w.append(np.full(w.feature_size, offset + i, np.float32))
    w.save(ended=started + timedelta(minutes=2))
    return w


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_session_is_one_file_under_its_emotion_with_its_metadata(tmp_path):
    w = session(tmp_path, "happy", n=4)

    assert files(tmp_path) == [f"happy/{w.path.name}"]
    assert w.path.name.startswith("20261121T063000Z-") and w.path.suffix == ".npz"
    s = samples.read_session(w.path, feature_version=VERSION, feature_size=SIZE)
    assert s.features.dtype == np.float32 and s.features.shape == (4, SIZE)
    assert s.features[:, 0].tolist() == [0, 1, 2, 3]
    assert (s.info.emotion, s.info.count, s.info.feature_version) == ("happy", 4, VERSION)
    assert s.info.source == "video file faces.mp4"
    assert s.info.started == T0 and s.info.ended == T0 + timedelta(minutes=2)
    assert s.info.app_version and s.info.session_id == w.path.stem


def test_nothing_is_written_before_the_first_save(tmp_path):
    w = writer(tmp_path)
    w.append(np.zeros(SIZE))
    assert w.path is None and files(tmp_path) == []


def test_checkpoints_grow_the_sessions_own_file_and_leave_no_temporary(tmp_path):
    w = writer(tmp_path)
    w.append(np.zeros(SIZE))
    first = w.save()
    w.append(np.ones(SIZE))
    w.append(np.ones(SIZE))
    assert w.save() == first
    assert files(tmp_path) == [f"happy/{first.name}"]
    assert samples.read_session(first).info.count == 3
    assert (w.count, w.saved_count, w.unsaved) == (3, 3, 0)


def test_a_second_session_adds_a_file_even_when_its_name_is_taken(tmp_path, monkeypatch):
    first = session(tmp_path, offset=100)
    before = first.path.read_bytes()
    ids = iter([first.path.stem.split("-")[1], "bbbbbb"])
    monkeypatch.setattr(samples.secrets, "token_hex", lambda n: next(ids))

    second = session(tmp_path, offset=200)  # same start second and, at first, the same name

    assert second.path != first.path and second.path.stem.endswith("-bbbbbb")
    assert first.path.read_bytes() == before
    assert len(files(tmp_path)) == 2


def test_a_full_disk_leaves_earlier_files_byte_identical_and_keeps_the_samples(
    tmp_path, monkeypatch
):
    other = session(tmp_path, "sad", n=3)
    w = writer(tmp_path)
    w.append(np.zeros(SIZE))
    checkpoint = w.save()
    earlier = {p: p.read_bytes() for p in (other.path, checkpoint)}
    w.append(np.ones(SIZE))
    real_savez = np.savez

    def savez_until_the_disk_is_full(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(samples.np, "savez", savez_until_the_disk_is_full)
    with pytest.raises(DataError) as failure:
        w.save()

    message = str(failure.value)
    assert "could not save 2 'happy' samples" in message and "disk is full" in message
    assert "Earlier sample files are unchanged" in message
    assert {p: p.read_bytes() for p in earlier} == earlier
    assert not list(tmp_path.rglob("*.tmp"))
    assert (w.count, w.saved_count) == (2, 1)  # nothing recorded is dropped from memory

    monkeypatch.setattr(samples.np, "savez", real_savez)
    assert w.save() == checkpoint and samples.read_session(checkpoint).info.count == 2


def test_a_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    def no_space(f, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(samples.np, "savez", no_space)
    w = writer(tmp_path)
    w.append(np.zeros(SIZE))
    with pytest.raises(DataError, match="disk is full"):
        w.save()
    assert files(tmp_path) == [] and w.path is None


@pytest.mark.parametrize("name", ["../etc", "Happy Face", "", "a/b", "x" * 40, "1st"])
def test_emotion_names_must_be_plain_folder_names(name, tmp_path):
    with pytest.raises(DataError, match="cannot be an emotion name"):
        writer(tmp_path, name)


def test_emotion_names_are_lower_cased(tmp_path):
    assert writer(tmp_path, " Calm ").emotion == "calm"


def test_vectors_of_the_wrong_size_are_refused(tmp_path):
    with pytest.raises(ValueError, match="expected a vector of 8"):
        writer(tmp_path).append(np.zeros(SIZE + 1))


def test_bad_files_are_named_in_the_inventory_without_hiding_good_ones(tmp_path):
    good = session(tmp_path, "happy", n=5)
    old = session(tmp_path, "sad", n=5, feature_version=VERSION - 1)
    corrupt = tmp_path / "sad" / "20261121T070000Z-cccccc.npz"
    corrupt.write_bytes(good.path.read_bytes()[:100])
    (tmp_path / "sad" / "20261121T070500Z-dddddd.npz.tmp").write_bytes(b"half")

    inv = samples.inventory(tmp_path, feature_version=VERSION)

    assert [s.path for s in inv.sessions] == [good.path]
    problems = {p.path: p.message for p in inv.problems}
    assert set(problems) == {old.path, corrupt}
    assert "feature version 2" in problems[old.path] and str(old.path) in problems[old.path]
    assert "not a readable sample file" in problems[corrupt]
    with pytest.raises(DataError, match="feature version"):
        samples.read_session(old.path, feature_version=VERSION)


def test_the_listing_counts_per_emotion_and_names_unusable_files(tmp_path):
    session(tmp_path, "happy", n=5)
    session(tmp_path, "happy", n=7, started=T0 + timedelta(days=1))
    session(tmp_path, "calm", n=3)
    (tmp_path / "calm" / "20261121T070000Z-cccccc.npz").write_bytes(b"not a zip")

    text = format_inventory(samples.inventory(tmp_path, feature_version=VERSION), sessions=True)

    table = [line.split() for line in text.splitlines() if line[:1].isalpha()][2:4]
    rows = {row[0]: row[1:3] for row in table}
    assert rows == {"calm": ["3", "1"], "happy": ["12", "2"]}
    assert "2 emotion(s), 15 samples in 3 session(s)." in text
    assert "1 file(s) could not be used" in text and "cccccc.npz" in text
    assert "from video file faces.mp4" in text


def test_the_listing_of_an_empty_folder_says_how_to_start(tmp_path):
    text = format_inventory(samples.inventory(tmp_path / "none"))
    assert "emusify collect EMOTION" in text


# --- labels and training data -----------------------------------------------------------


def test_the_label_map_is_identity_unless_told_and_allows_new_labels(tmp_path):
    mapping_file = tmp_path / "labels.yaml"
    mapping_file.write_text("relaxed: calm\ngrin: happy\n")

    m = samples.LabelMap.parse(["grin=surprise", "Bored=neutral"], mapping_file)

    assert m.mapping == {"relaxed": "calm", "grin": "surprise", "bored": "neutral"}
    assert [m.label(e) for e in ("relaxed", "grin", "sad")] == ["calm", "surprise", "sad"]
    with pytest.raises(DataError, match="COLLECTED=LABEL"):
        samples.LabelMap.parse(["calm"])
    mapping_file.write_text("- a list\n")
    with pytest.raises(DataError, match=r"labels.yaml: the label mapping must map"):
        samples.LabelMap.parse([], mapping_file)


def test_labelled_samples_group_by_session_and_use_the_mapping(tmp_path):
    for day, emotion in enumerate(["happy", "happy", "relaxed", "calm"]):
        session(tmp_path, emotion, n=4, started=T0 + timedelta(days=day), offset=10 * day)

    data = samples.labelled_samples(
        tmp_path,
        feature_version=VERSION,
        feature_size=SIZE,
        label_map=samples.LabelMap({"relaxed": "calm"}),
        min_samples=8,
    )

    assert data.labels == ("calm", "happy")
    assert data.x.shape == (16, SIZE) and data.x.dtype == np.float32
    assert np.bincount(data.y).tolist() == [8, 8]
    assert sorted(np.bincount(data.groups).tolist()) == [4, 4, 4, 4]
    for g, info in enumerate(data.sessions):  # every sample knows its session
        expected = data.labels.index("calm" if info.emotion in ("calm", "relaxed") else "happy")
        assert set(data.y[data.groups == g]) == {expected}


def test_training_is_refused_with_every_reason_at_once(tmp_path):
    session(tmp_path, "happy", n=30)
    session(tmp_path, "happy", n=30, started=T0 + timedelta(hours=1))
    session(tmp_path, "calm", n=50)
    session(tmp_path, "sad", n=5)
    session(tmp_path, "sad", n=5, started=T0 + timedelta(hours=1))

    with pytest.raises(DataError) as refusal:
        samples.labelled_samples(
            tmp_path, feature_version=VERSION, feature_size=SIZE, min_samples=20
        )

    message = str(refusal.value)
    assert "'calm' has 1 session(s), at least 2 are needed" in message
    assert "`emusify collect calm`" in message
    assert "'sad' has 10 samples, at least 20 are needed" in message
    assert "happy" not in message


def test_no_samples_at_all_is_a_clear_refusal(tmp_path):
    with pytest.raises(DataError, match=r"no collected samples in .*emusify collect"):
        samples.labelled_samples(tmp_path, feature_version=VERSION, feature_size=SIZE)


def test_validation_is_split_by_session_never_by_frame():
    groups = np.repeat(np.arange(10), 5)
    y = np.repeat([0, 0, 0, 0, 0, 1, 1, 1, 2, 2], 5)

    train, val = samples.split_by_session(groups, y, fraction=0.2, seed=1)

    assert sorted(np.concatenate([train, val]).tolist()) == list(range(50))
    assert not set(groups[train]) & set(groups[val])
    assert set(y[train]) == set(y[val]) == {0, 1, 2}
    assert len(set(groups[val])) == 3  # 1 of 5, 1 of 3 (rounded), 1 of 2


def test_a_single_session_label_cannot_be_split():
    with pytest.raises(DataError, match="only one session"):
        samples.split_by_session(np.array([0, 0, 1]), np.array([0, 0, 1]))
