"""Start on login: the shipped entries are valid, and install/uninstall write and remove them.

The service manager itself (``systemctl --user``, ``launchctl``) is not running in a test
machine, so those calls go to a recorder; the files are checked with the real validators.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys

import pytest

from emusify import cli
from emusify.desktop import service


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is missing: install Debian's packages as .ci/run does (setup.sh --dev)"
        )
    return path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    monkeypatch.setenv("EMUSIFY_HOME", str(tmp_path / "emusify"))
    return tmp_path


class Recorder:
    def __init__(self, returncode: int = 0):
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, cmd):
        self.calls.append(list(cmd))
        return subprocess.CompletedProcess(cmd, self.returncode, "enabled\n", "no bus")


def systemd_verify(path, runtime_dir) -> subprocess.CompletedProcess:
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}
    return subprocess.run(
        [tool("systemd-analyze"), "--user", "verify", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_the_shipped_unit_passes_systemd_analyze_verify(tmp_path):
    done = systemd_verify(service.SYSTEMD.template_path, tmp_path / "run")
    assert done.returncode == 0, done.stderr


def test_the_shipped_desktop_file_passes_desktop_file_validate():
    done = subprocess.run(
        [tool("desktop-file-validate"), str(service.AUTOSTART.template_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_shipped_plist_parses_and_runs_emusify_at_load():
    plist = plistlib.loads(service.LAUNCHAGENT.template_path.read_bytes())
    assert plist["Label"] == service.AGENT_LABEL
    assert plist["ProgramArguments"][-2:] == ["emusify", "run"]
    assert plist["RunAtLoad"] is True


def test_the_windows_script_starts_emusify_run():
    text = service.WINDOWS.template_path.read_bytes().decode()
    assert "\r\n" in text, "a .cmd file needs CRLF line ends"
    assert 'start "Emusify" /min emusify run' in text


def test_install_systemd_writes_a_verified_unit_running_this_python(home):
    recorder = Recorder()
    argv = service.command_line(home / "my config.yaml")
    outcome = service.install(service.SYSTEMD, argv, runner=recorder)
    assert outcome.path == home / "config" / "systemd" / "user" / "emusify.service"
    text = outcome.path.read_text()
    assert f"ExecStart={sys.executable} -m emusify.cli run --config " in text
    assert f'"{home}/my config.yaml"' in text
    assert "After=graphical-session.target" in text
    done = systemd_verify(outcome.path, home / "run")
    assert done.returncode == 0, done.stderr
    assert recorder.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "emusify.service"],
    ]
    assert outcome.warnings == []


def test_install_autostart_writes_a_valid_desktop_file(home):
    outcome = service.install(service.AUTOSTART, service.command_line(), runner=Recorder())
    assert outcome.path == home / "config" / "autostart" / "emusify.desktop"
    assert f"Exec={sys.executable} -m emusify.cli run\n" in outcome.path.read_text()
    done = subprocess.run(
        [tool("desktop-file-validate"), str(outcome.path)], capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def test_install_launchagent_fills_in_the_program_arguments(home):
    recorder = Recorder()
    argv = service.command_line()
    outcome = service.install(service.LAUNCHAGENT, argv, runner=recorder)
    assert outcome.path == home / "Library" / "LaunchAgents" / "com.emusify.agent.plist"
    assert plistlib.loads(outcome.path.read_bytes())["ProgramArguments"] == argv
    assert recorder.calls == [["launchctl", "load", "-w", str(outcome.path)]]


def test_install_windows_startup_script(home):
    outcome = service.install(
        service.WINDOWS, ["C:\\Py thon\\pythonw.exe", "-m", "emusify.cli", "run"]
    )
    assert outcome.path.parent.name == "Startup"
    assert 'start "Emusify" /min "C:\\Py thon\\pythonw.exe" -m emusify.cli run\r\n' in (
        outcome.path.read_bytes().decode()
    )


def test_a_failing_service_manager_is_a_warning_and_the_file_stays(home):
    outcome = service.install(service.SYSTEMD, service.command_line(), runner=Recorder(1))
    assert outcome.path.exists()
    assert outcome.warnings and "no bus" in outcome.warnings[0]


def test_uninstall_disables_and_removes_every_entry_of_the_platform(home):
    recorder = Recorder()
    service.install(service.SYSTEMD, service.command_line(), "linux", runner=recorder)
    copied_by_hand = service.AUTOSTART.target()
    copied_by_hand.parent.mkdir(parents=True)
    copied_by_hand.write_text(service.AUTOSTART.template_path.read_text())
    recorder.calls.clear()
    removed = service.uninstall("linux", runner=recorder)
    assert {o.kind.name for o in removed} == {"systemd", "autostart"}
    assert not any(o.path.exists() for o in removed)
    assert ["systemctl", "--user", "disable", "emusify.service"] in recorder.calls
    assert service.uninstall("linux", runner=recorder) == []


def test_status_tells_installed_current_and_stale_entries(home):
    argv = service.command_line()
    before = service.status(argv, "linux", runner=Recorder())
    assert [(e.kind.name, e.installed) for e in before] == [
        ("systemd", False),
        ("autostart", False),
    ]
    service.install(service.AUTOSTART, argv, runner=Recorder())
    (entry,) = [e for e in service.status(argv, "linux") if e.installed]
    assert entry.current
    (stale,) = [e for e in service.status(["/elsewhere/python"], "linux") if e.installed]
    assert not stale.current


def test_without_a_systemd_user_session_linux_falls_back_to_autostart(home, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "no-systemd-here"))
    assert service.default_kind("linux") is service.AUTOSTART
    (home / "run" / "systemd").mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    assert service.default_kind("linux") is service.SYSTEMD
    assert service.default_kind("darwin") is service.LAUNCHAGENT
    assert service.default_kind("win32") is service.WINDOWS


def test_the_cli_installs_shows_and_removes_the_autostart_entry(home, capsys):
    assert cli.main(["service", "install", "--kind", "autostart"]) == 0
    out = capsys.readouterr().out
    target = home / "config" / "autostart" / "emusify.desktop"
    assert f"Installed the XDG autostart entry: {target}" in out
    assert cli.main(["service", "status"]) == 0
    assert f"XDG autostart entry: installed ({target})" in capsys.readouterr().out
    assert cli.main(["service", "uninstall"]) == 0
    assert f"Removed the XDG autostart entry: {target}" in capsys.readouterr().out
    assert not target.exists()


def test_installing_one_kind_removes_the_other_so_emusify_starts_once(home):
    recorder = Recorder()
    autostart = service.install(service.AUTOSTART, service.command_line(), "linux", runner=recorder)
    unit = service.install(service.SYSTEMD, service.command_line(), "linux", runner=recorder)
    assert unit.path.exists() and not autostart.path.exists()
    service.install(service.AUTOSTART, service.command_line(), "linux", runner=recorder)
    assert autostart.path.exists() and not unit.path.exists()
    assert ["systemctl", "--user", "disable", "emusify.service"] in recorder.calls


def test_install_refuses_a_config_that_cannot_start_emusify(home, capsys):
    missing = home / "missing.yaml"
    assert cli.main(["service", "install", "--kind", "autostart", "--config", str(missing)]) == 2
    assert f"{missing}: 1 problem(s)" in capsys.readouterr().err
    assert not (home / "config" / "autostart" / "emusify.desktop").exists()


def fake_systemctl(home, monkeypatch, returncode: int) -> None:
    """A systemctl on PATH that answers like one without a user session (or succeeds)."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "systemctl"
    script.write_text(
        f"#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit {returncode}\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_failed_daemon_reload_is_a_failure_not_a_promise(home, monkeypatch, capsys):
    fake_systemctl(home, monkeypatch, 1)
    assert cli.main(["service", "install", "--kind", "systemd"]) == 1
    out, err = capsys.readouterr()
    assert "starts at your next login" not in out + err
    assert "error: `systemctl --user daemon-reload` failed: Failed to connect to bus" in err
    assert "Emusify will not start at login" in err


def test_replacing_the_other_kind_of_entry_is_said(home, monkeypatch, capsys):
    fake_systemctl(home, monkeypatch, 0)
    assert cli.main(["service", "install", "--kind", "autostart"]) == 0
    capsys.readouterr()
    assert cli.main(["service", "install", "--kind", "systemd"]) == 0
    out = capsys.readouterr().out
    desktop = home / "config" / "autostart" / "emusify.desktop"
    assert f"Removed the XDG autostart entry ({desktop}): one start-up entry is enough" in out
    assert "Emusify starts at your next login" in out
