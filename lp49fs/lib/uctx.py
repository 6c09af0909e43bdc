"""The user side of a system call: who am I, my buffer, and the IPC ``call`` to the Mngr.

Theory of operation: an LP49 process is an address space with one or more L4 threads (trio
tasks started by the process manager).  The library keeps, per L4 thread, a ``UThread``: the
``kernel`` Thread (its UTCB and system-call gate), the thread's buffer region and how much of
it is mapped, and its state as a worker (``WState``).  A context variable ``_ut`` says which
UThread the current trio task is; a program's main task and every task it starts inherit it.
Which thread a call runs on, and how a task borrows one, is ``lp49fs.lib.workers``.

``UThread.call(msg)`` is one system call: an L4 IPC ``call`` to the Mngr with the message
``lp49fs.syscall`` lays out; an ``ERR`` reply raises ``Error`` with the text it carries and
sets ``errstr()``.  A call cancelled while the Mngr already has it (``Thread.cut`` RECEIVING)
still gets a reply from its clerk; the workers module deals with that.

Buffers (lp49fs.syscall Rule 1): thread k owns ``[BUFBASE + k*WINDOW, +WINDOW)``; data goes at
``iooff`` in it (0 normally; tests set it to check unaligned buffers).  Before a read-type
call the pages are touched once (``prefault``): only pages the caller has mapped travel in a
MapItem, as in X.2.

Worker states, as data (``WTRANSITIONS``; ``UThread.step`` applies it and refuses anything
else):

========= ========================================================================
IDLE      between calls: no call running, no job handed over, no reply owed
LENT      a job was handed to the thread's own task (``workers.lend``), not started
CALLING   a call (or a lent job) runs on the thread; a job lent meanwhile waits for it
OWING     a driven call was cut after the Mngr took it: the thread's own task absorbs
          the late reply before the thread is IDLE again
========= ========================================================================
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

import trio

from kernel.ipc import INACTIVE
from kernel.thread import Thread
from kernel.types import NILPAGE, PAGE_SIZE, Acceptor, IpcError, Msg, StringItem
from lp49fs import trace as _t
from lp49fs.errors import Ebadarg, Eintr, Error
from lp49fs.syscall import BUFBASE, ERR, MAXSTR, WINDOW

if TYPE_CHECKING:
    from lp49fs.lib.workers import Job, UProc

_ut: ContextVar[UThread | None] = ContextVar("lp49_uthread", default=None)
_errstr: ContextVar[str] = ContextVar("lp49_errstr", default="")


class WState(enum.Enum):
    IDLE = "IDLE"
    LENT = "LENT"
    CALLING = "CALLING"
    OWING = "OWING"

    def __repr__(self) -> str:
        return self.value


class WEvent(enum.Enum):
    LEND = "LEND"  # workers.lend hands a job to the thread's own task
    CALL = "CALL"  # a call starts: the thread's own task's, a driving task's, or a lent job
    CUT = "CUT"  # a driven call is cancelled while the Mngr has it (a reply is due)
    END = "END"  # the call, the job or the absorbing of a late reply is over


IDLE: Final = WState.IDLE
LENT: Final = WState.LENT
CALLING: Final = WState.CALLING
OWING: Final = WState.OWING

# (state, event) -> state; any other pair is a bug that ``UThread.step`` reports.
WTRANSITIONS: dict[tuple[WState, WEvent], WState] = {
    (IDLE, WEvent.CALL): CALLING,  # a direct call, or a borrower driving the thread
    (IDLE, WEvent.LEND): LENT,
    (CALLING, WEvent.LEND): CALLING,  # queued: the job starts when this call ends
    (LENT, WEvent.CALL): CALLING,  # the thread's own task starts the job
    (LENT, WEvent.END): IDLE,  # the thread was deleted before it started the job
    (CALLING, WEvent.END): IDLE,
    (CALLING, WEvent.CUT): OWING,  # the thread's own task is given the late reply to take
    (OWING, WEvent.END): IDLE,  # the late reply is in (or INTRWAIT passed)
}


class UThread:
    """One L4 thread of a process, as the library sees it."""

    def __init__(self, thread: Thread, uproc: UProc, index: int) -> None:
        self.thread = thread  # the kernel Thread (UTCB + IPC gate)
        self.uproc = uproc  # the process it belongs to
        self.buf = BUFBASE + index * WINDOW  # this thread's buffer region
        self.mapped = 0  # bytes of the region touched (mapped) so far, from its start
        self.iooff = 0  # where in the region data goes (unaligned-buffer tests change it)
        self.state = IDLE  # as a worker (module docstring)
        self.job: Job | None = None  # worker: the lent job (or the absorbing) not yet started
        self.sleeper: trio.lowlevel.Task | None = None  # worker: its task, parked for a job
        self.holder: trio.lowlevel.Task | None = None  # newthread(): the task keeping it
        self.intr = False  # the running job was cancelled: do not start a call
        self.free = False  # released while not IDLE: back to idle once IDLE (workers Rule 2)
        thread.acceptor = Acceptor(NILPAGE, MAXSTR)  # replies may carry strings, never maps

    def step(self, ev: WEvent) -> WState:
        """Apply ``ev`` to the worker state (``WTRANSITIONS``); returns the new state."""
        new = WTRANSITIONS.get((self.state, ev))
        if new is None:
            raise AssertionError(f"thread {self.thread.id}: {ev.value} while {self.state.value}")
        self.state = new
        return new

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
        if self.intr:  # the borrower was cancelled before the call left (workers.lend)
            _errstr.set(Eintr)
            raise Error(Eintr)
        th = self.thread
        th.cut = INACTIVE
        try:  # a cancellation propagates; th.cut says where it cut the IPC (workers Rule 3)
            ipc = th.call(self.uproc.mngr, msg)
            r = await (_t.libcall(msg, ipc) if _t.on else ipc)  # every watcher is a trace
        except IpcError as e:  # refused by the kernel (a string too long ...): a bad argument
            ename = Ebadarg if th.alive else Eintr  # deleted under the call: interrupted
            _errstr.set(ename)
            raise Error(ename) from e
        if r.label == ERR:
            item = r.items[0]
            ename = item.data.decode() if isinstance(item, StringItem) else "?"
            _errstr.set(ename)
            raise Error(ename)
        return r



def current() -> UThread:
    """The UThread of the calling task; RuntimeError outside an LP49 process."""
    ut = _ut.get()
    if ut is None:
        raise RuntimeError("not running as an LP49 process")
    return ut


def bind(ut: UThread) -> None:
    """Make the calling task (an L4 thread's own task) run as ``ut``."""
    _ut.set(ut)


def errstr() -> str:
    """The error string of the calling task's last failed system call."""
    return _errstr.get()
