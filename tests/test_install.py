"""Installed like an app: a wheel in a fresh virtual environment, used from another folder.

The wheel is built from a copy of the project's files (so the build cannot lean on anything
else in the checkout) and installed with ``--no-deps`` into a new venv whose ``.pth`` file
points at the running interpreter's site-packages for the dependencies, which keeps the test
fast (no mediapipe reinstall) without letting the checkout's ``emusify`` in.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).parent / "assets"
#: What a build needs: the package and the files setup.py bundles.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "config.yaml", "emusify")
SOURCE_DIRS = ("models/default", "songs", "service")
RATE = 44100


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "bundled")
    for name in (*SOURCES, *SOURCE_DIRS):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-q",
            str(src),
            "-w",
            str(dist),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [built] = dist.glob("emusify-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its bin directory."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Plain path lines: the dependencies come along, .pth files there (the checkout's
    # editable install) are not processed.
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "emusify-test-deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-warn-script-location",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return bin_dir


def user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY")}
    env["EMUSIFY_HOME"] = str(home / "emusify")
    return env


def test_the_wheel_carries_config_model_songs_and_service(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "emusify/bundled/config.yaml",
        "emusify/bundled/models/default/emotion.tflite",
        "emusify/bundled/models/default/labels.json",
        "emusify/bundled/models/default/model.keras",
        "emusify/bundled/service/emusify.service",
        "emusify/bundled/service/emusify.desktop",
        "emusify/cli.py",
    ):
        assert name in names, name
    songs = [n for n in names if n.startswith("emusify/bundled/songs/") and n.endswith(".ogg")]
    assert {n.split("/")[3] for n in songs} == {"calm", "happy", "sad"}
    assert not any(n.startswith(("tests/", "models/", "songs/")) for n in names)


def test_installed_emusify_detects_a_face_from_another_folder(installed: Path, tmp_path: Path):
    where = subprocess.run(
        [installed / "python", "-c", "import emusify.paths as p; print(p.PROJECT_ROOT)"],
        cwd=tmp_path,
        env=user_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)  # not the checkout
    image = ASSETS / "faces" / "happy_0.png"
    done = subprocess.run(
        [installed / "emusify", "detect", "--image", str(image), "--json"],
        cwd=tmp_path,
        env=user_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["emotion"] == "happy"
    assert done.stderr == ""


def test_installed_emusify_runs_and_plays_a_demo_track(installed: Path, tmp_path: Path):
    env = {
        **user_env(tmp_path),
        "SDL_AUDIODRIVER": "disk",
        "SDL_DISKAUDIOFILE": str(tmp_path / "speaker.raw"),
    }
    emusify = str(installed / "emusify")
    video = str(ASSETS / "happy_faces.mp4")
    with open(tmp_path / "run.err", "w") as err:
        daemon = subprocess.Popen(
            [emusify, "run", "--camera", video, "--interval", "60", "--window", "5"],
            cwd=tmp_path,
            env=env,
            stdout=err,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 90
        status: dict = {}
        while time.monotonic() < deadline and status.get("music", {}).get("state") != "playing":
            assert daemon.poll() is None, (tmp_path / "run.err").read_text()
            done = subprocess.run(
                [emusify, "ctl", "status", "--json"], env=env, capture_output=True, text=True
            )
            status = json.loads(done.stdout) if done.returncode == 0 else {}
            time.sleep(0.5)
        assert status.get("music", {}).get("state") == "playing", status
        played = Path(status["music"]["path"])
        assert played.parent.parent.name == "songs" and "bundled" in played.parts
        assert status["mood"] == "happy" and status["music"]["folder"] == "happy"
        time.sleep(1.5)
        raw = np.fromfile(tmp_path / "speaker.raw", dtype="<i2").astype(float) / 32768
        assert np.sqrt(np.mean(raw[-RATE * 2 :] ** 2)) > 0.01  # music, not silence
        quit_ = subprocess.run([emusify, "ctl", "quit"], env=env, capture_output=True, text=True)
        assert quit_.returncode == 0, quit_.stderr
        assert daemon.wait(timeout=10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    # The first run made the user's music folder, one sub-folder per mood, and said where.
    music = tmp_path / "emusify" / "music"
    assert sorted(p.name for p in music.iterdir()) == ["calm", "happy", "sad"]
    out = (tmp_path / "run.err").read_text()
    assert f"Your music folder is {music}" in out
    assert "Traceback" not in out
