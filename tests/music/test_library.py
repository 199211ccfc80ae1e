"""The library finds tracks per mood folder, reads their tags, and notices changes."""

from __future__ import annotations

import logging
import os
import shutil

import mutagen.id3
import mutagen.oggvorbis
import mutagen.wave
import pytest

from emusify import paths
from emusify.music import library as library_module
from emusify.music.library import Library

DEMO = paths.PROJECT_SONGS


@pytest.fixture
def root(tmp_path):
    return tmp_path / "songs"


def names(tracks):
    return [t.path.name for t in tracks]


def test_the_bundled_demo_tracks_are_found_with_their_tags():
    lib = Library(DEMO)
    assert {"happy", "sad", "calm"} <= set(lib.folders())
    for folder in ("happy", "sad", "calm"):
        tracks = lib.tracks(folder)
        assert len(tracks) == 2
        assert all(t.artist == "Emusify demo" and t.folder == folder for t in tracks)
    assert {t.title for t in lib.tracks("happy")} == {"Sunny Steps", "Bright Morning"}


def test_the_demo_tracks_are_small_vorbis_files_of_20_to_40_seconds():
    files = sorted(DEMO.rglob("*.ogg"))
    assert len(files) == 6
    assert sum(p.stat().st_size for p in files) <= 2 * 1024 * 1024
    for path in files:
        audio = mutagen.oggvorbis.OggVorbis(path)
        assert 20 <= audio.info.length <= 40, path


def test_supported_files_are_listed_and_others_ignored_with_one_log_line(root, make_tone, caplog):
    make_tone(root / "happy" / "b.wav", 440, 0.1)
    shutil.copy(DEMO / "happy" / "sunny-steps.ogg", root / "happy" / "a.ogg")
    (root / "happy" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "happy" / "notes.txt").write_text("liner notes")
    (root / "happy" / ".hidden.mp3").write_bytes(b"")
    caplog.set_level(logging.INFO, logger="emusify.music.library")
    lib = Library(root)

    tracks = lib.tracks("happy")
    assert names(tracks) == ["a.ogg", "b.wav"]
    # tags where present, the file name where not
    assert (tracks[0].title, tracks[0].artist) == ("Sunny Steps", "Emusify demo")
    assert (tracks[1].title, tracks[1].artist) == ("b", None)
    ignored = [r for r in caplog.records if "Ignoring" in r.message]
    assert sorted(r.message.split()[1] for r in ignored) == [
        str(root / "happy" / "cover.jpg") + ":",
        str(root / "happy" / "notes.txt") + ":",
    ]
    make_tone(root / "happy" / "c.wav", 440, 0.1)
    assert lib.refresh() == ["happy"]
    assert len([r for r in caplog.records if "Ignoring" in r.message]) == 2  # not again


def test_id3_tags_in_a_wav_file_are_read(root, make_tone):
    path = make_tone(root / "sad" / "take 1.wav", 220, 0.1)
    wav = mutagen.wave.WAVE(path)
    wav.add_tags()
    wav.tags.add(mutagen.id3.TIT2(encoding=3, text="Rainy Day"))
    wav.tags.add(mutagen.id3.TPE1(encoding=3, text="Somebody"))
    wav.save()
    [track] = Library(root).tracks("sad")
    assert (track.title, track.artist, track.describe()) == (
        "Rainy Day",
        "Somebody",
        "Somebody - Rainy Day",
    )


def test_tracks_in_sub_folders_belong_to_the_mood_folder(root, make_tone):
    make_tone(root / "calm" / "Album One" / "01.wav", 330, 0.1)
    make_tone(root / "calm" / "Album One" / "CD2" / "01.wav", 330, 0.1)
    lib = Library(root)
    assert [t.path.relative_to(root / "calm").as_posix() for t in lib.tracks("calm")] == [
        "Album One/01.wav",
        "Album One/CD2/01.wav",
    ]


