"""The jukebox end to end: moods in, real audio out (SDL's disk driver), history written."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace

import numpy as np
import pytest

from emusify.config import Config, MusicConfig
from emusify.history import History
from emusify.music.chooser import Chooser
from emusify.music.jukebox import AUDIO_RETRY_SECONDS, Jukebox

SILENT = 0.002


class Clock:
    """Real time plus minutes added by the test (for the uplift timer)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def minutes(self, m: float) -> None:
        self.offset += m * 60


@pytest.fixture
def songs(tmp_path):
    return tmp_path / "songs"


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "history.sqlite3")
    yield h
    h.close()


@pytest.fixture
def make_jukebox(songs, history, disk_audio):
    made = []

    def make(clock=None, seed=1, **music) -> Jukebox:
        music.setdefault("fade_seconds", 0.0)
        config = replace(Config(), music=replace(MusicConfig(), songs_root=str(songs), **music))
        jb = Jukebox(config, history, clock=clock or Clock(), chooser=Chooser(random.Random(seed)))
        made.append(jb)
        return jb

    yield make
    for jb in made:
        jb.close()


def run(jukebox: Jukebox, seconds: float, until=None) -> None:
    """Tick like the daemon (every 50 ms) for ``seconds``, or until ``until()`` holds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        jukebox.tick()
        if until is not None and until():
            return
        time.sleep(0.05)
    if until is not None:
        raise AssertionError(f"condition not met within {seconds} s: {jukebox.status()}")


def sounding_spans(disk_audio, window=0.05):
    """(start, end) seconds of each stretch of sound in the recording."""
    loud = disk_audio.levels(window) > SILENT
    spans, start = [], None
    for i, v in enumerate([*loud, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            spans.append((start * window, i * window))
            start = None
    return spans


def test_a_fresh_clone_plays_a_bundled_demo_track(history, disk_audio):
    config = replace(Config(), music=replace(MusicConfig(), fade_seconds=0.2))
    jb = Jukebox(config, history)
    jb.set_mood("happy", 0.8)
    status = jb.status()
    assert (status.state, status.folder, status.emotion) == ("playing", "happy", "happy")
    assert status.title in {"Sunny Steps", "Bright Morning"}
    assert status.artist == "Emusify demo"
    assert status.volume == pytest.approx(0.8) and status.audio_error is None
    run(jb, 1.0)
    jb.close()
    assert jb.status().state == "stopped"
    levels = disk_audio.levels()
    assert np.mean(levels[5:15]) > 0.02  # music, not silence
    assert [p.ended for p in history.plays()] == ["stopped"]


def test_when_a_track_ends_the_next_one_starts(make_jukebox, songs, make_tone, history):
    make_tone(songs / "happy" / "a.wav", 440, 0.4)
    make_tone(songs / "happy" / "b.wav", 660, 0.4)
    jb = make_jukebox()
    jb.set_mood("happy", 0.9)
    run(jb, 3, until=lambda: len(history.plays()) >= 3)
    plays = history.plays()
    assert [p.ended for p in plays[:2]] == ["finished", "finished"]
    assert {plays[0].path, plays[1].path} == {str(songs / "happy" / n) for n in ("a.wav", "b.wav")}
    assert plays[2].path != plays[1].path


def test_skip_moves_to_another_file(make_jukebox, songs, make_tone, history, disk_audio):
    pitch = {"a.wav": 440, "b.wav": 660}
    for name, hz in pitch.items():
        make_tone(songs / "happy" / name, hz, 5)
    jb = make_jukebox()
    jb.set_mood("happy", 0.9)
    before = jb.status().path
    run(jb, 0.6)
    jb.skip()
    after = jb.status().path
    assert after is not None and after != before
    run(jb, 0.6)
    jb.close()

    (start, end), *_ = sounding_spans(disk_audio)
    assert disk_audio.pitch(start + 0.1, start + 0.5) == pytest.approx(
        pitch[before.rsplit("/", 1)[1]], abs=3
    )
    assert disk_audio.pitch(end - 0.5, end - 0.1) == pytest.approx(
        pitch[after.rsplit("/", 1)[1]], abs=3
    )
    assert [(p.path, p.ended) for p in history.plays()] == [
        (before, "skipped"),
        (after, "stopped"),
    ]


def test_a_mood_change_fades_over_at_once_when_configured(
    make_jukebox, songs, make_tone, history, disk_audio
):
    make_tone(songs / "happy" / "a.wav", 440, 5)
    make_tone(songs / "calm" / "a.wav", 330, 5)
    jb = make_jukebox(on_mood_change="now", fade_seconds=0.5)
    jb.set_mood("happy", 0.9)
    run(jb, 1.0)
    jb.set_mood("neutral", 0.7)
    assert jb.status().folder == "happy"  # fading out, not cut
    run(jb, 2, until=lambda: jb.status().folder == "calm")
    run(jb, 0.8)
    jb.close()

    assert [(p.folder, p.emotion, p.ended) for p in history.plays()] == [
        ("happy", "happy", "mood_change"),
        ("calm", "neutral", "stopped"),
    ]
    levels = disk_audio.levels()
    loud = np.flatnonzero(levels > SILENT)
    first, last = loud[0] * 0.05, loud[-1] * 0.05
    assert disk_audio.pitch(first + 0.5, first + 0.9) == pytest.approx(440, abs=3)
    assert disk_audio.pitch(last - 0.4, last) == pytest.approx(330, abs=3)
    # between them the level dips: the first track fades out, the next fades in
    middle = levels[loud[0] + 22 : loud[-1] - 10]
    assert middle.min() < 0.5 * np.median(levels[loud])


def test_after_track_lets_the_current_track_finish(make_jukebox, songs, make_tone, history):
    make_tone(songs / "happy" / "a.wav", 440, 0.8)
    make_tone(songs / "calm" / "a.wav", 330, 3)
    jb = make_jukebox(on_mood_change="after_track")
    jb.set_mood("happy", 0.9)
    run(jb, 0.2)
    jb.set_mood("neutral", 0.7)
    run(jb, 0.3)
    assert jb.status().folder == "happy"
    run(jb, 2, until=lambda: jb.status().folder == "calm")
    assert [(p.folder, p.ended) for p in history.plays()] == [("happy", "finished"), ("calm", None)]


def test_sustained_sadness_switches_to_the_uplift_folder(make_jukebox, songs, make_tone, history):
    make_tone(songs / "sad" / "a.wav", 220, 0.5)
    make_tone(songs / "happy" / "a.wav", 440, 5)
    clock = Clock()
    jb = make_jukebox(clock=clock)  # defaults: sad lifts to "happy" after 15 minutes
    jb.set_mood("sad", 0.8)
    assert (jb.status().folder, jb.status().response) == ("sad", "match")
    clock.minutes(10)
    jb.set_mood("sad", 0.8)
    run(jb, 0.8, until=lambda: len(history.plays()) >= 2)
    assert jb.status().folder == "sad"  # ten minutes of sadness: still sad music
    clock.minutes(5)
    jb.set_mood("sad", 0.8)
    run(jb, 1.5, until=lambda: jb.status().folder == "happy")
    assert jb.status().response == "lift"
    plays = history.plays()
    assert [p.folder for p in plays] == ["sad"] * (len(plays) - 1) + ["happy"]
    assert {p.emotion for p in plays} == {"sad"}


def test_an_empty_folder_falls_back_to_the_default_with_a_warning(
    make_jukebox, songs, make_tone, caplog
):
    (songs / "sad").mkdir(parents=True)
    make_tone(songs / "calm" / "a.wav", 330, 3)
    caplog.set_level(logging.WARNING)
    jb = make_jukebox()
    jb.set_mood("sad", 0.8)
    status = jb.status()
    assert (status.state, status.folder, status.emotion) == ("playing", "calm", "sad")
    assert status.note == "folder 'sad' has no playable tracks; playing 'calm' instead"
    assert status.note in caplog.text


def test_with_nothing_to_play_the_log_says_why(make_jukebox, songs, make_tone, caplog):
    songs.mkdir()
    caplog.set_level(logging.WARNING)
    clock = Clock()
    jb = make_jukebox(clock=clock)
    jb.set_mood("sad", 0.8)
    jb.set_mood("sad", 0.8)
    clock.minutes(1)
    run(jb, 0.2)
    status = jb.status()
    assert status.state == "stopped" and status.path is None
    reason = "neither folder 'sad' nor the default 'calm' has playable tracks"
    assert status.note == reason
    assert caplog.text.count(reason) == 1  # said once, not at every tick

    make_tone(songs / "calm" / "new.wav", 330, 3)  # the user adds music: it starts by itself
    clock.minutes(1)
    run(jb, 1, until=lambda: jb.status().state == "playing")
    assert jb.status().folder == "calm"


def test_a_corrupt_file_is_skipped_logged_once_and_never_played(
    make_jukebox, songs, make_tone, history, caplog
):
    folder = songs / "happy"
    good = make_tone(folder / "good.wav", 440, 3)
    (folder / "scan-time.mp3").write_bytes(bytes(range(256)) * 20)  # caught by the tag reader
    for name in ("play-time-1.ogg", "play-time-2.ogg"):  # only the decoder notices these
        (folder / name).write_bytes(b"OggS" + bytes(200))
    caplog.set_level(logging.WARNING)
    jb = make_jukebox()
    jb.set_mood("happy", 0.9)
    for _ in range(4):
        assert jb.status().path == str(good)
        jb.skip()
    assert {p.path for p in history.plays()} == {str(good)}
    skipped = [r.message for r in caplog.records if r.message.startswith("Skipping")]
    assert sorted(m.split(":")[0].rsplit("/", 1)[1] for m in skipped) == [
        "play-time-1.ogg",
        "play-time-2.ogg",
        "scan-time.mp3",
    ]


def test_without_an_audio_device_the_jukebox_reports_it_and_carries_on(
    songs, history, make_tone, tmp_path, monkeypatch, caplog
):
    make_tone(songs / "happy" / "a.wav", 440, 3)
    speaker = tmp_path / "not-yet" / "speaker.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(speaker))
    caplog.set_level(logging.ERROR)
    clock = Clock()
    config = replace(Config(), music=replace(MusicConfig(), songs_root=str(songs)))
    jb = Jukebox(config, history, clock=clock)
    for command in (jb.tick, jb.skip, jb.pause, jb.resume, jb.like, jb.dislike, jb.stop):
        command()
    jb.set_mood("happy", 0.9)
    jb.set_volume(0.5)
    status = jb.status()
    assert status.state == "no_audio" and status.volume == 0.5
    assert "cannot open disk" in status.audio_error
    clock.minutes(AUDIO_RETRY_SECONDS / 60 + 0.1)
    jb.tick()  # retried, failed again quietly
    assert len([r for r in caplog.records if "music is off" in r.message]) == 1

    speaker.parent.mkdir()  # the device appears: the latest mood plays
    jb.resume()
    clock.minutes(AUDIO_RETRY_SECONDS / 60 + 0.1)
    jb.tick()
    status = jb.status()
    assert (status.state, status.folder, status.audio_error) == ("playing", "happy", None)
    jb.close()


def test_likes_and_dislikes_are_kept_in_the_history(make_jukebox, songs, make_tone, history):
    a = make_tone(songs / "happy" / "a.wav", 440, 3)
    jb = make_jukebox()
    jb.like()  # nothing playing: nothing to rate, no error
    assert history.ratings() == {}
    jb.set_mood("happy", 0.9)
    jb.like()
    assert history.ratings() == {str(a): 1}
    jb.dislike()
    assert history.ratings() == {str(a): -1}


def test_pause_and_stop_hold_the_music_through_mood_changes(
    make_jukebox, songs, make_tone, history
):
    make_tone(songs / "happy" / "a.wav", 440, 5)
    make_tone(songs / "calm" / "a.wav", 330, 5)
    jb = make_jukebox(fade_seconds=0.3)
    jb.set_mood("happy", 0.9)
    jb.pause()
    jb.set_mood("neutral", 0.9)
    run(jb, 0.2)
    assert (jb.status().state, jb.status().folder) == ("paused", "happy")
    jb.resume()
    assert jb.status().state == "playing"

    jb.stop()  # fades out, then stays stopped
    run(jb, 1, until=lambda: jb.status().state == "stopped")
    jb.set_mood("happy", 0.9)
    run(jb, 0.2)
    assert jb.status().state == "stopped"
    jb.resume()
    assert jb.status().state == "playing"
    assert history.plays()[0].ended == "stopped"


def test_a_file_without_real_audio_is_not_restarted_over_and_over(
    make_jukebox, songs, make_tone, history, caplog
):
    blip = make_tone(songs / "calm" / "blip.wav", 440, 0.005)
    caplog.set_level(logging.WARNING)
    jb = make_jukebox()
    jb.set_mood("neutral", 0.9)
    run(jb, 1.0)
    assert [(p.path, p.ended) for p in history.plays()] == [(str(blip), "finished")]
    assert f"Skipping {blip}: it ended after" in caplog.text
    assert jb.status().state == "stopped"
    assert jb.status().note == "folder 'calm' has no playable tracks"


def test_a_like_given_while_sad_counts_when_sad_and_not_when_happy(
    make_jukebox, songs, make_tone, history, tmp_path
):
    tracks = [make_tone(songs / "mix" / f"{n}.wav", 440, 3) for n in "abc"]
    one_folder = {"folders": {"sad": "mix", "happy": "mix"}, "response": {}}
    jb = make_jukebox(**one_folder)
    jb.set_mood("sad", 0.9)
    liked = jb.status().path
    jb.like()
    jb.close()
    assert [(r.path, r.rating, r.emotion) for r in history.rating_rows()] == [(liked, 1, "sad")]

    # The next start reads the ratings back from the file.
    again = make_jukebox(**one_folder)
    assert again.ratings_for("sad") == {liked: 1}
    assert again.ratings_for("happy") == {}

    def first_pick_share(mood: str) -> float:
        ratings = again.ratings_for(mood)
        firsts = [
            Chooser(random.Random(seed)).choose("mix", tracks, ratings) for seed in range(600)
        ]
        return sum(str(p) == liked for p in firsts) / len(firsts)

    # Liked: drawn 3 times as readily, 3/5 of first picks when sad; 1/3 when happy.
    assert first_pick_share("sad") == pytest.approx(0.6, abs=0.06)
    assert first_pick_share("happy") == pytest.approx(1 / 3, abs=0.06)


def test_ratings_from_before_per_mood_ratings_count_in_every_mood(make_jukebox, songs, history):
    history.rate(str(songs / "mix" / "a.wav"), -1)  # as a version 1 history holds it
    history.rate(str(songs / "mix" / "a.wav"), 1, emotion="happy")
    jb = make_jukebox()
    assert jb.ratings_for("sad") == {str(songs / "mix" / "a.wav"): -1}
    assert jb.ratings_for("happy") == {str(songs / "mix" / "a.wav"): 1}


def test_a_mood_set_by_hand_switches_at_once_even_after_track(make_jukebox, songs, make_tone):
    make_tone(songs / "happy" / "h.wav", 880, 10)
    make_tone(songs / "sad" / "s.wav", 220, 10)
    jb = make_jukebox(on_mood_change="after_track", fade_seconds=0.2)
    jb.set_mood("happy", 0.9)
    run(jb, 3, until=lambda: jb.status().folder == "happy")
    jb.set_mood("sad", 0.9)  # a detected mood waits for the track to end
    run(jb, 0.5)
    assert jb.status().folder == "happy"
    jb.set_mood("sad", 1.0, at_once=True)
    run(jb, 2, until=lambda: jb.status().folder == "sad")
