"""FUSE interrupts: cancel a blocked call when the process that made it gets a signal.

Why this exists.  When a process blocked in a FUSE request (``cat /dev/cons`` reading) gets
a signal, the kernel sends FUSE_INTERRUPT and then, for a fatal signal such as SIGINT with
its default action, waits *uninterruptibly* for the daemon's answer.  libfuse records the
interrupt, but pyfuse3 3.5 neither registers ``fuse_req_interrupt_func`` nor exposes
``fuse_req_interrupted``: the handler never learns of it, and ``cat`` would hang until the
console produced a line.

How it works.  ``Interrupts.call(pid, fn, *args)`` waits for ``fn`` inside a cancel scope
registered with the requesting thread id (``RequestContext.pid``).  One watcher task wakes
every ``PERIOD`` seconds and, for each call older than one period, reads the signal lines of
``/proc/<pid>/status``: a pending, unblocked signal (SigPnd or ShdPnd not masked by SigBlk)
or a vanished process cancels the scope, and the handler answers the FUSE request with EINTR
at once (Rule 3 says what happens to the system call).

Rule 1. Only calls that may block for long (stream reads and writes) come here; they pay a
        cancel scope.  /proc is read only for calls that have already lasted a full period.
Rule 2. A cancelled call raises ``Interrupted``; callers map it to EINTR.
Rule 3. The system call runs in the handler's own task, inside the scope, and is cancelled
        for real: lib interrupts it in the core (``Sys.INTERRUPT``: the clerk's cancel scope,
        a Tflush for a 9P request under it), so a console read gives back nothing it did not
        return, and lib's borrowed worker is idle again once its IPC is over.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

log = logging.getLogger(__name__)

PERIOD = 0.05  # seconds between looks at /proc
T = TypeVar("T")


class Interrupted(Exception):
    """The requesting process was signalled; the call was cancelled (Rule 2)."""


def signalled(pid: int) -> bool:
    """True if thread ``pid`` has a deliverable signal pending, or no longer exists."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        return False
    fields: dict[bytes, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key in (b"SigPnd", b"ShdPnd", b"SigBlk"):
            fields[key] = int(value.strip() or b"0", 16)
    pending = fields.get(b"SigPnd", 0) | fields.get(b"ShdPnd", 0)
    return bool(pending & ~fields.get(b"SigBlk", 0))


class Interrupts:
    """The registry of interruptible calls, their runner nursery and the watcher task."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[int, trio.CancelScope, float]] = {}
        self._ids = itertools.count()
        self._running = False  # the watcher runs (else calls are not interruptible)
        self.cancelled = 0  # calls interrupted so far (for tests and logs)

    async def call(self, pid: int, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """``await fn(*args)``; ``Interrupted`` as soon as thread ``pid`` is signalled.

        ``fn`` is cancelled, not abandoned (Rule 3).
        """
        if pid <= 0 or not self._running:
            return await fn(*args)
        cid = next(self._ids)
        with trio.CancelScope() as scope:
            self._calls[cid] = (pid, scope, trio.current_time())
            try:
                return await fn(*args)
            finally:
                del self._calls[cid]
        raise Interrupted(f"thread {pid} was signalled")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run forever: cancel calls whose requester was signalled."""
        self._running = True
        task_status.started()
        try:
            while True:
                await trio.sleep(PERIOD)
                self._look()
        finally:
            self._running = False

    def _look(self) -> None:
        old = trio.current_time() - PERIOD
        for pid, scope, started in list(self._calls.values()):
            if started <= old and not scope.cancel_called and signalled(pid):
                log.info("thread %d signalled: interrupting its call", pid)
                self.cancelled += 1
                scope.cancel()
