"""The configuration: shipped defaults, the user copy, and errors that name every problem."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emusify import paths
from emusify.config import (
    EMOTIONS,
    Config,
    ConfigError,
    MusicConfig,
    load_config,
    parse_config,
    with_overrides,
)


def test_shipped_config_yaml_equals_the_schema_defaults():
    assert load_config(paths.DEFAULT_CONFIG) == Config()


def test_shipped_config_documents_every_key():
    data = yaml.safe_load(paths.DEFAULT_CONFIG.read_text())
    for section, value in vars(Config()).items():
        if section == "path":
            continue
        assert section in data, section
        if hasattr(value, "__dataclass_fields__"):
            assert set(data[section]) == set(value.__dataclass_fields__), section


def test_every_emotion_has_a_folder_by_default():
    assert set(Config().music.folders) == set(EMOTIONS)


def test_first_run_creates_the_user_copy_from_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    cfg = load_config()
    assert cfg.path == tmp_path / "config" / "config.yaml"
    assert cfg.path.read_text() == paths.DEFAULT_CONFIG.read_text()


def test_an_existing_user_copy_is_read_not_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path))
    user = tmp_path / "config" / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("schedule:\n  interval_minutes: 2\n")
    assert load_config().schedule.interval_minutes == 2.0
    assert user.read_text() == "schedule:\n  interval_minutes: 2\n"


def test_missing_keys_keep_their_defaults():
    cfg = parse_config({"camera": {"source": "clip.mp4"}})
    assert cfg.camera.source == "clip.mp4"
    assert cfg.camera.width == 640
    assert cfg.schedule == Config().schedule


def test_every_problem_is_reported_at_once_with_key_value_and_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "schedul": {"interval_minutes": 3},
                "camera": {"source": 1.5, "width": -3},
                "decision": {"min_share": 2},
                "music": {"on_mood_change": "immediately", "response": {"sad": "lifts"}},
            }
        )
    problems = err.value.problems
    assert len(problems) == 6
    text = "\n".join(problems)
    assert "schedul: unknown key (did you mean 'schedule'?)" in text
    assert "camera.source: 1.5 is not allowed; use a device index" in text
    assert "camera.width: -3 is not allowed; use a whole number from 1 to 8192" in text
    assert "decision.min_share: 2 is not allowed; use a number > 0 and <= 1" in text
    assert "music.on_mood_change: 'immediately' is not allowed; use one of 'after_track'" in text
    assert "music.response.sad: 'lifts' is not allowed" in text and "did you mean 'lift'" in text


def test_unknown_nested_key_gets_a_hint():
    with pytest.raises(ConfigError, match=r"schedule.window_secs: unknown key \(did you mean "):
        parse_config({"schedule": {"window_secs": 15}})


def test_booleans_are_not_numbers_and_numbers_are_not_booleans():
    with pytest.raises(ConfigError) as err:
        parse_config({"schedule": {"interval_minutes": True, "check_at_start": 1}})
    assert len(err.value.problems) == 2


def test_unknown_emotion_in_a_map_is_an_error_with_a_hint():
    with pytest.raises(ConfigError) as err:
        parse_config({"music": {"folders": {"hapy": "happy"}, "response": {"sadness": "lift"}}})
    assert "music.folders.hapy: unknown emotion (did you mean 'happy'?)" in str(err.value)
    assert "music.response.sadness: unknown emotion (did you mean 'sad'?)" in str(err.value)
    with pytest.raises(ConfigError, match=r"music\.folders\.zzz: unknown emotion; the model"):
        parse_config({"music": {"folders": {"zzz": "calm"}}})


def test_a_map_keeps_the_defaults_it_does_not_name():
    cfg = parse_config({"music": {"folders": {"sad": "mellow"}, "response": {"angry": "lift"}}})
    assert cfg.music.folders == {**MusicConfig().folders, "sad": "mellow"}
    assert cfg.music.folders["happy"] == "happy"
    assert cfg.music.response == {"sad": "lift", "angry": "lift"}


def test_emotions_of_a_personal_model_may_be_mapped():
    model = paths.user_models_dir() / "me"
    model.mkdir(parents=True)
    meta = json.loads((paths.PROJECT_MODELS / "default" / "labels.json").read_text())
    (model / "labels.json").write_text(json.dumps({**meta, "labels": ["calm", "happy", "sad"]}))
    cfg = parse_config({"model": "me", "music": {"folders": {"calm": "calm"}}})
    assert cfg.music.folders["calm"] == "calm"
    with pytest.raises(ConfigError, match="unknown emotion"):
        parse_config({"music": {"folders": {"calm": "calm"}}})  # the default model has no calm


def test_error_names_the_file(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("camera:\n  width: wide\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(bad) in str(err.value)
    assert "camera.width: 'wide' is not allowed" in str(err.value)


def test_invalid_yaml_gives_the_line(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("camera:\n  source: [0\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_config(bad)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_a_top_level_that_is_not_a_mapping_is_refused(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(bad)


def test_relative_paths_are_inside_the_project_and_home_is_expanded():
    cfg = parse_config({"music": {"songs_root": "songs"}, "camera": {"source": "clip.mp4"}})
    assert cfg.songs_root == paths.PROJECT_ROOT / "songs"
    assert cfg.camera_source == str(paths.PROJECT_ROOT / "clip.mp4")
    assert parse_config({"music": {"songs_root": "~/Music"}}).songs_root == Path.home() / "Music"
    assert parse_config({"camera": {"source": 1}}).camera_source == 1


def test_overrides_replace_only_the_given_values():
    cfg = with_overrides(Config(), schedule={"window_seconds": 3.0, "interval_minutes": None})
    assert cfg.schedule.window_seconds == 3.0
    assert cfg.schedule.interval_minutes == Config().schedule.interval_minutes


@pytest.mark.parametrize("before", [True, False])
def test_config_show_prints_the_merged_configuration(tmp_path, before):
    """A one-key music.folders file keeps every other mapping; --config before or after."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("music:\n  folders:\n    sad: mellow\n")
    where = (
        ["--config", str(mine), "config", "show"]
        if before
        else ["config", "show", "--config", str(mine)]
    )
    out = subprocess.run(
        [sys.executable, "-m", "emusify", *where], capture_output=True, text=True, check=True
    )
    shown = yaml.safe_load(out.stdout)
    assert shown["music"]["folders"] == {**MusicConfig().folders, "sad": "mellow"}
    assert parse_config(shown) == parse_config({"music": {"folders": {"sad": "mellow"}}})
    assert out.stderr == ""


