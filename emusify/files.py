"""The user's Emusify files readable by the user only: moods with times are personal.

History, log, samples and personal models live under the Emusify folders of the config, data,
state, cache and runtime directories. Every folder Emusify creates there is 0700 and every
file 0600, and folders left 0755 by an older version are tightened when next used. Folders the
user names elsewhere (``collect --out``) are created but their modes left alone; the files
written into them are still 0600.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from emusify import paths

DIR_MODE = 0o700
FILE_MODE = 0o600


def _roots() -> list[Path]:
    return [
        paths.config_dir(),
        paths.data_dir(),
        paths.state_dir(),
        paths.cache_dir(),
        paths.runtime_dir(),
    ]


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path``; it and the folders between it and its Emusify root become 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if os.name != "posix":
        return path
    absolute = path.absolute()
    for root in _roots():
        root = root.absolute()
        if absolute == root or root in absolute.parents:
            for folder in [absolute, *absolute.parents]:
                os.chmod(folder, DIR_MODE)
                if folder == root:
                    break
            return path
    return path


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` 0600, creating it empty if missing (before anyone writes into it)."""
    path = Path(path)
    if os.name != "posix":
        return path
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
    os.chmod(path, FILE_MODE)
    return path


def tighten(path: str | os.PathLike[str]) -> None:
    """0600 for an existing file (one an older version created 0644); missing is fine."""
    if os.name == "posix":
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, FILE_MODE)
