"""The Mngr thread and its clerk pool: where every system call of every process arrives.

Theory of operation (DESIGN.md §2, steps 4-8): the Mngr is one L4 thread in the core's
space, and every process calls it.  Its receive is driven by an idle clerk (leader and
followers): the Mngr thread is lent to one idle clerk at a time, the *leader*
(``kernel.thread`` Rule 1: a task may drive a thread it borrowed), which

1. sets the Mngr's receive window to its own window, so the buffer pages of the next call
   land where that clerk will look for them;
2. ``receive(any)`` on the Mngr thread: the next system call, from whichever process calls
   first, wakes the clerk's own task;
3. hands the Mngr thread on (``step_down``): to the next idle clerk, or, when none is idle,
   to whichever clerk comes back first, after asking the Mngr's own task to grow the pool;
4. runs the call and replies to the caller on the Mngr's behalf (propagation), then goes
   back to the pool.

So a call costs one task switch into the core (caller to clerk) and one back: there is no
hand-off message from a receiving Mngr task to a clerk.  A clerk blocked in a pipe or console
read holds only itself: another clerk drives the Mngr's receive meanwhile.  The Mngr's own
task only makes new clerk threads (HVM's thread creation runs there, as before).

Rules:
1. Each clerk owns one window-sized, window-aligned region of the core's space
   (``WINBASE + i * WINDOW``); only the clerk it belongs to reads or writes there.
2. A caller waits in the L4 send queue of the Mngr while every clerk is busy and the pool is
   full: no call is lost, none is refused.
3. ``serving`` maps a caller to the clerk that has its call, from the moment the clerk
   receives it (synchronously, before any other call can be received) until the clerk
   replies; a ``Sys.INTERRUPT`` of that caller finds the clerk there and cancels the call.
4. At most one clerk drives the Mngr's receive (``leader``); ``idle`` holds every clerk not
   serving a call, the leader included.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from kernel.thread import Thread
from kernel.types import ANYTHREAD, Acceptor, Fpage, IpcError, Msg, ThreadId
from lp49fs import trace as _t
from lp49fs.core.clerk import Clerk
from lp49fs.syscall import MAXSTR, WINDOW, WINDOW_LOG2

if TYPE_CHECKING:
    from lp49fs.core.procmgr import Hvm, ProcMgr

log = logging.getLogger(__name__)

WINBASE = 0x8000_0000  # first clerk window in the core's space
MAXCLERKS = 1000  # pool limit: the windows fill [2 GiB, 4 GiB) of the core's space


class Mngr:
    """The Mngr of one node's core and its pool of clerks."""

    def __init__(self, procmgr: ProcMgr, hvm: Hvm, maxclerks: int = MAXCLERKS) -> None:
        self.procmgr = procmgr
        self.core = procmgr.core
        self.hvm = hvm
        self.maxclerks = maxclerks  # the pool grows up to this many clerks
        self.tid: ThreadId | None = None  # the Mngr's thread id, once started
        self.thread: Thread | None = None  # the Mngr thread, lent to the leader
        self.clerks: list[Clerk] = []  # every clerk, by index
        self.idle: list[Clerk] = []  # clerks not serving a call (Rule 4)
        self.leader: Clerk | None = None  # the clerk driving the Mngr's receive (Rule 4)
        self.want = trio.Event()  # set when the pool should grow (no clerk is idle)
        self.calls = 0  # system calls received (for tests and benchmarks)
        self.serving: dict[ThreadId, Clerk] = {}  # caller -> clerk with its call (Rule 3)

    def start(self, name: str = "core") -> ThreadId:
        """Create the core's space with the Mngr thread in it (returns the Mngr's id)."""
        self.tid = self.hvm.create_space(self.run, name=name)
        return self.tid

    def window(self, index: int) -> Fpage:
        return Fpage(WINBASE + index * WINDOW, WINDOW_LOG2)

    async def run(self, thread: Thread) -> None:
        """The Mngr's own task: make clerks whenever the pool runs dry (step 3)."""
        thread.name = "Mngr"
        self.thread = thread
        while True:
            if self.leader is None and not self.idle and len(self.clerks) < self.maxclerks:
                c = Clerk(self, len(self.clerks))
                self.clerks.append(c)
                c.tid = self.hvm.create_thread(thread.id, c.run)
                await c.ready.wait()
                continue
            self.want = trio.Event()
            await self.want.wait()

    def release(self, c: Clerk) -> None:
        """Clerk ``c`` is idle again; it leads if no clerk drives the Mngr's receive."""
        self.idle.append(c)
        if self.leader is None:
            self.leader = c
            c.wake()

    def step_down(self, c: Clerk) -> None:
        """Leader ``c`` took a call: lend the Mngr's receive to another idle clerk (step 3)."""
        self.idle.remove(c)
        self.leader = None
        if self.idle:
            self.leader = self.idle[-1]
            self.leader.wake()
        else:
            self.want.set()

    async def receive(self, c: Clerk) -> tuple[ThreadId, Msg] | None:
        """Leader ``c`` drives the Mngr's receive (steps 1-2); None: a malformed call, dropped.

        Raises: IpcError when the Mngr thread is gone (the node is stopping).
        """
        thread = self.thread
        assert thread is not None
        thread.acceptor = Acceptor(c.window, MAXSTR)
        try:
            caller, msg = await thread.receive(ANYTHREAD)
        except IpcError as e:  # a malformed call (too long a string ...): drop it
            if not thread.alive:
                raise
            log.info("mngr: bad call: %s", e)
            return None
        self.calls += 1
        if _t.on and (pi := self.procmgr.bytid.get(caller)) is not None:  # lp49fs.trace
            _t.syscall_in(pi.proc.tracelog, pi.proc.pid, caller, msg, self.tid or 0)
        c.caller, c.msg = caller, msg
        c.intr = False
        self.serving[caller] = c
        self.step_down(c)
        return caller, msg
