"""Which folder plays for a mood: the product's defaults, the uplift after sustained sadness,
and the fallback when a folder has nothing to play."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emusify.config import EMOTIONS, MusicConfig, load_config
from emusify.music.policy import MoodPolicy, with_fallback


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def minutes(self, m: float) -> None:
        self.now += m * 60


@pytest.fixture
def clock():
    return Clock()


def test_the_shipped_defaults_follow_the_idea_of_the_product(clock):
    music = load_config(create_user_copy=False).music  # the shipped config.yaml
    assert music == MusicConfig()
    policy = MoodPolicy(music, clock=clock)
    folders = {e: policy.decide(e).folder for e in EMOTIONS}
    assert folders == {
        "happy": "happy",
        "surprise": "happy",
        "neutral": "calm",
        "angry": "calm",
        "fear": "calm",
        "disgust": "calm",
        "sad": "sad",
    }


def test_sadness_held_for_the_uplift_time_switches_to_the_uplift_folder(clock):
    policy = MoodPolicy(MusicConfig(), clock=clock)  # sad: lift after 15 minutes
    seen = []
    for _ in range(5):  # a window every 5 minutes: 0, 5, 10, 15, 20
        choice = policy.decide("sad")
        seen.append((choice.folder, choice.reason, round(choice.held_seconds / 60)))
        clock.minutes(5)
    assert seen == [
        ("sad", "match", 0),
        ("sad", "match", 5),
        ("sad", "match", 10),
        ("happy", "lift", 15),
        ("happy", "lift", 20),
    ]


def test_another_mood_in_between_restarts_the_count(clock):
    policy = MoodPolicy(MusicConfig(), clock=clock)
    policy.decide("sad")
    clock.minutes(10)
    assert policy.decide("neutral").folder == "calm"
    clock.minutes(5)
    assert policy.decide("sad").folder == "sad"  # 15 min after the first sad window
    clock.minutes(14)
    assert policy.decide("sad").folder == "sad"
    clock.minutes(1)
    assert policy.decide("sad").folder == "happy"


def test_the_uplift_time_and_folder_are_configurable(clock):
    music = replace(MusicConfig(), uplift_after_minutes=2, uplift_folder="energetic")
    policy = MoodPolicy(music, clock=clock)
    policy.decide("sad")
    clock.minutes(2)
    assert policy.decide("sad").folder == "energetic"
    immediate = MoodPolicy(replace(music, uplift_after_minutes=0), clock=clock)
    assert immediate.decide("sad").folder == "energetic"


def test_match_or_lift_is_chosen_per_emotion(clock):
    music = replace(MusicConfig(), response={"sad": "match", "angry": "lift"})
    policy = MoodPolicy(music, clock=clock)
    policy.decide("sad")
    clock.minutes(60)
    assert policy.decide("sad").folder == "sad"  # match: sad music for as long as it lasts
    policy.decide("angry")
    clock.minutes(15)
    assert (policy.decide("angry").folder, policy.decide("angry").reason) == ("happy", "lift")


def test_an_unmapped_emotion_gets_the_default_folder(clock):
    music = replace(MusicConfig(), folders={"happy": "happy"}, response={})
    assert MoodPolicy(music, clock=clock).decide("fear").folder == "calm"


def test_an_empty_folder_falls_back_to_the_default_with_a_reason():
    full = {"calm"}
    assert with_fallback("calm", "calm", full.__contains__) == ("calm", None)
    folder, reason = with_fallback("sad", "calm", full.__contains__)
    assert folder == "calm"
    assert reason == "folder 'sad' has no playable tracks; playing 'calm' instead"


def test_when_the_default_is_empty_too_the_reason_says_why_nothing_plays():
    assert with_fallback("sad", "calm", lambda f: False) == (
        None,
        "neither folder 'sad' nor the default 'calm' has playable tracks",
    )
    assert with_fallback("calm", "calm", lambda f: False) == (
        None,
        "folder 'calm' has no playable tracks",
    )
