"""Typed configuration: the shipped ``config.yaml`` defaults, a user copy, and one validator.

The schema is the dataclasses below. Validation walks the YAML against them and collects
*every* problem (unknown key with a "did you mean", wrong type, value out of range) before
raising, so a user fixes their file in one go instead of one error per run.
"""

from __future__ import annotations

import difflib
import logging
import math
import shutil
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from emusify import paths
from emusify.errors import EmusifyError

log = logging.getLogger(__name__)

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class ConfigError(EmusifyError):
    """One or more problems in a config file; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


#: The longest interval between mood checks (a day); longer ones overflow clocks and help no one.
MAX_INTERVAL_MINUTES = 24 * 60


def _check(predicate: typing.Callable[[Any], bool], allowed: str) -> dict[str, Any]:
    """A range check; NaN and infinities fail every check (they are never a sensible value)."""

    def finite_and(x: Any) -> bool:
        return (not isinstance(x, float) or math.isfinite(x)) and predicate(x)

    return {"check": finite_and, "allowed": allowed}


#: The checks of a span of minutes: more than 0 (or 0 too) and at most a day.
_MINUTES = _check(
    lambda x: 0 < x <= MAX_INTERVAL_MINUTES, f"a number > 0 and <= {MAX_INTERVAL_MINUTES}"
)
_MINUTES_OR_ZERO = _check(
    lambda x: 0 <= x <= MAX_INTERVAL_MINUTES, f"a number from 0 to {MAX_INTERVAL_MINUTES}"
)


def _share(x: float) -> bool:
    return 0 < x <= 1


def _unit(x: float) -> bool:
    return 0 <= x <= 1


def _non_empty(x: str) -> bool:
    return bool(str(x).strip())


@dataclass(frozen=True)
class CameraConfig:
    #: Webcam device index (0 is the first camera) or the path of a video file.
    source: int | str = field(
        default=0,
        metadata=_check(
            lambda x: x >= 0 if isinstance(x, int) else bool(x.strip()),
            "a device index (0, 1, ...) or the path of a video file",
        ),
    )
    width: int = field(
        default=640, metadata=_check(lambda x: 0 < x <= 8192, "a whole number from 1 to 8192")
    )
    height: int = field(
        default=480, metadata=_check(lambda x: 0 < x <= 8192, "a whole number from 1 to 8192")
    )


@dataclass(frozen=True)
class ScheduleConfig:
    interval_minutes: float = field(
        default=5.0,
        metadata=_MINUTES,
    )
    window_seconds: float = field(
        default=20.0, metadata=_check(lambda x: 1 <= x <= 300, "a number from 1 to 300")
    )
    sample_fps: float = field(
        default=4.0, metadata=_check(lambda x: 0 < x <= 30, "a number > 0 and <= 30")
    )
    check_at_start: bool = True


@dataclass(frozen=True)
class DecisionConfig:
    min_face_frames: int = field(
        default=8, metadata=_check(lambda x: 0 < x <= 10_000, "a whole number from 1 to 10000")
    )
    min_share: float = field(default=0.4, metadata=_check(_share, "a number > 0 and <= 1"))


@dataclass(frozen=True)
class MusicConfig:
    #: Empty: the user's music folder (paths.music_dir()), with the demo tracks while it is empty.
    songs_root: str = ""
    folders: dict[str, str] = field(
        default_factory=lambda: {
            "happy": "happy",
            "surprise": "happy",
            "neutral": "calm",
            "angry": "calm",
            "fear": "calm",
            "disgust": "calm",
            "sad": "sad",
        }
    )
    response: dict[str, Literal["match", "lift"]] = field(default_factory=lambda: {"sad": "lift"})
    uplift_folder: str = field(default="happy", metadata=_check(_non_empty, "a folder name"))
    uplift_after_minutes: float = field(
        default=15.0,
        metadata=_MINUTES_OR_ZERO,
    )
    default_folder: str = field(default="calm", metadata=_check(_non_empty, "a folder name"))
    on_mood_change: Literal["after_track", "now"] = "after_track"
    fade_seconds: float = field(
        default=2.0, metadata=_check(lambda x: 0 <= x <= 30, "a number from 0 to 30")
    )
    volume: float = field(default=0.8, metadata=_check(_unit, "a number from 0 to 1"))


@dataclass(frozen=True)
class ListenerConfig:
    """The listener's say: a mood set by hand, corrections, learning from them."""

    #: How long a mood set by hand holds before the checks decide again.
    manual_mood_minutes: float = field(
        default=60.0,
        metadata=_MINUTES,
    )
    #: A mood set by hand this soon after a check read another one corrects that check.
    correction_minutes: float = field(
        default=10.0,
        metadata=_MINUTES_OR_ZERO,
    )
    #: Keep a corrected check's feature vectors as a labelled sample session.
    learn_from_corrections: bool = False


