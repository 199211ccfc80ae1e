"""Start on login: install, remove and inspect this platform's autostart entry.

The templates in ``service/`` are complete, valid files that run ``emusify`` from PATH. Installing
writes a copy whose command is this very interpreter (``python -m emusify.cli run``), so the
entry keeps working from a virtualenv that is not on the login PATH. Autostart is opt-in:
nothing is installed unless the user asks.
"""

from __future__ import annotations

import logging
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emusify import paths
from emusify.errors import EmusifyError

log = logging.getLogger(__name__)

TEMPLATES = paths.SERVICE_TEMPLATES
UNIT_NAME = "emusify.service"
AGENT_LABEL = "com.emusify.agent"

#: Runs a management command (systemctl, launchctl); replaced in tests.
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class ServiceError(EmusifyError):
    """An autostart entry cannot be written, read or removed."""


@dataclass(frozen=True)
class ServiceKind:
    name: str
    template: str  #: file name under service/
    description: str

    @property
    def template_path(self) -> Path:
        return TEMPLATES / self.template

    def target(self) -> Path:
        """Where this kind's entry goes for the current user."""
        return _TARGETS[self.name]()


SYSTEMD = ServiceKind("systemd", UNIT_NAME, "systemd user unit (starts with the graphical session)")
AUTOSTART = ServiceKind("autostart", "emusify.desktop", "XDG autostart entry")
LAUNCHAGENT = ServiceKind("launchagent", f"{AGENT_LABEL}.plist", "macOS LaunchAgent")
WINDOWS = ServiceKind("windows", "emusify-startup.cmd", "Windows Startup-folder script")
KINDS = {k.name: k for k in (SYSTEMD, AUTOSTART, LAUNCHAGENT, WINDOWS)}


def _xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


_TARGETS: dict[str, Callable[[], Path]] = {
    "systemd": lambda: _xdg_config_home() / "systemd" / "user" / UNIT_NAME,
    "autostart": lambda: _xdg_config_home() / "autostart" / "emusify.desktop",
    "launchagent": lambda: Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist",
    "windows": lambda: (
        Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        / "Microsoft"
        / "Windows"
        / "Start Menu"
        / "Programs"
        / "Startup"
        / "emusify-startup.cmd"
    ),
}


def platform_kinds(platform: str = sys.platform) -> list[ServiceKind]:
    if platform == "darwin":
        return [LAUNCHAGENT]
    if platform == "win32":
        return [WINDOWS]
    return [SYSTEMD, AUTOSTART]


def systemd_user_available() -> bool:
    """True when a systemd user manager runs here (it keeps a folder in the runtime dir)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(shutil.which("systemctl") and runtime and (Path(runtime) / "systemd").is_dir())


def default_kind(platform: str = sys.platform) -> ServiceKind:
    kinds = platform_kinds(platform)
    if kinds[0] is SYSTEMD and not systemd_user_available():
        return AUTOSTART
    return kinds[0]


def command_line(config_path: str | os.PathLike[str] | None = None) -> list[str]:
    """The command an autostart entry runs: this interpreter, so a virtualenv keeps working."""
    python = Path(sys.executable)
    if sys.platform == "win32" and (python.parent / "pythonw.exe").exists():
        python = python.parent / "pythonw.exe"  # no console window at log-on
    argv = [str(python), "-m", "emusify.cli", "run"]
    if config_path is not None:
        argv += ["--config", str(Path(config_path).resolve())]
    return argv


# --- rendering ----------------------------------------------------------------------------


def _systemd_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if any(c in arg for c in " \t\"\\'"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def _desktop_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return f'"{escaped}"'
    return arg


def _replace_line(text: str, prefix: str, new_line: str, template: str) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            ending = line[len(line.rstrip("\r\n")) :]
            lines[i] = new_line + ending
            return "".join(lines)
    raise ServiceError(f"{TEMPLATES / template}: no line starting with {prefix!r} to fill in")


def render(kind: ServiceKind, argv: Sequence[str]) -> str:
    """The entry's text with ``argv`` as its command."""
    try:
        text = kind.template_path.read_bytes().decode("utf-8")  # keep CRLF in the .cmd
    except OSError as exc:
        raise ServiceError(f"cannot read the template {kind.template_path}: {exc}") from None
    if kind is SYSTEMD:
        cmd = " ".join(_systemd_quote(a) for a in argv)
        return _replace_line(text, "ExecStart=", f"ExecStart={cmd}", kind.template)
    if kind is AUTOSTART:
        cmd = " ".join(_desktop_quote(a) for a in argv)
        return _replace_line(text, "Exec=", f"Exec={cmd}", kind.template)
    if kind is LAUNCHAGENT:
        plist = plistlib.loads(text.encode("utf-8"))
        plist["ProgramArguments"] = list(argv)
        return plistlib.dumps(plist).decode("utf-8")
    cmd = " ".join(f'"{a}"' if " " in a else a for a in argv)
    return _replace_line(text, "start ", f'start "Emusify" /min {cmd}', kind.template)


