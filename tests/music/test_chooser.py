"""Track choice: a shuffle without repeats, with likes and dislikes shifting the odds."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise
from pathlib import Path

from emusify.music.chooser import Chooser

TRACKS = [Path(f"/songs/happy/{i:02d}.ogg") for i in range(10)]


def picks(chooser, n, tracks=TRACKS, ratings=None, folder="happy"):
    return [chooser.choose(folder, tracks, ratings) for _ in range(n)]


def test_no_track_repeats_before_the_folder_is_exhausted():
    chooser = Chooser(random.Random(1))
    played = picks(chooser, 50)
    for start in range(0, 50, 10):
        assert sorted(played[start : start + 10]) == TRACKS  # each round is a permutation
    assert all(a != b for a, b in pairwise(played))  # not even across rounds
    assert played[:10] != played[10:20]  # and each round is shuffled anew


def test_the_order_is_random_but_reproducible_with_a_seed():
    assert picks(Chooser(random.Random(7)), 10) == picks(Chooser(random.Random(7)), 10)
    assert picks(Chooser(random.Random(7)), 10) != picks(Chooser(random.Random(8)), 10)


def test_each_folder_has_its_own_round():
    chooser = Chooser(random.Random(2))
    calm = [Path(f"/songs/calm/{i}.ogg") for i in range(3)]
    first = picks(chooser, 5)
    picks(chooser, 3, calm, folder="calm")
    rest = picks(chooser, 5)
    assert sorted(first + rest) == TRACKS


def test_new_and_removed_files_change_the_current_round():
    chooser = Chooser(random.Random(3))
    first = picks(chooser, 3)
    shrunk = [t for t in TRACKS if t not in first][:4]
    grown = [*shrunk, Path("/songs/happy/new.ogg")]
    rest = picks(chooser, 5, grown)
    assert sorted(rest) == sorted(grown)


def test_a_liked_track_is_chosen_more_often():
    liked = {str(TRACKS[3]): 1}
    firsts = Counter(
        Chooser(random.Random(seed)).choose("happy", TRACKS, liked) for seed in range(3000)
    )
    others = [firsts[t] for t in TRACKS if t != TRACKS[3]]
    assert firsts[TRACKS[3]] > 2 * max(others)


def test_a_disliked_track_is_chosen_less_often():
    disliked = {str(TRACKS[5]): -1}
    counts = Counter(picks(Chooser(random.Random(4)), 600, ratings=disliked))
    others = [counts[t] for t in TRACKS if t != TRACKS[5]]
    assert counts[TRACKS[5]] < 0.6 * min(others)
    assert counts[TRACKS[5]] > 0  # less often, not never


def test_a_disliked_track_never_plays_twice_in_a_row():
    two = TRACKS[:2]
    disliked = {str(two[0]): -1}
    for seed in range(20):
        played = picks(Chooser(random.Random(seed)), 40, two, disliked)
        assert None not in played
        assert all(not (a == b == two[0]) for a, b in pairwise(played))


def test_a_lone_track_repeats_unless_it_is_disliked():
    lone = TRACKS[:1]
    assert picks(Chooser(random.Random(5)), 3, lone) == lone * 3
    chooser = Chooser(random.Random(5))
    assert picks(chooser, 2, lone, {str(lone[0]): -1}) == [lone[0], None]


def test_an_empty_folder_gives_nothing():
    assert Chooser().choose("sad", []) is None
