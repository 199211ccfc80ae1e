"""The music on disk: one folder of tracks per mood under ``songs_root``.

A folder is read again only when the modification time of it or one of its sub-folders
changes (a file was added, removed or renamed), and tags are read only for files that are new
or changed since the last scan, so checking for changes every few seconds stays cheap even
with thousands of tracks. Files that turn out unreadable are remembered and skipped until they
change on disk, so one broken file costs one log line, not one per scan.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import mutagen

log = logging.getLogger(__name__)

#: What pygame's mixer plays on every platform.
AUDIO_EXTENSIONS = frozenset({".mp3", ".ogg", ".wav", ".flac"})


@dataclass(frozen=True)
class Track:
    path: Path
    folder: str
    title: str
    artist: str | None = None
    #: Seconds, from the file's header; None where it does not say. The jukebox sleeps until
    #: a track should end instead of polling the mixer.
    duration: float | None = None

    def describe(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title


@dataclass(frozen=True)
class _Stamp:
    """What identifies one version of a file: a retagged or replaced file gets a new stamp."""

    mtime_ns: int
    size: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Stamp:
        return cls(st.st_mtime_ns, st.st_size)


@dataclass
class _Folder:
    signature: tuple[tuple[str, int], ...]
    tracks: list[Track]


def _first_tag(tags: object, key: str) -> str | None:
    try:
        values = tags[key]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None
    if isinstance(values, (list, tuple)):
        values = values[0] if values else None
    text = str(values).strip() if values is not None else ""
    return text or None


def read_tags(path: Path) -> tuple[str | None, str | None, float | None]:
    """Title, artist and length in seconds from the file's header and tags; raises
    ``mutagen.MutagenError`` if corrupt."""
    audio = mutagen.File(path, easy=True)
    if audio is None:
        return None, None, None
    length = getattr(getattr(audio, "info", None), "length", None)
    duration = float(length) if isinstance(length, (int, float)) and length > 0 else None
    if audio.tags is None:
        return None, None, duration
    tags = audio.tags  # easy keys for MP3/OGG/FLAC; raw ID3 frames for tagged WAV files
    title = _first_tag(tags, "title") or _first_tag(tags, "TIT2")
    return title, _first_tag(tags, "artist") or _first_tag(tags, "TPE1"), duration


class Library:
    """Tracks per folder, rescanned on change, with a memory of files that would not play."""

    def __init__(self, root: Path, demo: Path | None = None):
        self.root = Path(root)
        #: The bundled demo tracks: they play while no mood folder under ``root`` has a track.
        self._demo = Library(demo) if demo is not None else None
        self._folders: dict[str, _Folder] = {}
        self._known: dict[Path, tuple[_Stamp, Track]] = {}
        self._bad: dict[Path, _Stamp | None] = {}
        self._ignored: set[Path] = set()
        self._missing_logged: set[str] = set()

    # --- queries --------------------------------------------------------------------------

    def folders(self) -> list[str]:
        """Names of the mood folders that exist under the root, sorted."""
        try:
            return sorted(
                e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")
            )
        except OSError:
            return []

    def tracks(self, folder: str) -> list[Track]:
        """Playable tracks in ``folder``, by path; scanned on first use, then by ``refresh()``.

        While the user's folders are all empty, the demo's tracks for ``folder`` stand in."""
        own = self._own_tracks(folder)
        if not own and self._demo is not None and self.playing_demo():
            return self._demo.tracks(folder)
        return own

    def playing_demo(self) -> bool:
        """True while a demo is set and no mood folder asked for so far holds a track."""
        return self._demo is not None and not any(self._own_tracks(f) for f in list(self._folders))

    def _own_tracks(self, folder: str) -> list[Track]:
        if folder not in self._folders:
            self._refresh_folder(folder)
        return [t for t in self._folders[folder].tracks if not self._still_bad(t.path)]

    def refresh(self) -> list[str]:
        """Rescan every folder asked for so far that changed on disk; return their names."""
        changed = [name for name in list(self._folders) if self._refresh_folder(name)]
        return changed + (self._demo.refresh() if self._demo is not None else [])

    # --- bad files ------------------------------------------------------------------------

    def mark_bad(self, path: Path, reason: str) -> None:
        """Skip ``path`` from now on (until it changes on disk); logs once per file version."""
        path = Path(path)
        if self._demo is not None and path.is_relative_to(self._demo.root):
            self._demo.mark_bad(path, reason)
            return
        try:
            stamp: _Stamp | None = _Stamp.of(path.stat())
        except OSError:
            stamp = None
        if path in self._bad and self._bad[path] == stamp:
            return
        self._bad[path] = stamp
        log.warning("Skipping %s: %s", path, reason)

    def is_bad(self, path: Path) -> bool:
        path = Path(path)
        if self._demo is not None and path.is_relative_to(self._demo.root):
            return self._demo.is_bad(path)
        return self._still_bad(path)

    def _still_bad(self, path: Path) -> bool:
        if path not in self._bad:
            return False
        try:
            stamp: _Stamp | None = _Stamp.of(path.stat())
        except OSError:
            stamp = None
        if stamp != self._bad[path]:
            del self._bad[path]  # replaced or repaired: give it another chance
            return False
        return True

    # --- scanning -------------------------------------------------------------------------

    def _signature(self, top: Path) -> tuple[tuple[str, int], ...] | None:
        """Modification times of the folder and its sub-folders; None when it is missing."""
        try:
            stamps = [(str(top), top.stat().st_mtime_ns)]
        except OSError:
            return None
        for dirpath, dirnames, _ in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for d in dirnames:
                p = os.path.join(dirpath, d)
                try:
                    stamps.append((p, os.stat(p).st_mtime_ns))
                except OSError:
                    continue
        return tuple(stamps)

    def _refresh_folder(self, folder: str) -> bool:
        top = self.root / folder
        signature = self._signature(top)
        old = self._folders.get(folder)
        if signature is None:
            if folder not in self._missing_logged:
                self._missing_logged.add(folder)
                log.warning("Music folder %s does not exist", top)
            changed = old is not None and bool(old.tracks)
            self._folders[folder] = _Folder((), [])
            return changed
        self._missing_logged.discard(folder)
        if old is not None and old.signature == signature:
            return False
        tracks = self._scan(top, folder)
        self._folders[folder] = _Folder(signature, tracks)
        kept = {t.path for t in tracks}
        for path in [p for p, (_, t) in self._known.items() if t.folder == folder]:
            if path not in kept:
                del self._known[path]  # deleted files: forget their tags
        log.info("Music folder %s: %d track(s)", top, len(tracks))
        return True

    def _scan(self, top: Path, folder: str) -> list[Track]:
        tracks: list[Track] = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.suffix.lower() not in AUDIO_EXTENSIONS:
                    if path not in self._ignored:
                        self._ignored.add(path)
                        log.info(
                            "Ignoring %s: not a supported audio file (%s)",
                            path,
                            ", ".join(sorted(AUDIO_EXTENSIONS)),
                        )
                    continue
                track = self._track(path, folder)
                if track is not None:
                    tracks.append(track)
        return tracks

    def _track(self, path: Path, folder: str) -> Track | None:
        if self._still_bad(path):
            return None
        try:
            stamp = _Stamp.of(path.stat())
        except OSError as exc:
            self.mark_bad(path, f"cannot read the file ({exc.strerror or exc})")
            return None
        known = self._known.get(path)
        if known is not None and known[0] == stamp and known[1].folder == folder:
            return known[1]
        if stamp.size == 0:
            self.mark_bad(path, "the file is empty")
            return None
        try:
            title, artist, duration = read_tags(path)
        except mutagen.MutagenError as exc:
            self.mark_bad(path, f"corrupt or not an audio file ({exc})")
            return None
        except OSError as exc:
            self.mark_bad(path, f"cannot read the file ({exc.strerror or exc})")
            return None
        track = Track(
            path=path, folder=folder, title=title or path.stem, artist=artist, duration=duration
        )
        self._known[path] = (stamp, track)
        return track


def make_music_folder(root: Path, folders: set[str]) -> bool:
    """Create ``root`` with one sub-folder per mood folder; True if ``root`` was new."""
    root = Path(root)
    created = not root.exists()
    for folder in sorted(folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return created
