"""The Mngr thread and its clerk pool: where every system call of every process arrives.

Theory of operation: the Mngr is one L4 thread in the core's
space.  Its loop is

1. take an idle clerk from the pool (make a new clerk thread if none is idle and the pool is
   below ``maxclerks``; otherwise wait for one to come back);
2. set its own receive window to that clerk's window, so the buffer pages of the next call
   land where that clerk will look for them;
3. ``receive(any)``: the next system call, from whichever process calls first;
4. put (caller, message) in the clerk's slot and send the clerk a HANDOFF message.

The clerk (``lp49fs.core.clerk``) runs the call and replies to the caller itself, on the
Mngr's behalf (propagation), then returns to the pool.  So a clerk blocked in a pipe or
console read holds only itself: the Mngr goes on receiving other calls with other clerks.

Rules:
1. Each clerk owns one window-sized, window-aligned region of the core's space
   (``WINBASE + i * WINDOW``); only the clerk it belongs to reads or writes there.
2. A caller waits in the L4 send queue of the Mngr while every clerk is busy and the pool is
   full: no call is lost, none is refused.
3. ``serving`` maps a caller to the clerk that has its call, from the moment the Mngr hands it
   over (synchronously, before any other call can be received) until the clerk replies; a
   ``Sys.INTERRUPT`` of that caller finds the clerk there and cancels the call.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from kernel.thread import Thread
from kernel.types import ANYTHREAD, Acceptor, Fpage, IpcError, Msg, ThreadId
from lp49fs import trace as _t
from lp49fs.core.clerk import Clerk
from lp49fs.syscall import HANDOFF, MAXSTR, WINDOW, WINDOW_LOG2

if TYPE_CHECKING:
    from lp49fs.core.procmgr import Hvm, ProcMgr

log = logging.getLogger(__name__)

WINBASE = 0x8000_0000  # first clerk window in the core's space
MAXCLERKS = 1000  # pool limit: the windows fill [2 GiB, 4 GiB) of the core's space
HANDOFF_MSG = Msg(HANDOFF)


class Mngr:
    """The Mngr of one node's core and its pool of clerks."""

    def __init__(self, procmgr: ProcMgr, hvm: Hvm, maxclerks: int = MAXCLERKS) -> None:
        self.procmgr = procmgr
        self.core = procmgr.core
        self.hvm = hvm
        self.maxclerks = maxclerks  # the pool grows up to this many clerks
        self.tid: ThreadId | None = None  # the Mngr's thread id, once started
        self.clerks: list[Clerk] = []  # every clerk, by index
        self.idle: list[Clerk] = []  # clerks waiting for work
        self.back = trio.Event()  # set when a clerk returns to the pool
        self.calls = 0  # system calls received (for tests and benchmarks)
        self.serving: dict[ThreadId, Clerk] = {}  # caller -> clerk with its call (Rule 3)

    def start(self, name: str = "core") -> ThreadId:
        """Create the core's space with the Mngr thread in it (returns the Mngr's id)."""
        self.tid = self.hvm.create_space(self.run, name=name)
        return self.tid

    def window(self, index: int) -> Fpage:
        return Fpage(WINBASE + index * WINDOW, WINDOW_LOG2)

    async def clerk(self) -> Clerk:
        """An idle clerk: from the pool, new, or the next to come back (Rule 2)."""
        while not self.idle:
            if len(self.clerks) < self.maxclerks:
                assert self.tid is not None
                c = Clerk(self, len(self.clerks))
                self.clerks.append(c)
                c.tid = self.hvm.create_thread(self.tid, c.run)
                await c.ready.wait()
                break
            self.back = trio.Event()
            await self.back.wait()
        return self.idle.pop()

    def release(self, c: Clerk) -> None:
        """Clerk ``c`` is idle again."""
        self.idle.append(c)
        self.back.set()

    async def run(self, thread: Thread) -> None:
        """The Mngr loop (steps 1-4 of the module docstring)."""
        thread.name = "Mngr"
        while True:
            c = await self.clerk()
            thread.acceptor = Acceptor(c.window, MAXSTR)
            try:
                caller, msg = await thread.receive(ANYTHREAD)
            except IpcError as e:  # a malformed call (too long a string ...): drop it
                log.info("mngr: bad call: %s", e)
                self.idle.append(c)
                continue
            self.calls += 1
            if _t.on and (pi := self.procmgr.bytid.get(caller)) is not None:  # lp49fs.trace
                _t.syscall_in(pi.proc.tracelog, pi.proc.pid, caller, msg, self.tid or 0)
            c.caller, c.msg = caller, msg
            c.intr = False
            self.serving[caller] = c
            assert c.tid is not None
            await thread.send(c.tid, HANDOFF_MSG)
