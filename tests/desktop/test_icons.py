"""Tray icons: one distinct drawn look per emotion and per state."""

from __future__ import annotations

import numpy as np
import pytest

from emusify.config import EMOTIONS
from emusify.desktop.icons import ICON_NAMES, STATES, draw_icon


def test_there_is_an_icon_for_every_emotion_and_state():
    assert set(ICON_NAMES) == set(EMOTIONS) | set(STATES)
    assert {"paused", "no_camera", "no_face"} <= set(STATES)


@pytest.mark.parametrize("size", [16, 22, 64])
def test_icons_are_square_rgba_at_any_size(size):
    for name in ICON_NAMES:
        image = draw_icon(name, size)
        assert image.mode == "RGBA" and image.size == (size, size)


def test_every_icon_looks_different_even_small():
    """At tray size (22 px) any two icons differ clearly, so the mood reads at a glance."""
    pixels = {n: np.asarray(draw_icon(n, 22), dtype=float) for n in ICON_NAMES}
    for i, a in enumerate(ICON_NAMES):
        for b in ICON_NAMES[i + 1 :]:
            diff = np.abs(pixels[a] - pixels[b]).mean()
            assert diff > 8, f"{a} and {b} look almost the same ({diff:.1f})"


def test_faces_are_round_with_transparent_corners():
    image = np.asarray(draw_icon("happy", 64))
    assert image[0, 0, 3] == 0 and image[32, 32, 3] == 255


def test_drawing_is_deterministic_and_returns_a_private_copy():
    a = draw_icon("sad")
    a.putpixel((32, 32), (0, 0, 0, 0))
    assert draw_icon("sad").getpixel((32, 32)) != (0, 0, 0, 0)


def test_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="no icon named 'sleepy'"):
        draw_icon("sleepy")


@pytest.mark.parametrize("size", [16, 22, 24, 64])
def test_no_stray_pixels_around_the_face(size):
    """Nothing visible outside the circle, no faint specks, and the soft edge is the outline's
    colour (not the fill's): a tray without alpha blending shows every visible pixel solid."""
    h = size
    yy, xx = np.mgrid[:h, :h]
    r = np.hypot(yy - (h - 1) / 2, xx - (h - 1) / 2)
    outside = r > h / 2 * (29 / 32) + 1.0  # the face's circle is 3..61 on the 64-pixel grid
    ring = (r > h / 2 * (29 / 32) - 0.5) & ~outside  # the outermost pixels
    for name in ICON_NAMES:
        a = np.asarray(draw_icon(name, size)).astype(int)
        alpha = a[..., 3]
        assert not alpha[outside].any(), f"{name}: visible pixels outside the circle"
        assert not ((alpha > 0) & (alpha < 32)).any(), f"{name}: faint specks"
        outline = (120, 120, 120) if name == "no_face" else (30, 30, 30)
        soft = ring & (alpha > 0) & (alpha < 255)
        far = np.abs(a[..., :3][soft] - outline).max(axis=1) > 60
        assert not far.any(), f"{name}: {int(far.sum())} edge pixels are not the outline colour"
