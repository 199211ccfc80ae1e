"""Build the second-session test videos for collection from FER2013 faces (run once, by hand).

``happy_faces_2.mp4`` and ``sad_faces_2.mp4``: 40 faces each from the PublicTest split (other
faces than the ``*_faces.mp4`` videos), upscaled to 192 px, one face per frame at 10 frames per
second, so that a model trained on one video's session is checked on other faces. Usage::

    python tests/assets/make_collect_videos.py ../shared/data/fer2013
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

FACES = 40
SKIP = 100  #: leave the first faces of each folder to other assets
SIDE = 192
FPS = 10


def build(fer_root: Path, emotion: str, out: Path) -> None:
    images = sorted((fer_root / "test" / emotion).glob("*.jpg"))[SKIP : SKIP + FACES]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIDE, SIDE))
    for path in images:
        image = cv2.imread(str(path))
        writer.write(cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC))
    writer.release()
    print(f"{out}: {len(images)} faces")


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/fer2013")
    here = Path(__file__).resolve().parent
    for name in ("happy", "sad"):
        build(root, name, here / f"{name}_faces_2.mp4")
