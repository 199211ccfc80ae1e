"""Change one key of a person's config file and keep every other byte as it was.

``emusify learn`` switches ``model:`` to the new personal model and ``emusify ctl learn
on|off`` (and the tray) switch ``listener.learn_from_corrections``; a person's comments,
order and spacing must survive that. The edit is made on the text, line by line, then
checked: the file must parse to the same data with only that key changed, and pass the
config validation, before it atomically replaces the old file. Anything it cannot edit safely
(a flow-style mapping, a value over several lines) is refused with a message that says which
key to set by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from emusify.config import parse_config
from emusify.errors import EmusifyError

_PLAIN = re.compile(r"^[A-Za-z0-9_.~/+-]+$")


class ConfigEditError(EmusifyError):
    """The key could not be changed safely; the file is unchanged."""


def yaml_scalar(value: Any) -> str:
    """``value`` as a one-line YAML scalar that reads back as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def set_key(path: str | os.PathLike[str], key: str, value: Any) -> bool:
    """Set ``key`` (``model`` or ``section.name``) to ``value`` in the file at ``path``.

    Returns False when the file already had that value (nothing is written).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigEditError(f"{path}: cannot read the configuration ({exc})") from None
    text = raw.decode("utf-8")
    before = _load(text, path)
    parts = key.split(".")
    if len(parts) not in (1, 2):
        raise ConfigEditError(f"{key}: only a top-level key or section.key can be set")
    if _get(before, parts) == value and _has(before, parts):
        return False
    edited = _edit(text, parts, yaml_scalar(value))
    after = _load(edited, path)
    expected = json.loads(json.dumps(before))  # a deep copy
    _put(expected, parts, value)
    if after != expected:
        raise ConfigEditError(
            f"{path}: could not change {key} safely; set '{key}: {yaml_scalar(value)}' by hand"
        )
    parse_config(after, str(path))  # the result must still be a valid configuration
    _replace(path, edited.encode("utf-8"))
    return True


def _load(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigEditError(f"{path}: not valid YAML, so nothing was changed ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigEditError(f"{path}: the configuration is not a mapping of keys")
    return data


def _has(data: dict[str, Any], parts: list[str]) -> bool:
    node: Any = data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _get(data: dict[str, Any], parts: list[str]) -> Any:
    node: Any = data
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _put(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _key_line(name: str, indent: str = "") -> re.Pattern[str]:
    """A ``name: value  # comment`` line; groups: head, value, tail (comment and line end)."""
    return re.compile(
        rf"^(?P<head>{re.escape(indent)}{re.escape(name)}[ \t]*:[ \t]*)"
        r"(?P<value>[^#\r\n]*?)(?P<tail>[ \t]*(#[^\r\n]*)?(\r?\n)?)$"
    )


def _edit(text: str, parts: list[str], scalar: str) -> str:
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if len(parts) == 1:
        return _set_in(lines, 0, len(lines), "", parts[0], scalar, newline)
    section, name = parts
    header = _key_line(section)
    for i, line in enumerate(lines):
        match = header.match(line)
        if match:
            if match.group("value").strip():
                raise ConfigEditError(
                    f"{section} is written on one line; set '{section}.{name}' by hand"
                )
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
                end += 1
            while end > i + 1 and (not lines[end - 1].strip() or lines[end - 1][0] == "#"):
                end -= 1  # comments at the margin after the block introduce the next key
            indent = _indent_of(lines[i + 1 : end]) or "  "
            return _set_in(lines, i + 1, end, indent, name, scalar, newline)
    ending = "" if not lines or lines[-1].endswith("\n") else newline
    return "".join(lines) + f"{ending}{newline}{section}:{newline}  {name}: {scalar}{newline}"


def _set_in(
    lines: list[str], start: int, end: int, indent: str, name: str, scalar: str, newline: str
) -> str:
    pattern = _key_line(name, indent)
    for i in range(start, end):
        match = pattern.match(lines[i])
        if match:
            if not match.group("value").strip():
                raise ConfigEditError(f"{name} spans several lines; set it by hand")
            lines[i] = match.group("head") + scalar + match.group("tail")
            return "".join(lines)
    # Not there yet: add it at the end of the block (after its last non-blank line).
    at = end
    while at > start and not lines[at - 1].strip():
        at -= 1
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += newline
    lines.insert(at, f"{indent}{name}: {scalar}{newline}")
    return "".join(lines)


def _indent_of(block: list[str]) -> str | None:
    for line in block:
        if line.strip() and not line.lstrip().startswith("#"):
            return line[: len(line) - len(line.lstrip())]
    return None


def _replace(path: Path, data: bytes) -> None:
    """Write beside the file, flush, then rename over it: never a half-written config."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = path.stat().st_mode & 0o777
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigEditError(f"{path}: cannot write the configuration ({exc})") from None
