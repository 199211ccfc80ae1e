"""Build hook: an installed Emusify carries what a checkout has beside the package.

``config.yaml``, ``models/default/``, ``songs/`` (the demo tracks) and ``service/`` stay where
they are in the repository, their only copy in git. Building a wheel (``pip install .``,
``pipx install .``, ``python -m build``) copies them into ``emusify/bundled/`` of the build, where
``emusify.paths`` finds them when there is no checkout around the package. Editable installs
skip the copy: the package then sits in its checkout and reads the originals.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: Checkout paths copied into emusify/bundled/ (same relative path inside).
BUNDLED = ("config.yaml", "models/default", "songs", "service")


class BuildWithBundledData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "emusify" / "bundled"
        for name in BUNDLED:
            src, dst = ROOT / name, target / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(
                    src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*", "__pycache__")
                )
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildWithBundledData})
