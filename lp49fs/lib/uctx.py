"""The user side of a system call: who am I, my buffer, and the IPC ``call`` to the Mngr.

Theory of operation: an LP49 process is an address space with one or more L4 threads (trio
tasks started by the process manager).  The library keeps, per process, a ``UProc`` (pid,
the Mngr's thread id, its threads) keyed by the process's address space -- the model's
"process globals", held by ``runtime`` while any thread of the process runs -- and, per L4
thread, a ``UThread``: the ``kernel`` Thread (its UTCB and system-call gate), the thread's
buffer region and how much of it is mapped.  A context variable ``_ut`` says which UThread
the current trio task is; a program's main task and every task it starts inherit it.

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
the worker's own task is given the job of absorbing that reply (a closed receive from the
Mngr, bounded by ``INTRWAIT``) and the ``sys`` thread makes ``Sys.INTERRUPT(worker)``, so
the core cancels the clerk's scope (a Tflush for a 9P request under it) and the reply comes
at once.  The worker goes back among the idle only when that reply is in (``release``): a
stale reply can never be taken for the answer to a later call of the same thread.

Rules:
1. A worker is in ``UProc.idle`` only while it has no job, is not in a system call and owes
   no reply.
2. ``release(w)`` gives a worker back; if it is still busy, the worker loop does it when the
   job ends.
3. A cancelled borrower never waits for the core: the INTERRUPT is a non-blocking call made
   by the ``sys`` thread, shielded and bounded, and the late result is dropped.
4. The ``sys`` thread's own calls are never interrupted: they do not block in the core, and
   a task cancelled while it waits for one (``worker`` making NEWTHREAD) holds ``lock``, so
   interrupting would take the lock twice (``attempt to re-acquire an already held Lock``,
   which killed exportfs processes on connection churn).

Buffers (lp49fs.syscall Rule 1): thread k owns ``[BUFBASE + k*WINDOW, +WINDOW)``; data goes at
``iooff`` in it (0 normally; tests set it to check unaligned buffers).  Before a read-type
call the pages are touched once (``prefault``): only pages the caller has mapped travel in a
MapItem, as in X.2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TypeVar

import trio

from kernel.ipc import INACTIVE, RECEIVING
from kernel.thread import Thread
from kernel.types import (
    NILPAGE,
    PAGE_SIZE,
    Acceptor,
    IpcError,
    Msg,
    StringItem,
    ThreadId,
)
from lp49fs import trace as _t
from lp49fs.errors import Ebadarg, Eintr, Error
from lp49fs.syscall import BUFBASE, ERR, MAXSTR, WINDOW, Sys

T = TypeVar("T")
MAXTHREADS = 1024  # L4 threads a process may have: the buffer regions fill [1 GiB, 2 GiB)

INTRWAIT = 2.0  # seconds a cancelled borrower waits at most for its INTERRUPT to be taken

_ut: ContextVar[UThread | None] = ContextVar("lp49_uthread", default=None)
_errstr: ContextVar[str] = ContextVar("lp49_errstr", default="")
# A tracer of the calling task's system calls (the FUSE view's -o debug): one line per call.
on_syscall: ContextVar[Callable[[str], None] | None] = ContextVar("lp49_on_syscall", default=None)


class UThread:
    """One L4 thread of a process, as the library sees it."""

    def __init__(self, thread: Thread, uproc: UProc, index: int) -> None:
        self.thread = thread  # the kernel Thread (UTCB + IPC gate)
        self.uproc = uproc  # the process it belongs to
        self.buf = BUFBASE + index * WINDOW  # this thread's buffer region
        self.mapped = 0  # bytes of the region touched (mapped) so far, from its start
        self.iooff = 0  # where in the region data goes (unaligned-buffer tests change it)
        self.busy = False  # inside a system call
        self.job: Job | None = None  # worker: the borrowed call not yet started
        self.sleeper: trio.lowlevel.Task | None = None  # worker: its task, parked for a job
        self.holder: trio.lowlevel.Task | None = None  # newthread(): the task keeping it
        self.intr = False  # the running job was cancelled: do not start a call
        self.free = False  # released while busy: back to idle when the job ends (Rule 2)
        self.owed = False  # a driven call was cancelled after the Mngr took it (a reply is due)
        thread.acceptor = Acceptor(NILPAGE, MAXSTR)  # replies may carry strings, never maps

    async def prefault(self, addr: int, n: int) -> None:
        """Touch every page of ``[addr, addr+n)`` not yet mapped (buffer-relative, contiguous)."""
        end = addr + n - self.buf
        pos = self.mapped
        while pos < end:
            await self.thread.store(self.buf + pos, b"\0")
            pos += PAGE_SIZE
        self.mapped = max(self.mapped, pos)

    async def call(self, msg: Msg) -> Msg:
        """IPC call to the Mngr; an ERR reply raises ``Error`` (and sets errstr)."""
        if self.intr:  # the borrower was cancelled before the call left (module docstring)
            _errstr.set(Eintr)
            raise Error(Eintr)
        th = self.thread
        th.cut = INACTIVE
        back = _t.libcall(msg) if _t.on else ""
        try:
            r = await th.call(self.uproc.mngr, msg)
        except trio.Cancelled:
            if th.cut == RECEIVING:  # the Mngr took it: a clerk will still reply (docstring)
                self.owed = True
            raise
        except IpcError as e:  # refused by the kernel (a string too long ...): a bad argument
            ename = Ebadarg if th.alive else Eintr  # deleted under the call: interrupted
            _errstr.set(ename)
            raise Error(ename) from e
        if _t.on:
            _t.libret(back, r)
        tracer = on_syscall.get()
        if r.label == ERR:
            item = r.items[0]
            ename = item.data.decode() if isinstance(item, StringItem) else "?"
            _errstr.set(ename)
            if tracer is not None:
                tracer(f"{_callname(msg)} -> error {ename!r}")
            raise Error(ename)
        if tracer is not None:
            tracer(f"{_callname(msg)} -> {r.words}")
        return r


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
        self.running = 0  # threads whose entry has started and not yet ended

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
        """Give worker ``w`` back (Rule 2: later, by its own loop, if it is still busy)."""
        if w.busy or w.job is not None:
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


def current() -> UThread:
    """The UThread of the calling task; RuntimeError outside an LP49 process."""
    ut = _ut.get()
    if ut is None:
        raise RuntimeError("not running as an LP49 process")
    return ut


def bind(ut: UThread) -> None:
    """Make the calling task (an L4 thread's own task) run as ``ut``."""
    _ut.set(ut)


def _callname(msg: Msg) -> str:
    """``open('/x', 0)``-style text of a system call message, for ``on_syscall``."""
    try:
        name = Sys(msg.label).name.lower()
    except ValueError:
        name = f"sys{msg.label}"
    args = [repr(i.data.decode(errors="replace")) for i in msg.items if isinstance(i, StringItem)]
    return f"{name}({', '.join([*args, *map(str, msg.words)])})"


def errstr() -> str:
    """The error string of the calling task's last failed system call."""
    return _errstr.get()


async def run(op: Callable[[UThread], Awaitable[T]]) -> T:
    """Run system call ``op`` on an L4 thread of the calling process (Rules 1 and 2)."""
    ut = current()
    task = trio.lowlevel.current_task()
    if not ut.busy and ut.thread.task is task:
        ut.busy = True
        try:
            return await op(ut)
        finally:
            ut.busy = False
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
    w.busy = True
    try:
        return await op(w)
    except trio.Cancelled:
        if w.owed:
            w.owed = False
            w.job = Job(_absorb)  # its own task takes the late reply, then releases it
            t, w.sleeper = w.sleeper, None
            if t is not None:
                trio.lowlevel.reschedule(t)
            w.busy = False
            with trio.CancelScope(shield=True):
                await w.uproc.interrupt(w)
        raise
    finally:
        w.busy = False


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
            ut.busy = True
            ut.intr = job.cancelled
            try:
                job.result = await job.op(ut)
            except Exception as e:
                job.error = e
            except BaseException:  # the thread was deleted under the job
                job.error = Error(Eintr)
                raise
            finally:
                ut.busy = ut.intr = False
                job.finish()
                if ut.free:
                    ut.free = False
                    ut.uproc.release(ut)
    finally:  # deleted: a job handed over but never started ends too
        pending, ut.job = ut.job, None
        if pending is not None:
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
