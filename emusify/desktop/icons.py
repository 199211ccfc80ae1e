"""Tray icons drawn with PIL: one face per emotion, plus the daemon's states.

Drawn rather than shipped as files so every look stays consistent and scales to any tray size.
Each is drawn at 4x and averaged down (premultiplied, box filter), which gives smooth edges
without an anti-aliasing library and without a halo of faint stray pixels. The faces differ
in colour *and* shape, so they read in a grey-scale tray too.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw

from emusify.config import EMOTIONS

#: States that are not an emotion: before the first check, paused, camera missing, no face.
STATES = ("idle", "paused", "no_camera", "no_face")
ICON_NAMES = (*EMOTIONS, *STATES)

_FACE_COLOURS = {
    "happy": (255, 204, 0),
    "surprise": (255, 140, 0),
    "neutral": (200, 200, 200),
    "sad": (70, 130, 230),
    "angry": (220, 40, 40),
    "fear": (150, 90, 200),
    "disgust": (90, 170, 60),
}
_INK = (30, 30, 30, 255)
_WHITE = (255, 255, 255, 255)
_SCALE = 4
_BASE = 64 * _SCALE


def draw_icon(name: str, size: int = 64) -> Image.Image:
    """The RGBA icon for an emotion or a state in ICON_NAMES, ``size`` pixels square."""
    if name not in ICON_NAMES:
        raise ValueError(f"no icon named {name!r}; known: {', '.join(ICON_NAMES)}")
    return _draw(name, size).copy()


@lru_cache(maxsize=64)
def _draw(name: str, size: int) -> Image.Image:
    image = Image.new("RGBA", (_BASE, _BASE), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    if name in _FACE_COLOURS:
        _face(d, name)
    else:
        {"idle": _idle, "paused": _paused, "no_camera": _no_camera, "no_face": _no_face}[name](d)
    return _downscale(image, size)


#: Edge pixels fainter than this are dropped: trays without alpha blending (X trays that use a
#: shape mask) would show them as solid stray dots.
_MIN_ALPHA = 32


def _downscale(image: Image.Image, size: int) -> Image.Image:
    """Average (box filter) with premultiplied alpha: no ringing halo of faint pixels around
    the circle, and no fill colour leaking into the transparent edge."""
    small = image.convert("RGBa").resize((size, size), Image.BOX).convert("RGBA")
    alpha = small.getchannel("A").point(lambda a: 0 if a < _MIN_ALPHA else a)
    small.putalpha(alpha)
    return small


def _s(*values: float) -> list[float]:
    """Design coordinates are on a 64-pixel grid; scale them to the drawing canvas."""
    return [v * _SCALE for v in values]


def _circle(d: ImageDraw.ImageDraw, fill: tuple[int, ...], outline=_INK) -> None:
    d.ellipse(_s(3, 3, 61, 61), fill=fill, outline=outline, width=3 * _SCALE)


def _eyes(d: ImageDraw.ImageDraw, radius: float = 4, y: float = 25) -> None:
    for x in (22, 42):
        d.ellipse(_s(x - radius, y - radius, x + radius, y + radius), fill=_INK)


def _face(d: ImageDraw.ImageDraw, emotion: str) -> None:
    _circle(d, _FACE_COLOURS[emotion] + (255,))
    w = 4 * _SCALE
    if emotion == "happy":
        _eyes(d)
        d.arc(_s(16, 22, 48, 50), 20, 160, fill=_INK, width=w)
    elif emotion == "surprise":
        for x in (22, 42):
            d.ellipse(_s(x - 6, 18, x + 6, 30), fill=_WHITE, outline=_INK, width=2 * _SCALE)
            d.ellipse(_s(x - 2, 22, x + 2, 26), fill=_INK)
        d.ellipse(_s(26, 36, 38, 52), fill=_INK)
    elif emotion == "neutral":
        _eyes(d)
        d.line(_s(20, 43, 44, 43), fill=_INK, width=w)
    elif emotion == "sad":
        _eyes(d, y=27)
        d.arc(_s(18, 40, 46, 60), 200, 340, fill=_INK, width=w)
        d.polygon(_s(42, 32, 39, 39, 45, 39), fill=(180, 230, 255, 255))
    elif emotion == "angry":
        _eyes(d, radius=3.5, y=28)
        d.line(_s(14, 17, 28, 23), fill=_INK, width=w)
        d.line(_s(50, 17, 36, 23), fill=_INK, width=w)
        d.arc(_s(20, 42, 44, 58), 210, 330, fill=_INK, width=w)
    elif emotion == "fear":
        for x in (22, 42):
            d.ellipse(_s(x - 5, 19, x + 5, 31), fill=_WHITE, outline=_INK, width=2 * _SCALE)
            d.ellipse(_s(x - 1.5, 23.5, x + 1.5, 26.5), fill=_INK)
        d.line(
            _s(18, 46, 24, 42, 30, 46, 36, 42, 42, 46, 46, 43), fill=_INK, width=w, joint="curve"
        )
    elif emotion == "disgust":
        d.line(_s(16, 26, 28, 24), fill=_INK, width=w)
        d.line(_s(36, 24, 48, 26), fill=_INK, width=w)
        d.line(_s(20, 46, 34, 41, 46, 48), fill=_INK, width=w, joint="curve")
        d.ellipse(_s(40, 46, 48, 56), fill=(120, 220, 90, 255), outline=_INK, width=_SCALE)


def _idle(d: ImageDraw.ImageDraw) -> None:
    _circle(d, (120, 120, 120, 255))
    for x in (20, 32, 44):
        d.ellipse(_s(x - 4, 28, x + 4, 36), fill=_WHITE)


def _paused(d: ImageDraw.ImageDraw) -> None:
    _circle(d, (90, 90, 90, 255))
    d.rectangle(_s(22, 18, 29, 46), fill=_WHITE)
    d.rectangle(_s(35, 18, 42, 46), fill=_WHITE)


def _no_camera(d: ImageDraw.ImageDraw) -> None:
    _circle(d, (60, 60, 70, 255))
    d.rounded_rectangle(_s(14, 24, 42, 44), radius=3 * _SCALE, fill=_WHITE)
    d.polygon(_s(42, 30, 52, 24, 52, 44, 42, 38), fill=_WHITE)
    d.ellipse(_s(22, 28, 34, 40), fill=(60, 60, 70, 255))
    d.line(_s(14, 50, 50, 14), fill=(230, 50, 50, 255), width=5 * _SCALE)


def _no_face(d: ImageDraw.ImageDraw) -> None:
    _circle(d, (230, 230, 230, 255), outline=(120, 120, 120, 255))
    # A face-shaped hole with a question mark: the camera worked but saw nobody.
    d.ellipse(_s(18, 12, 46, 52), outline=(120, 120, 120, 255), width=2 * _SCALE)
    d.arc(_s(25, 20, 39, 34), 180, 90, fill=_INK, width=4 * _SCALE)
    d.line(_s(32, 34, 32, 39), fill=_INK, width=4 * _SCALE)
    d.ellipse(_s(30, 42, 34, 46), fill=_INK)
