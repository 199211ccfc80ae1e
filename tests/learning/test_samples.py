"""Per-person sample files: atomic, never overwritten, and read back with clear refusals."""

from __future__ import annotations

import errno
import shutil
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from emusify import cli
from emusify.commands.samples import format_inventory
from emusify.errors import DataError
from emusify.learning import samples
from emusify.learning.train import combine, images_training_data, split_by_group
from emusify.sensing.features import FEATURE_SIZE, FEATURE_VERSION

ASSETS = Path(__file__).parent.parent / "assets"

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


def test_the_listing_suggests_training_only_when_training_would_work(tmp_path):
    session(tmp_path, "happy", n=60)
    session(tmp_path, "sad", n=100)
    session(tmp_path, "sad", n=10, started=T0 + timedelta(days=1))
    text = format_inventory(samples.inventory(tmp_path, feature_version=VERSION))
    assert "emusify train" not in text
    assert "'happy' has 60 samples, at least 100 are needed (40 more)" in text
    assert "'happy' has 1 session(s), at least 2 are needed (1 more)" in text
    assert "'sad'" not in text.split("Before a personal model")[1]

    session(tmp_path, "happy", n=40, started=T0 + timedelta(days=1))
    text = format_inventory(samples.inventory(tmp_path, feature_version=VERSION))
    assert "emusify train --samples --base default --name me" in text
    assert "Before a personal model" not in text


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


def real_size_session(root, emotion, n, hours=0, offset=0.0):
    return session(
        root,
        emotion,
        n=n,
        started=T0 + timedelta(hours=hours),
        offset=offset,
        feature_version=FEATURE_VERSION,
        feature_size=FEATURE_SIZE,
    )


def test_training_data_has_one_group_per_session_and_uses_the_mapping(tmp_path):
    for hour, emotion in enumerate(["happy", "happy", "relaxed", "calm"]):
        real_size_session(tmp_path, emotion, n=4, hours=hour, offset=10 * hour)

    data = samples.samples_training_data(
        tmp_path, label_map=samples.LabelMap({"relaxed": "calm"}), min_samples=8
    )

    assert data.labels == ["calm", "happy"]  # "calm" is no FER2013 label: that is fine
    assert data.x.shape == (16, FEATURE_SIZE)
    assert data.counts() == {"calm": 8, "happy": 8}
    assert sorted(Counter(data.groups).values()) == [4, 4, 4, 4]
    for group in set(data.groups):  # a session is one label, and its file name is the group
        rows = data.groups == group
        emotion = next(tmp_path.glob(f"*/{group}.npz")).parent.name
        assert set(data.y[rows]) == {data.labels.index("happy" if emotion == "happy" else "calm")}
    assert data.info["label_map"] == {"calm": "calm", "happy": "happy", "relaxed": "calm"}


def test_validation_holds_out_whole_sessions(tmp_path):
    for i in range(5):
        real_size_session(tmp_path, "happy", n=6, hours=i, offset=i)
        real_size_session(tmp_path, "sad", n=6, hours=i, offset=-i)
    data = samples.samples_training_data(tmp_path, min_samples=10)

    train, val = split_by_group(data, fraction=0.2, seed=0)

    assert len(train) + len(val) == 60
    assert not set(train.groups) & set(val.groups)
    assert set(val.counts().values()) == {6}  # one whole session of each label


def test_training_is_refused_with_every_reason_at_once(tmp_path):
    real_size_session(tmp_path, "happy", n=30)
    real_size_session(tmp_path, "happy", n=30, hours=1)
    real_size_session(tmp_path, "calm", n=50)
    real_size_session(tmp_path, "sad", n=5)
    real_size_session(tmp_path, "sad", n=5, hours=1)

    with pytest.raises(DataError) as refusal:
        samples.samples_training_data(tmp_path, min_samples=20)

    message = str(refusal.value)
    assert "'calm' has 1 session(s), at least 2 are needed" in message
    assert "`emusify collect calm`" in message
    assert "'sad' has 10 samples, at least 20 are needed" in message
    assert "happy" not in message


def test_unusable_files_are_skipped_and_named(tmp_path, caplog):
    real_size_session(tmp_path, "happy", n=3)
    real_size_session(tmp_path, "happy", n=3, hours=1)
    real_size_session(tmp_path, "sad", n=3)
    real_size_session(tmp_path, "sad", n=3, hours=1)
    bad = tmp_path / "sad" / "20261121T090000Z-eeeeee.npz"
    bad.write_bytes(b"")

    data = samples.samples_training_data(tmp_path, min_samples=6)

    assert len(data) == 12 and data.info["unusable_files"] == [str(bad)]
    assert str(bad) in caplog.text


def test_no_samples_at_all_is_a_clear_refusal(tmp_path):
    with pytest.raises(DataError, match=r"no collected samples in .*emusify collect"):
        samples.samples_training_data(tmp_path)


# --- the train command with collected samples (refusals come before any training) --------


def test_train_refuses_thin_samples_with_one_clear_message(tmp_path, capsys):
    real_size_session(tmp_path, "happy", n=5)
    real_size_session(tmp_path, "happy", n=5, hours=1)
    real_size_session(tmp_path, "calm", n=5)

    code = cli.main(["train", "--samples", str(tmp_path), "--min-samples", "8"])

    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "not enough collected samples" in err
    assert "'calm' has 5 samples, at least 8 are needed" in err
    assert "'calm' has 1 session(s)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to train on: give --images DIR, --samples [DIR], or both"),
        (["--images", "x", "--map", "a=b"], "--map and --map-file apply to collected samples"),
        (["--samples", "{root}", "--map", "calm"], "write it as COLLECTED=LABEL"),
        (["--samples", "{root}", "--map", "sad=happy"], "only one emotion ('happy')"),
    ],
)
def test_train_explains_what_is_missing(tmp_path, capsys, argv, message):
    for hour in range(2):
        real_size_session(tmp_path, "happy", n=3, hours=hour)
        real_size_session(tmp_path, "sad", n=3, hours=hour)
    argv = [a.format(root=tmp_path) for a in argv]

    assert cli.main(["train", *argv, "--min-samples", "1"]) == 2
    assert message in capsys.readouterr().err


def test_samples_and_an_image_folder_train_together(tmp_path):
    for hour in range(2):
        real_size_session(tmp_path / "mine", "calm", n=3, hours=hour)
        real_size_session(tmp_path / "mine", "happy", n=3, hours=hour, offset=1)
    for still in ASSETS.glob("faces/*.png"):  # <emotion>_<n>.png -> images/<emotion>/
        (tmp_path / "images" / still.stem.split("_")[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(still, tmp_path / "images" / still.stem.split("_")[0] / still.name)
    images = images_training_data(tmp_path / "images", cache_dir=tmp_path / "cache", workers=1)
    mine = samples.samples_training_data(tmp_path / "mine", min_samples=1)

    both = combine([images, mine])

    assert both.labels == sorted({*images.labels, "calm"})
    assert len(both) == len(images) + len(mine) == len(images) + 12
    assert both.counts()["happy"] == images.counts()["happy"] + 6
    assert len(set(both.groups)) == len(set(images.groups)) + 4  # sessions stay whole groups


def test_train_reads_the_user_data_directory_when_no_folder_is_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    real_size_session(tmp_path / "data" / "samples", "happy", n=3)

    assert cli.main(["train", "--samples", "--min-samples", "1"]) == 2

    err = capsys.readouterr().err
    assert f"not enough collected samples in {tmp_path / 'data' / 'samples'}" in err
