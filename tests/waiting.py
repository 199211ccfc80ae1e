"""Waiting in tests for something that happens in another thread or process: one poll loop,
so every wait fails the same way, with what it last saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    read: Callable[[], T], done: Callable[[T], bool], timeout: float = 40.0, what: str = ""
) -> T:
    """Poll ``read()`` until ``done`` accepts it and return that reading; past ``timeout``
    seconds fail the test with the last reading, which says what happened instead."""
    deadline = time.monotonic() + timeout
    while True:
        seen = read()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or done}: {seen}")
        time.sleep(0.05)
