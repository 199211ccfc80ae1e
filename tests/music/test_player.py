"""The player makes real sound: SDL's disk driver records what a speaker would get."""

from __future__ import annotations

import time

import numpy as np
import pytest

from emusify.errors import AudioError
from emusify.music.player import Player, UnplayableTrack

SILENT = 0.002  # RMS below this is silence (16-bit dither level is ~3e-5)


def wait_for_end(player: Player, timeout: float) -> float:
    """Poll like the daemon does; return the seconds until the player reported the end."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if player.poll():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"the track did not end within {timeout} s")


def runs(mask: np.ndarray) -> list[tuple[bool, int]]:
    """Run-length encoding of a boolean sequence: [(value, length), ...]."""
    out: list[tuple[bool, int]] = []
    for v in mask:
        if out and out[-1][0] == bool(v):
            out[-1] = (bool(v), out[-1][1] + 1)
        else:
            out.append((bool(v), 1))
    return out


@pytest.fixture
def player(disk_audio):
    p = Player()
    p.open()
    yield p
    p.close()


def test_a_played_track_reaches_the_speaker_and_its_end_is_reported(
    player, disk_audio, make_tone, tmp_path
):
    tone = make_tone(tmp_path / "a.wav", 440, 0.6, level=0.5)
    player.play(tone)
    assert player.state == "playing" and player.path == tone
    waited = wait_for_end(player, timeout=3)
    assert 0.5 < waited < 1.2
    assert player.state == "stopped" and not player.poll()  # reported once
    player.close()

    levels = disk_audio.levels()
    loud = levels[levels > SILENT]
    assert len(loud) * 0.05 == pytest.approx(0.6, abs=0.1)
    # full volume of a 0.5-amplitude sine is 0.5/sqrt(2) RMS
    assert np.median(loud) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    start = np.argmax(levels > SILENT) * 0.05
    assert disk_audio.pitch(start + 0.1, start + 0.5) == pytest.approx(440, abs=3)


def test_volume_scales_the_level(player, disk_audio, make_tone, tmp_path):
    player.set_volume(0.25)
    player.play(make_tone(tmp_path / "a.wav", 440, 0.4, level=0.5))
    wait_for_end(player, timeout=3)
    player.close()
    levels = disk_audio.levels()
    assert np.median(levels[levels > SILENT]) == pytest.approx(0.25 * 0.5 / np.sqrt(2), rel=0.1)


def test_a_fade_out_lowers_the_level_gradually_then_ends_the_track(
    player, disk_audio, make_tone, tmp_path
):
    player.play(make_tone(tmp_path / "long.wav", 440, 5, level=0.5))
    time.sleep(0.5)
    player.stop(fade_seconds=1.0)
    assert player.state == "playing"  # still audible while fading
    waited = wait_for_end(player, timeout=3)
    assert 0.8 < waited < 1.4
    player.close()

    levels = disk_audio.levels()
    full = 0.5 / np.sqrt(2)
    sounding = np.flatnonzero(levels > SILENT)
    span = levels[sounding[0] : sounding[-1] + 1]
    steady = np.flatnonzero(span > 0.95 * full)
    fade = span[steady[-1] + 1 :]
    # about a second of windows in between full and silent, each quieter than the last
    assert len(fade) * 0.05 == pytest.approx(1.0, abs=0.25)
    assert np.all(np.diff(fade) < 0.01)
    assert np.any((fade > 0.3 * full) & (fade < 0.7 * full))
    assert fade[-1] < 0.1 * full


def test_a_fade_in_raises_the_level_gradually(player, disk_audio, make_tone, tmp_path):
    player.play(make_tone(tmp_path / "a.wav", 440, 1.2, level=0.5), fade_seconds=0.8)
    wait_for_end(player, timeout=3)
    player.close()
    levels = disk_audio.levels()
    full = 0.5 / np.sqrt(2)
    sounding = levels[np.argmax(levels > SILENT) :]
    rising = sounding[: np.argmax(sounding > 0.95 * full)]
    assert len(rising) * 0.05 == pytest.approx(0.8, abs=0.2)
    assert np.all(np.diff(rising) > -0.01)


def test_pause_stops_the_samples_and_resume_continues(player, disk_audio, make_tone, tmp_path):
    player.play(make_tone(tmp_path / "long.wav", 440, 5, level=0.5))
    time.sleep(0.5)
    player.pause()
    assert player.state == "paused"
    time.sleep(0.7)
    assert not player.poll()  # a paused track has not ended
    player.resume()
    assert player.state == "playing"
    time.sleep(0.5)
    player.stop()
    player.close()

    pattern = runs(disk_audio.levels() > SILENT)
    # (leading silence), sound, silence while paused, sound again, (trailing silence)
    sound = [(i, n) for i, (v, n) in enumerate(pattern) if v]
    assert len(sound) == 2
    (first, n1), (second, n2) = sound
    gap = sum(n for _, n in pattern[first + 1 : second]) * 0.05
    # SDL's disk driver writes in (roughly) real time; allow for a busy machine
    assert 0.45 <= gap <= 0.9
    assert 0.3 <= n1 * 0.05 <= 0.7
    assert 0.3 <= n2 * 0.05 <= 0.7


def test_a_corrupt_file_raises_unplayable_and_the_player_goes_on(
    player, disk_audio, make_tone, tmp_path
):
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(b"OggS" + bytes(range(256)) * 8)
    with pytest.raises(UnplayableTrack, match=r"broken\.ogg"):
        player.play(bad)
    assert player.state == "stopped"
    player.play(make_tone(tmp_path / "ok.wav", 440, 0.3))
    assert player.state == "playing"
    wait_for_end(player, timeout=2)


def test_no_audio_device_is_one_clear_audio_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "missing-dir" / "out.raw"))
    player = Player()
    with pytest.raises(AudioError, match="No audio output: cannot open disk"):
        player.open()
    assert not player.is_open
    with pytest.raises(AudioError, match="not open"):
        player.play(tmp_path / "any.wav")
    player.set_volume(0.3)  # harmless without a device
    player.pause()
    player.stop()
    assert player.state == "stopped" and player.volume == 0.3
