"""Which L4 thread runs a system call: a task's own thread, or a borrowed worker.

The library keeps, per process, a ``UProc`` (pid, the Mngr's thread id, its threads) keyed by
the process's address space -- the model's "process globals"; each thread is a
``uctx.UThread``.

``run(op)`` performs one system call ``op(ut)`` on an L4 thread of the calling process:

1. A task that *is* its thread (the main task, a worker's own task) runs ``op`` directly.
2. Any other task of the process (a child task of ``main``, a FUSE request) takes an idle
   *worker* -- an extra L4 thread of the process -- and *drives* it: ``op`` runs in the
   calling task, whose IPC parks and wakes that task (``kernel.thread`` Rule 1), so a
   borrowed call costs no task switch more than a direct one.  Workers are made on demand by
   ``Sys.NEWTHREAD`` calls that the process's ``sys`` thread (started by the process manager
   with every process, used for nothing else) makes, so a new worker can always be made even
   when every other thread is blocked.  ``newthread()`` is the explicit form: the task keeps
   one worker for a whole block (its calls are handed to the worker's task, ``lend``).

Cancellation of a driven call (Rule 3 below): the kernel takes the thread out of its IPC at
once and records where it was cut (``Thread.cut``).  Cut while SENDING, the Mngr never saw
the call: nothing is left.  Cut while RECEIVING, a clerk has the call and will still reply:
the worker goes OWING, its own task is given the job of absorbing that reply (a closed
receive from the Mngr, bounded by ``INTRWAIT``) and the ``sys`` thread makes
``Sys.INTERRUPT(worker)``, so the core cancels the clerk's scope (a Tflush for a 9P request
under it) and the reply comes at once.  The worker goes back among the idle only when that
reply is in (``release``): a stale reply can never be taken for the answer to a later call
of the same thread.

Rules (the states are ``uctx.WState``; ``uctx.WTRANSITIONS`` is the table of their changes):
1. A worker is in ``UProc.idle`` only while it is IDLE (no job, no call, no reply owed).
2. ``release(w)`` gives a worker back; if it is not IDLE, its own loop does it when the job
   (or the absorbing of a late reply) ends and it is IDLE again.
3. A cancelled borrower never waits for the core: the INTERRUPT is a non-blocking call made
   by the ``sys`` thread, shielded and bounded, and the late result is dropped.
4. The ``sys`` thread's own calls are never interrupted: they do not block in the core, and
   a task cancelled while it waits for one (``worker`` making NEWTHREAD) holds ``lock``, so
   interrupting would take the lock twice (``attempt to re-acquire an already held Lock``,
   which killed exportfs processes on connection churn).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from kernel.ipc import INACTIVE, RECEIVING
from kernel.thread import Thread
from kernel.types import IpcError, Msg, ThreadId
from lp49fs.errors import Eintr, Error
from lp49fs.lib.uctx import CALLING, IDLE, OWING, UThread, WEvent, _ut, current
from lp49fs.syscall import Sys

T = TypeVar("T")
MAXTHREADS = 1024  # L4 threads a process may have: the buffer regions fill [1 GiB, 2 GiB)

INTRWAIT = 2.0  # seconds a cancelled borrower waits at most for its INTERRUPT to be taken

class UProc:
    """The library's per-process state (lives "in" the process's address space)."""

    def __init__(self, pid: int, mngr: ThreadId) -> None:
        self.pid = pid  # this process's pid
        self.mngr = mngr  # the core's Mngr thread: every system call goes there
        self.nthreads = 0  # buffer regions handed out
        self.idle: list[UThread] = []  # workers waiting for a job
        self.sys: UThread | None = None  # the worker that makes NEWTHREAD calls
        self.sys_ready = trio.Event()
        self.lock = trio.Lock()  # one NEWTHREAD at a time
        self.changed = trio.Event()  # a worker registered
        self.running = 0  # threads whose entry has started and not yet ended (runtime.joined)

    def thread(self, t: Thread) -> UThread:
        ut = UThread(t, self, self.nthreads)
        self.nthreads += 1
        return ut

    async def worker(self) -> UThread:
        """An idle worker, made with NEWTHREAD if none is free."""
        if self.idle:
            return self.idle.pop()
        await self.sys_ready.wait()
        async with self.lock:
            if self.idle:
                return self.idle.pop()
            if self.nthreads >= MAXTHREADS:
                raise Error("too many threads")
            assert self.sys is not None
            await lend(self.sys, lambda ut: ut.call(Msg(Sys.NEWTHREAD)))
            while not self.idle:
                self.changed = trio.Event()
                await self.changed.wait()
            return self.idle.pop()

    def release(self, w: UThread) -> None:
        """Give worker ``w`` back (Rule 2: later, by its own loop, if it is not IDLE)."""
        if w.state is not IDLE or w.job is not None:
            w.free = True
        elif w.thread.alive:
            self.idle.append(w)
            self.changed.set()

    async def interrupt(self, w: UThread) -> None:
        """Have the core interrupt ``w``'s system call (Rule 3; call it shielded)."""
        if not self.sys_ready.is_set() or not w.thread.alive or w is self.sys:
            # the sys thread's own calls (NEWTHREAD, INTERRUPT) never block in the core, and
            # its caller holds ``lock``: interrupting it would re-acquire the lock (Rule 4)
            return
        msg = Msg(Sys.INTERRUPT, (int(w.thread.id),))
        with trio.move_on_after(INTRWAIT):  # never hang a cancelled task (the node may be ending)
            async with self.lock:
                assert self.sys is not None
                if not self.sys.thread.alive:
                    return
                try:
                    await lend(self.sys, lambda ut: ut.call(msg))
                except Error:
                    pass


