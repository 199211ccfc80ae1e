"""Several days of history written through the real History API, as a daemon would.

Five mornings of checks every 15 minutes, with a track started at each reading from the
folder the shipped config maps the mood to. The moods follow a scripted pattern in which
the "happy" folder tends to lift the next reading and the "sad" one does not; a few readings
are corrected, a few moods set by hand, a few tracks rated.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from emusify.history import History

FOLDER = {"happy": "happy", "surprise": "happy", "sad": "sad", "neutral": "calm", "angry": "calm"}
#: Unpleasant to pleasant; the next mood moves along it.
LADDER = ["angry", "sad", "neutral", "surprise", "happy"]
#: Folder -> chances that the next reading is one step up, the same, one step down.
MOVES = {"happy": (0.6, 0.3, 0.1), "calm": (0.3, 0.5, 0.2), "sad": (0.15, 0.5, 0.35)}
#: What the listener says instead, for the readings they correct.
CORRECT = {"happy": "neutral", "sad": "fear", "neutral": "sad"}
START = datetime(2026, 11, 16, 9, 0)


def write_scripted_history(path: Path, days: int = 5, seed: int = 3) -> dict[str, int]:
    """Write the history; returns the counts written (checks, plays, corrections, ...)."""
    rng = random.Random(seed)
    counts = {"checks": 0, "plays": 0, "corrections": 0, "moods_set": 0, "ratings": 0}
    with History(path) as h:
        for day in range(days):
            t = START + timedelta(days=day)
            mood, sad_spell = rng.choice(LADDER), 0
            for step in range(13):
                at = (t + timedelta(minutes=15 * step)).timestamp()
                read = mood
                window = h.record_window("mood", read, 0.6, 0.7, 60, 80, at=at)
                counts["checks"] += 1
                if read in CORRECT and (step + day) % 5 == 2:
                    mood = CORRECT[read]  # the listener says the check was wrong
                    h.record_mood_set(mood, at + 3600, at=at + 60)
                    h.record_correction(window, read, mood, at=at + 60)
                    counts["corrections"] += 1
                elif step == 6 and day % 2 == 0:
                    mood = "sad"  # set by hand, long after the check: not a correction
                    h.record_mood_set(mood, at + 3600, at=at + 700)
                    counts["moods_set"] += 1
                sad_spell = sad_spell + 1 if mood in ("sad", "fear") else 0
                folder = "happy" if sad_spell > 2 else FOLDER.get(mood, "calm")  # uplift
                track = f"/songs/{folder}/{folder}-{rng.randrange(3)}.ogg"
                play = h.record_play(track, folder, mood, at=at + 61)
                h.end_play(play, "finished", at=at + 61 + 14 * 60)
                counts["plays"] += 1
                if rng.random() < 0.25:
                    h.rate(track, 1 if folder != "sad" else -1, emotion=mood, at=at + 120)
                    counts["ratings"] += 1
                up, same, _ = MOVES[folder]
                level = LADDER.index(mood) if mood in LADDER else 1
                roll = rng.random()
                level += 1 if roll < up else 0 if roll < up + same else -1
                mood = LADDER[min(max(level, 0), len(LADDER) - 1)]
            # an undecided check at the end of each morning
            h.record_window("no_face", None, None, None, 2, 80, at=at + 900)
            counts["checks"] += 1
    return counts
