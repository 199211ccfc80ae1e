"""Build the recognition test assets from FER2013 faces (run once, by hand).

* ``faces/<emotion>_<n>.png``: three PublicTest faces per emotion, as stored (48x48 gray).
* ``happy_faces.mp4`` and ``sad_faces.mp4``: 20 PublicTest faces each, upscaled to 192 px,
  every face held for 2 frames at 5 frames per second (8 s): the "camera" of end-to-end tests.

Only faces that FaceMesh finds on the image itself are used (landmark source "face_mesh"), so
that the assets test the main path rather than the padded retry or the Holistic fallback.
(Extractor version 1 tried Holistic first and chose the faces Holistic found; with version 2
the stills of every emotion but sad stayed the same; the videos were made again.)
Usage::

    python tests/assets/make_recognition_assets.py ../shared/data/fer2013
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from emusify.sensing.landmarks import LandmarkExtractor

HERE = Path(__file__).parent
STILLS = 3
VIDEO_FACES = 20
HOLD = 2
SIDE = 192
FPS = 5


def main_path_faces(folder: Path, n: int, extractor: LandmarkExtractor) -> list[Path]:
    chosen = []
    for path in sorted(folder.glob("*.jpg")):
        lm = extractor.extract(cv2.imread(str(path)))
        if lm is not None and lm.source == "face_mesh":
            chosen.append(path)
            if len(chosen) == n:
                break
    return chosen


def main(fer_root: Path) -> None:
    test = fer_root / "test"
    with LandmarkExtractor() as extractor:
        for folder in sorted(p for p in test.iterdir() if p.is_dir()):
            for i, path in enumerate(main_path_faces(folder, STILLS, extractor)):
                cv2.imwrite(str(HERE / "faces" / f"{folder.name}_{i}.png"), cv2.imread(str(path)))
        for emotion in ("happy", "sad"):
            # Skip the stills' faces: the video shows other people.
            faces = main_path_faces(test / emotion, STILLS + VIDEO_FACES, extractor)[STILLS:]
            out = HERE / f"{emotion}_faces.mp4"
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIDE, SIDE))
            for path in faces:
                image = cv2.resize(cv2.imread(str(path)), (SIDE, SIDE), cv2.INTER_CUBIC)
                for _ in range(HOLD):
                    writer.write(image)
            writer.release()
            print(f"{out}: {len(faces)} faces, {len(faces) * HOLD / FPS:.0f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