@dataclass(frozen=True)
class TrayConfig:
    enabled: bool = True


@dataclass(frozen=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    max_bytes: int = field(
        default=1_000_000,
        metadata=_check(lambda x: 1000 <= x <= 2**31, "a whole number from 1000 to 2147483648"),
    )
    backups: int = field(
        default=3, metadata=_check(lambda x: 0 <= x <= 100, "a whole number from 0 to 100")
    )


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = field(default_factory=CameraConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    #: A model folder name (under models/ in the project or the user data dir) or a path.
    model: str = field(default="default", metadata=_check(_non_empty, "a model name or folder"))
    music: MusicConfig = field(default_factory=MusicConfig)
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    tray: TrayConfig = field(default_factory=TrayConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    #: The file this configuration came from (not a key in the file).
    path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    @property
    def songs_root(self) -> Path:
        if not self.music.songs_root.strip():
            return paths.music_dir()
        return paths.resolve_project_path(self.music.songs_root)

    @property
    def demo_songs_root(self) -> Path | None:
        """The bundled demo tracks, played while the user's music folder (the default) is empty."""
        return None if self.music.songs_root.strip() else paths.PROJECT_SONGS

    @property
    def mood_folders(self) -> set[str]:
        """Every folder under songs_root that some mood can play."""
        m = self.music
        return {*m.folders.values(), m.uplift_folder, m.default_folder}

    @property
    def camera_source(self) -> int | str:
        """Device index, or a video path resolved like every other relative path."""
        src = self.camera.source
        return src if isinstance(src, int) else str(paths.resolve_project_path(src))


# --- validation -------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is dict:
        return "a mapping of " + " to ".join(_type_name(a) for a in get_args(tp))
    return {
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        str: "a text value",
    }.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, key: str, problems: list[str]) -> Any:
    """Return ``value`` as ``tp``, or record a problem and return MISSING."""
    origin = get_origin(tp)
    if is_dataclass(tp):
        return _build(tp, value, key, problems)
    if origin is Literal:
        if value in get_args(tp):
            return value
        hint = difflib.get_close_matches(str(value), [str(a) for a in get_args(tp)], n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        problems.append(f"{key}: {value!r} is not allowed; use {_type_name(tp)}{extra}")
        return MISSING
    if origin in (Union, types.UnionType):
        for option in get_args(tp):
            scratch: list[str] = []
            out = _convert(value, option, key, scratch)
            if not scratch:
                return out
        problems.append(f"{key}: {value!r} is not allowed; use {_type_name(tp)}")
        return MISSING
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, dict):
            problems.append(f"{key}: expected {_type_name(tp)}, got {value!r}")
            return MISSING
        out = {}
        for k, v in value.items():
            ck = _convert(k, key_tp, f"{key}.{k}", problems)
            cv = _convert(v, val_tp, f"{key}.{k}", problems)
            if ck is not MISSING and cv is not MISSING:
                out[ck] = cv
        return out
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # a whole number too long for a float is out of every range
            return math.inf
    if tp is str and isinstance(value, str):
        return value
    problems.append(f"{key}: {value!r} is not allowed; use {_type_name(tp)}")
    return MISSING


def _build(cls: type, data: Any, prefix: str, problems: list[str]) -> Any:
    where = prefix or "the top level"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping of keys, got {data!r}")
        return MISSING
    hints = typing.get_type_hints(cls)
    public = [f for f in fields(cls) if not f.metadata.get("internal")]
    names = [f.name for f in public]
    for key in data:
        if key not in names:
            full = f"{prefix}.{key}" if prefix else str(key)
            hint = difflib.get_close_matches(str(key), names, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(names)}"
            problems.append(f"{full}: unknown key{extra}")
    kwargs = {}
    for f in public:
        if f.name not in data:
            continue
        full = f"{prefix}.{f.name}" if prefix else f.name
        scratch: list[str] = []
        value = _convert(data[f.name], hints[f.name], full, scratch)
        if value is MISSING and "allowed" in f.metadata and len(scratch) == 1:
            scratch = [f"{full}: {data[f.name]!r} is not allowed; use {f.metadata['allowed']}"]
        problems.extend(scratch)
        if value is MISSING:
            continue
        check = f.metadata.get("check")
        if check is not None and not check(value):
            problems.append(f"{full}: {data[f.name]!r} is not allowed; use {f.metadata['allowed']}")
            continue
        if isinstance(value, dict):
            value = _merge_map(f, value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _merge_map(f: Any, value: dict[Any, Any]) -> dict[Any, Any]:
    """A map in a file changes only the entries it names; the others keep their defaults."""
    default = f.default_factory() if f.default_factory is not MISSING else {}
    return {**default, **value}


def _model_labels(model: str) -> tuple[str, ...]:
    """The configured model's labels (a personal model may add some, such as "calm")."""
    from emusify.sensing.classifier import read_labels, resolve_model_dir

    try:
        return tuple(read_labels(resolve_model_dir(model))["labels"])
    except EmusifyError:
        return ()  # the model itself is reported where it loads


def _check_map_keys(cfg: Config, data: dict[str, Any], problems: list[str]) -> None:
    """Emotions named in music.folders and music.response must be ones a model can report."""
    music = data.get("music") if isinstance(data.get("music"), dict) else {}
    for name in ("folders", "response"):
        written = music.get(name) if isinstance(music.get(name), dict) else {}
        unknown = [str(k) for k in written if k not in EMOTIONS]
        known = (*EMOTIONS, *_model_labels(cfg.model)) if unknown else EMOTIONS
        for emotion in (k for k in unknown if k not in known):
            hint = difflib.get_close_matches(emotion, known, n=1)
            extra = (
                f" (did you mean {hint[0]!r}?)"
                if hint
                else f"; the model {cfg.model!r} knows {', '.join(dict.fromkeys(known))}"
            )
            problems.append(f"music.{name}.{emotion}: unknown emotion{extra}")


def schedule_problems(schedule: ScheduleConfig) -> list[str]:
    """Checks across the schedule's keys (also after command-line overrides)."""
    problems = []
    interval = schedule.interval_minutes * 60
    if schedule.window_seconds > interval:
        problems.append(
            f"schedule.window_seconds: {schedule.window_seconds:g} s is longer than the "
            f"interval between checks ({interval:g} s), which would keep the camera open all "
            "the time; use a window <= interval_minutes x 60"
        )
    return problems


def _cross_checks(cfg: Config, data: dict[str, Any], problems: list[str]) -> None:
    """Checks across keys; only keys the user wrote are blamed, never a default."""
    _check_map_keys(cfg, data, problems)
    problems.extend(schedule_problems(cfg.schedule))
    frames = cfg.schedule.window_seconds * cfg.schedule.sample_fps
    if cfg.decision.min_face_frames > frames:
        problems.append(
            f"decision.min_face_frames: {cfg.decision.min_face_frames} is more than a window "
            f"has frames ({frames:g} = window_seconds x sample_fps), so no check could ever "
            "decide; use a smaller number or a longer window"
        )


def unmapped_labels_note(cfg: Config, labels: list[str]) -> str | None:
    """A warning when the model can name moods that music.folders does not map, else None.

    Those moods play the default folder; a user who trained a model with a new label (say
    "calm") should hear why their folder is not used, without the program refusing to run.
    """
    missing = [label for label in labels if label not in cfg.music.folders]
    if not missing:
        return None
    names = ", ".join(repr(label) for label in missing)
    return (
        f"the model's mood(s) {names} have no folder in music.folders; "
        f"they play the default folder {cfg.music.default_folder!r}"
    )


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-parsed YAML; raise ConfigError listing every problem."""
    problems: list[str] = []
    cfg = _build(Config, data, "", problems)
    if cfg is not MISSING:
        _cross_checks(cfg, data or {}, problems)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: str | Path | None = None, *, create_user_copy: bool = True) -> Config:
    """Read ``path``, or the user's copy (created from the shipped defaults on first use)."""
    if path is None:
        path = paths.user_config_path()
        if not path.exists() and create_user_copy:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths.DEFAULT_CONFIG, path)
            log.info("Created your configuration at %s from the defaults", path)
        elif not path.exists():
            path = paths.DEFAULT_CONFIG
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"not valid YAML{where}: {problem}"]) from None
    return replace(parse_config(data, str(path)), path=path)


def to_yaml(cfg: Config) -> str:
    """Every key of ``cfg`` as YAML in the file's layout: what Emusify actually uses."""
    data = asdict(cfg)
    data.pop("path", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def with_overrides(cfg: Config, **sections: dict[str, Any]) -> Config:
    """Return a copy with some section fields replaced (used by command-line overrides).

    The result is checked across keys like a file; raises ConfigError naming the problem.
    """
    changes = {}
    for name, values in sections.items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            changes[name] = replace(getattr(cfg, name), **values)
    out = replace(cfg, **changes)
    problems = schedule_problems(out.schedule) if "schedule" in changes else []
    if problems:
        raise ConfigError("the command line", problems)
    return out
