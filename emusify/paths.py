"""Where Emusify keeps things: the project's own files and the user's per-platform directories.

Every other module asks here instead of building paths itself, so that tests can redirect all
user state with the standard XDG variables (or ``EMUSIFY_HOME``) and nothing leaks into the
real home directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

import platformdirs

APP = "emusify"

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent


def _project_root() -> Path:
    """Where config.yaml, models/, songs/ and service/ are: the checkout around the package,
    or, in an installed wheel, the copies the build put in ``emusify/bundled/`` (setup.py)."""
    bundled = _PACKAGE / "bundled"
    return bundled if (bundled / "config.yaml").is_file() else _PACKAGE.parent


#: The project directory: the checkout, or the installed package's bundled files.
PROJECT_ROOT = _project_root()
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
PROJECT_MODELS = PROJECT_ROOT / "models"
#: The demo tracks, one sub-folder per mood; they play while the user's music folder is empty.
PROJECT_SONGS = PROJECT_ROOT / "songs"
SERVICE_TEMPLATES = PROJECT_ROOT / "service"


def _home_override(sub: str) -> Path | None:
    home = os.environ.get("EMUSIFY_HOME")
    return Path(home) / sub if home else None


def config_dir() -> Path:
    return _home_override("config") or Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """Collected samples and personal models live here: never inside the checkout."""
    return _home_override("data") or Path(platformdirs.user_data_dir(APP))


def state_dir() -> Path:
    """History database and logs: state that survives restarts but is not configuration."""
    return _home_override("state") or Path(platformdirs.user_state_dir(APP))


def log_dir() -> Path:
    return state_dir() / "log"


def runtime_dir() -> Path:
    """Lock file and control socket; tmpfs on Linux so stale sockets vanish on logout."""
    override = _home_override("run")
    if override:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        return Path(xdg) / APP
    # Without XDG_RUNTIME_DIR platformdirs warns (with a source line) and falls back; the
    # fallback is fine for Emusify, so the warning is a debug line in the log, not output.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = Path(platformdirs.user_runtime_dir(APP))
    for warning in caught:
        log.debug("runtime directory: %s", warning.message)
    return path


def user_config_path() -> Path:
    return config_dir() / "config.yaml"


def samples_dir() -> Path:
    return data_dir() / "samples"


def user_models_dir() -> Path:
    return data_dir() / "models"


def history_path() -> Path:
    return state_dir() / "history.sqlite3"


def music_dir() -> Path:
    """The user's own music for Emusify: ``Emusify/`` in the platform's music directory."""
    return _home_override("music") or Path(platformdirs.user_music_dir()) / "Emusify"


def cache_dir() -> Path:
    """Landmark caches for training; safe to delete."""
    return _home_override("cache") or Path(platformdirs.user_cache_dir(APP))


def resolve_project_path(value: str | os.PathLike[str]) -> Path:
    """Relative paths in the config mean "inside the Emusify project directory"."""
    path = Path(os.path.expandvars(os.fspath(value))).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def emusify_command() -> str:
    """How the user can run this Emusify, for messages that print a command: ``emusify`` when
    that name on PATH is this installation, else this interpreter with ``-m emusify``."""
    found = shutil.which("emusify")
    here = Path(os.path.abspath(sys.executable)).parent
    if found and Path(found).resolve().parent in (here, here.resolve()):
        return "emusify"
    return f"{sys.executable} -m emusify"