def test_a_changed_folder_is_rescanned_and_an_unchanged_one_is_not(root, make_tone, monkeypatch):
    make_tone(root / "happy" / "a.wav", 440, 0.1)
    make_tone(root / "sad" / "a.wav", 220, 0.1)
    reads = []
    real = library_module.read_tags
    monkeypatch.setattr(library_module, "read_tags", lambda p: reads.append(p.name) or real(p))
    lib = Library(root)
    assert names(lib.tracks("happy")) == ["a.wav"]
    assert names(lib.tracks("sad")) == ["a.wav"]
    assert lib.refresh() == []
    assert len(reads) == 2

    make_tone(root / "happy" / "b.wav", 440, 0.1)
    os.utime(root / "happy", ns=(1, 1))  # make the change visible even on coarse clocks
    assert lib.refresh() == ["happy"]
    assert names(lib.tracks("happy")) == ["a.wav", "b.wav"]
    assert reads == ["a.wav", "a.wav", "b.wav"]  # only the new file's tags were read

    (root / "happy" / "a.wav").unlink()
    os.utime(root / "happy", ns=(2, 2))
    assert lib.refresh() == ["happy"]
    assert names(lib.tracks("happy")) == ["b.wav"]

    # a new album folder inside a mood folder counts as a change too
    make_tone(root / "happy" / "new album" / "c.wav", 440, 0.1)
    os.utime(root / "happy" / "new album", ns=(3, 3))
    assert lib.refresh() == ["happy"]
    assert names(lib.tracks("happy")) == ["b.wav", "c.wav"]


def test_a_missing_folder_has_no_tracks_and_is_reported_once(root, make_tone, caplog):
    root.mkdir()
    lib = Library(root)
    caplog.set_level(logging.WARNING, logger="emusify.music.library")
    assert lib.tracks("sad") == []
    assert lib.refresh() == []
    assert len([r for r in caplog.records if "does not exist" in r.message]) == 1
    make_tone(root / "sad" / "a.wav", 220, 0.1)
    assert lib.refresh() == ["sad"]
    assert names(lib.tracks("sad")) == ["a.wav"]


def test_corrupt_and_empty_files_are_skipped_logged_once_and_remembered(root, make_tone, caplog):
    make_tone(root / "sad" / "good.wav", 220, 0.1)
    (root / "sad" / "junk.mp3").write_bytes(bytes(range(256)) * 20)
    (root / "sad" / "empty.flac").write_bytes(b"")
    caplog.set_level(logging.WARNING, logger="emusify.music.library")
    lib = Library(root)

    assert names(lib.tracks("sad")) == ["good.wav"]
    skipped = sorted(r.message for r in caplog.records if r.message.startswith("Skipping"))
    assert len(skipped) == 2
    assert "empty.flac: the file is empty" in skipped[0]
    assert "junk.mp3: corrupt or not an audio file" in skipped[1]
    assert lib.is_bad(root / "sad" / "junk.mp3")

    make_tone(root / "sad" / "other.wav", 220, 0.1)
    os.utime(root / "sad", ns=(1, 1))
    assert lib.refresh() == ["sad"]
    assert names(lib.tracks("sad")) == ["good.wav", "other.wav"]
    assert len([r for r in caplog.records if r.message.startswith("Skipping")]) == 2

    # replaced by a good file: it is given another chance
    shutil.copy(DEMO / "sad" / "grey-window.ogg", root / "sad" / "junk.mp3")
    os.utime(root / "sad", ns=(2, 2))
    lib.refresh()
    assert not lib.is_bad(root / "sad" / "junk.mp3")


def test_a_file_that_fails_later_is_remembered_as_bad(root, make_tone, caplog):
    good = make_tone(root / "calm" / "a.wav", 330, 0.1)
    make_tone(root / "calm" / "b.wav", 330, 0.1)
    lib = Library(root)
    caplog.set_level(logging.WARNING, logger="emusify.music.library")
    lib.mark_bad(good, "the decoder refused it")
    lib.mark_bad(good, "the decoder refused it")
    assert names(lib.tracks("calm")) == ["b.wav"]
    assert [r.message for r in caplog.records] == [f"Skipping {good}: the decoder refused it"]


def test_the_demo_plays_while_the_users_folders_are_empty(root, make_tone):
    from emusify.music.library import make_music_folder

    assert make_music_folder(root, {"happy", "sad", "calm"})
    assert sorted(p.name for p in root.iterdir()) == ["calm", "happy", "sad"]
    assert not make_music_folder(root, {"happy", "sad", "calm"})  # only the first time
    lib = Library(root, demo=DEMO)
    for folder in ("happy", "sad", "calm"):
        assert [t.path.parent for t in lib.tracks(folder)] == [DEMO / folder] * 2
    assert lib.playing_demo()
    # One track of the user's anywhere: the demo stops, also for the folders still empty.
    make_tone(root / "sad" / "mine.wav", 220, 1)
    assert lib.refresh() == ["sad"]
    assert names(lib.tracks("sad")) == ["mine.wav"]
    assert lib.tracks("happy") == [] and not lib.playing_demo()
    # A broken demo file is remembered by the demo library.
    bad = DEMO / "happy" / "sunny-steps.ogg"
    lib.mark_bad(bad, "test")
    assert lib.is_bad(bad)