# --- install / uninstall / status ---------------------------------------------------------


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)


def _manage(cmds: list[list[str]], runner: Runner) -> list[str]:
    """Run the service manager's commands; return warnings for the ones that failed."""
    warnings = []
    for cmd in cmds:
        try:
            done = runner(cmd)
        except (OSError, subprocess.SubprocessError) as exc:
            warnings.append(f"`{' '.join(cmd)}` could not run: {exc}")
            continue
        if done.returncode != 0:
            reason = (done.stderr or done.stdout or "").strip() or f"exit {done.returncode}"
            warnings.append(f"`{' '.join(cmd)}` failed: {reason}")
    for w in warnings:
        log.debug("%s", w)
    return warnings


def _activation(kind: ServiceKind, target: Path) -> list[list[str]]:
    if kind is SYSTEMD:
        return [
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", UNIT_NAME],
        ]
    if kind is LAUNCHAGENT:
        return [["launchctl", "load", "-w", str(target)]]
    return []


def _deactivation(kind: ServiceKind, target: Path) -> list[list[str]]:
    if kind is SYSTEMD:
        return [["systemctl", "--user", "disable", UNIT_NAME]]
    if kind is LAUNCHAGENT:
        return [["launchctl", "unload", "-w", str(target)]]
    return []


@dataclass
class Outcome:
    kind: ServiceKind
    path: Path
    warnings: list[str]
    #: Entries of the other kinds that this install removed.
    replaced: list[Outcome] = field(default_factory=list)


def install(
    kind: ServiceKind, argv: Sequence[str], platform: str = sys.platform, *, runner: Runner = _run
) -> Outcome:
    """Write the entry and register it with the service manager.

    Entries of the other kinds for this platform are removed first: two of them would start
    Emusify twice at login (the second start is refused, but says so in the log each time).
    """
    text = render(kind, argv)
    replaced = [
        _remove(other, runner)
        for other in platform_kinds(platform)
        if other is not kind and other.target().exists()
    ]
    target = kind.target()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, target)
    except OSError as exc:
        raise ServiceError(f"cannot write {target}: {exc}") from None
    log.info("installed the %s at %s", kind.description, target)
    return Outcome(kind, target, _manage(_activation(kind, target), runner), replaced)


def uninstall(platform: str = sys.platform, *, runner: Runner = _run) -> list[Outcome]:
    """Deregister and delete every entry of this platform that exists; return what was removed."""
    return [_remove(kind, runner) for kind in platform_kinds(platform) if kind.target().exists()]


def _remove(kind: ServiceKind, runner: Runner) -> Outcome:
    target = kind.target()
    warnings = _manage(_deactivation(kind, target), runner)
    try:
        target.unlink()
    except OSError as exc:
        raise ServiceError(f"cannot remove {target}: {exc}") from None
    if kind is SYSTEMD:
        warnings += _manage([["systemctl", "--user", "daemon-reload"]], runner)
    log.info("removed the %s at %s", kind.description, target)
    return Outcome(kind, target, warnings)


@dataclass(frozen=True)
class EntryStatus:
    kind: ServiceKind
    path: Path
    installed: bool
    current: bool  #: the installed entry runs this installation's command
    manager_state: str | None  #: e.g. systemd's is-enabled answer


def status(
    argv: Sequence[str], platform: str = sys.platform, *, runner: Runner = _run
) -> list[EntryStatus]:
    out = []
    for kind in platform_kinds(platform):
        target = kind.target()
        installed = target.is_file()
        current = installed and target.read_bytes().decode("utf-8") == render(kind, argv)
        state = None
        if installed and kind is SYSTEMD and shutil.which("systemctl"):
            try:
                state = runner(["systemctl", "--user", "is-enabled", UNIT_NAME]).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                state = None
            state = state or "unknown (no systemd user session)"
        out.append(EntryStatus(kind, target, installed, current, state))
    return out