async def run(op: Callable[[UThread], Awaitable[T]]) -> T:
    """Run system call ``op`` on an L4 thread of the calling process (Rules 1 and 2)."""
    ut = current()
    task = trio.lowlevel.current_task()
    if ut.state is IDLE and ut.thread.task is task:
        ut.step(WEvent.CALL)
        try:
            return await op(ut)
        finally:
            ut.step(WEvent.END)
    if ut.holder is task:
        return await lend(ut, op)
    up = ut.uproc
    w = up.idle.pop() if up.idle else await up.worker()
    try:
        return await drive(w, op)
    finally:
        up.release(w)


async def drive(w: UThread, op: Callable[[UThread], Awaitable[T]]) -> T:
    """Run ``op(w)`` in the calling task, which drives idle worker ``w``'s thread (Rule 3)."""
    w.step(WEvent.CALL)
    w.thread.cut = INACTIVE
    try:
        return await op(w)
    except trio.Cancelled:
        if w.thread.cut == RECEIVING:  # the Mngr took the call: a clerk will still reply
            w.step(WEvent.CUT)
            w.job = Job(_absorb)  # its own task takes the late reply; then it is IDLE
            t, w.sleeper = w.sleeper, None
            if t is not None:
                trio.lowlevel.reschedule(t)
            with trio.CancelScope(shield=True):
                await w.uproc.interrupt(w)
        raise
    finally:
        if w.state is CALLING:
            w.step(WEvent.END)


async def _absorb(ut: UThread) -> None:
    """Wait for the reply a cancelled driven call still gets from its clerk (bounded)."""
    try:
        await ut.thread.receive(ut.uproc.mngr, INTRWAIT)
    except IpcError:
        pass


class Job:
    """One borrowed system call: the op, and its outcome once ``finished``.

    The hand-offs are direct task reschedules (no Event per call): the worker parks in
    ``worker_loop`` until ``lend`` gives it a job; the borrower parks until the worker ends it.
    """

    __slots__ = ("cancelled", "error", "finished", "op", "result", "waiter")

    def __init__(self, op: Callable[[UThread], Awaitable[object]]) -> None:
        self.op = op
        self.result: object = None
        self.error: BaseException | None = None
        self.finished = False
        self.cancelled = False  # the borrower gave up: the outcome is dropped
        self.waiter: trio.lowlevel.Task | None = None  # the borrower, while parked

    def finish(self) -> None:
        self.finished = True
        t, self.waiter = self.waiter, None
        if t is not None:
            trio.lowlevel.reschedule(t)

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self.waiter = None
        return trio.lowlevel.Abort.SUCCEEDED


async def lend(w: UThread, op: Callable[[UThread], Awaitable[T]]) -> T:
    """Have worker ``w``'s own task run ``op(w)``; errors come back as raised there.

    If the calling task is cancelled meanwhile, the call is interrupted in the core (Rule 3)
    and Cancelled propagates at once.
    """
    job = Job(op)
    w.step(WEvent.LEND)
    w.job = job
    t, w.sleeper = w.sleeper, None
    if t is not None:
        trio.lowlevel.reschedule(t)
    job.waiter = trio.lowlevel.current_task()
    try:
        await trio.lowlevel.wait_task_rescheduled(job._abort)
    except trio.Cancelled:
        if not job.finished:
            job.cancelled = True
            w.intr = True
            with trio.CancelScope(shield=True):
                await w.uproc.interrupt(w)
        raise
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[return-value]


async def worker_loop(ut: UThread) -> None:
    """A worker's task: run borrowed jobs forever (until the thread is deleted)."""

    def abort(raise_cancel: object) -> trio.lowlevel.Abort:
        ut.sleeper = None
        return trio.lowlevel.Abort.SUCCEEDED

    try:
        while True:
            if ut.job is None:
                ut.sleeper = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(abort)
            job, ut.job = ut.job, None
            if job is None:
                continue
            if ut.state is not OWING:  # OWING stays OWING while its task absorbs the reply
                ut.step(WEvent.CALL)
            ut.intr = job.cancelled
            try:
                job.result = await job.op(ut)
            except Exception as e:
                job.error = e
            except BaseException:  # the thread was deleted under the job
                job.error = Error(Eintr)
                raise
            finally:
                ut.intr = False
                ut.step(WEvent.END)
                job.finish()
                if ut.free:
                    ut.free = False
                    ut.uproc.release(ut)
    finally:  # deleted: a job handed over but never started ends too
        pending, ut.job = ut.job, None
        if pending is not None:
            if ut.state is not IDLE:
                ut.step(WEvent.END)
            pending.error = Error(Eintr)
            pending.finish()


@asynccontextmanager
async def newthread() -> AsyncIterator[UThread]:
    """Keep one worker thread for the calling task for the block (its calls go there)."""
    ut = current()
    w = await ut.uproc.worker()
    w.holder = trio.lowlevel.current_task()
    token = _ut.set(w)
    try:
        yield w
    finally:
        _ut.reset(token)
        w.holder = None
        w.uproc.release(w)
