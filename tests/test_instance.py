"""One daemon per user: the lock refuses a second holder, and dies with its process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from emusify import instance
from emusify.errors import EmusifyError
from emusify.instance import AlreadyRunning, InstanceLock


def test_a_second_holder_is_refused_with_the_pid_of_the_first():
    with InstanceLock() as first:
        assert first.held
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock().acquire()
    assert isinstance(refused.value, EmusifyError)
    assert refused.value.pid == os.getpid()
    assert f"already running (pid {os.getpid()})" in str(refused.value)
    assert "emusify ctl" in str(refused.value)


def test_released_lock_can_be_taken_again_and_reports_nobody_running():
    lock = InstanceLock().acquire()
    assert instance.running_pid() == os.getpid()
    lock.release()
    assert instance.running_pid() is None
    with InstanceLock():
        pass


def test_runtime_dir_is_private(private_home):
    with InstanceLock() as lock:
        mode = stat.S_IMODE(lock.path.parent.stat().st_mode)
    assert mode == 0o700


def test_a_lock_left_by_a_killed_process_does_not_block(private_home):
    """The file stays behind with the dead pid in it, but the kernel dropped the lock."""
    script = textwrap.dedent(
        """
        import sys, time
        from emusify.instance import InstanceLock
        lock = InstanceLock().acquire()
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "EMUSIFY_HOME": str(private_home)}
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock().acquire()
        assert refused.value.pid == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    stale = instance.lock_path()
    assert stale.read_text().strip() == str(child.pid)
    with InstanceLock() as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