# --- ranges: nothing that would stall or overflow the schedule ------------------------------


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("interval_minutes", float("nan"), "a number > 0 and <= 1440"),
        ("interval_minutes", float("inf"), "a number > 0 and <= 1440"),
        ("interval_minutes", 1e10, "a number > 0 and <= 1440"),
        ("interval_minutes", 10**400, "a number > 0 and <= 1440"),
        ("window_seconds", float("nan"), "a number from 1 to 300"),
        ("sample_fps", float("inf"), "a number > 0 and <= 30"),
    ],
)
def test_nan_infinite_and_huge_schedule_values_are_refused_with_the_range(key, value, allowed):
    with pytest.raises(ConfigError) as err:
        parse_config({"schedule": {key: value}})
    [problem] = err.value.problems
    assert problem.startswith(f"schedule.{key}: ") and problem.endswith(f"use {allowed}")


def test_nan_from_yaml_is_refused_with_every_other_problem(tmp_path):
    bad = tmp_path / "nan.yaml"
    bad.write_text(
        "schedule:\n  interval_minutes: .nan\nmusic:\n  volume: .inf\n"
        "  uplift_after_minutes: 1e10\n  fade_seconds: -.inf\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    keys = sorted(p.split(":")[0] for p in err.value.problems)
    assert keys == [
        "music.fade_seconds",
        "music.uplift_after_minutes",
        "music.volume",
        "schedule.interval_minutes",
    ]


def test_a_window_longer_than_the_interval_is_refused():
    with pytest.raises(ConfigError) as err:
        parse_config({"schedule": {"interval_minutes": 0.25, "window_seconds": 20}})
    [problem] = err.value.problems
    assert "schedule.window_seconds: 20 s is longer than the interval between checks (15 s)" in (
        problem
    )
    assert parse_config({"schedule": {"interval_minutes": 0.25, "window_seconds": 15}})


def test_a_face_frame_minimum_no_window_can_reach_is_refused():
    with pytest.raises(ConfigError, match=r"decision.min_face_frames: 100 is more than a window"):
        parse_config({"decision": {"min_face_frames": 100}})  # 20 s x 4 fps = 80 frames


def test_overrides_are_checked_across_keys_too():
    with pytest.raises(ConfigError, match=r"(?s)the command line.*longer than the interval"):
        with_overrides(Config(), schedule={"interval_minutes": 0.1})


def test_model_labels_without_a_folder_are_named():
    from emusify.config import unmapped_labels_note

    assert unmapped_labels_note(Config(), list(EMOTIONS)) is None
    note = unmapped_labels_note(Config(), ["happy", "calm", "bored"])
    assert note == (
        "the model's mood(s) 'calm', 'bored' have no folder in music.folders; "
        "they play the default folder 'calm'"
    )
