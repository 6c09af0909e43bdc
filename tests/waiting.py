"""Waiting for a condition instead of for a time.

A test that sleeps a fixed time to "let something happen" passes or fails with the machine's
load, and often passes without testing anything (the thing had not happened yet, and the test
took another path).  These helpers poll a predicate until it holds, and fail with what was
awaited when it does not within a generous bound: the bound is only a guard against a hang,
never a measurement.

- ``wait_until(pred, what)`` for tests that drive subprocesses or mounts from plain threads;
- ``await_until(pred, what)`` for trio tests (the predicate is checked between trio sleeps, so
  the tasks under test run);
- in-process, when "every other task is blocked" is the condition, use
  ``trio.testing.wait_all_tasks_blocked`` instead.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

import pytest
import trio

DEADLINE = 60.0  # seconds: a hang guard, never a timing assertion (generous: loaded machines)
POLL = 0.005


def wait_until(pred: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``pred`` until it is true; fail the test naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    delay = POLL
    while not pred():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


async def await_until(pred: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """``wait_until`` for trio tests: poll ``pred`` between trio sleeps.  ``pred`` may be an
    async function (a check made with ``lp49fs.lib`` calls inside an LP49 process)."""
    end = trio.current_time() + timeout
    while not await _holds(pred):
        if trio.current_time() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await trio.sleep(POLL)


async def _holds(pred: Callable[[], object]) -> bool:
    r = pred()
    if inspect.isawaitable(r):
        r = await r
    return bool(r)


def thread_in_syscall(pid: int, nr: int | None = None) -> bool:
    """True when process ``pid`` is blocked in a system call (``nr`` if given), per /proc."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return False
    if not fields or fields[0] in ("running", "-1"):
        return False
    return nr is None or fields[0] == str(nr)
