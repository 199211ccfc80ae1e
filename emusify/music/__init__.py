"""Mood to music: which folder, which track, and playing it."""
