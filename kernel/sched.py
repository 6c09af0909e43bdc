"""The scheduler of the kernel model: among woken threads, the higher priority runs first.

Theory of operation: threads are trio tasks, and trio runs every runnable task once per
batch, in no promised order.  The model adds L4's rule -- a thread runs only while no thread
of higher priority is ready -- at the two places where a thread meets the kernel:

1. **Wake.**  Every IPC that makes a parked thread runnable goes through ``wake``: the
   thread is counted as *ready* at its priority (``count``, ``top``) until its task runs
   again (``ran``, called as its IPC returns).
2. **Kernel entry and exit.**  A thread that enters IPC, or leaves it after being woken,
   while a thread of higher priority is ready, is *deferred* (``defer``): its task parks
   until a thread blocks in IPC while no thread above it is ready (``release``, called by
   ``kernel.ipc.park`` and on thread deletion).  So the higher thread's task runs first,
   and the lower one only when the higher blocks, without the lower one spinning.  Threads
   of equal priority share the processor as trio shares it (round robin per batch).

Rules:
1. ``count[p]`` is the number of threads woken at priority ``p`` whose tasks have not run
   since; ``top`` is the highest ``p`` with a count, -1 when none.  ``Thread.woken`` is the
   priority it was counted at (-1: not counted), so a priority change in between never
   unbalances the counts.
2. Python code between two kernel entries is not preempted (there is no timer tick in the
   model); a thread that never enters the kernel cannot be held back.
3. A deferred thread also wakes after ``DEFERMAX`` seconds and looks again: a higher
   thread that stops running without blocking in IPC (it waits on trio I/O instead) never
   holds a lower one for longer, and a count left wrong by a bug could slow a thread, never
   stop it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

if TYPE_CHECKING:
    from kernel.thread import Thread

NPRIO = 256  # priorities 0..255
DEFAULT_PRIORITY = 100  # a new thread's priority (Plan 9's PriNormal 10, times 10)
DEFERMAX = 0.005  # seconds a deferred thread waits before it looks again (Rule 3)


class Sched:
    """The ready counts of one kernel."""

    __slots__ = ("count", "deferred", "defers", "top")

    def __init__(self) -> None:
        self.count = [0] * NPRIO  # Rule 1
        self.top = -1  # Rule 1
        self.defers = 0  # times a thread was deferred (for tests and benchmarks)
        self.deferred: dict[Task, Thread] = {}  # parked in ``defer``, by task (step 2)

    def wake(self, t: Thread) -> None:
        """Make parked thread ``t`` runnable (step 1)."""
        t.parked = False
        p = t.priority
        if t.woken < 0:
            t.woken = p
            self.count[p] += 1
            if p > self.top:
                self.top = p
        reschedule(t.task)

    def ran(self, t: Thread) -> None:
        """``t``'s task runs again: it is no longer waiting to be run."""
        p = t.woken
        if p < 0:
            return
        t.woken = -1
        n = self.count[p] = self.count[p] - 1
        if n == 0 and p == self.top:
            top = p - 1
            count = self.count
            while top >= 0 and not count[top]:
                top -= 1
            self.top = top

    def release(self) -> None:
        """A thread blocks: deferred threads that no ready thread outranks may run (step 2)."""
        top = self.top
        for task, t in list(self.deferred.items()):
            if t.priority >= top:
                del self.deferred[task]
                reschedule(task)

    async def defer(self, t: Thread) -> None:
        """Step 2: park while a thread of higher priority than ``t`` is ready (Rule 3)."""
        task = current_task()

        def abort(_: object) -> Abort:
            self.deferred.pop(task, None)
            return Abort.SUCCEEDED

        while self.top > t.priority:
            self.defers += 1
            self.deferred[task] = t
            with trio.CancelScope(deadline=trio.current_time() + DEFERMAX, shield=True):
                await wait_task_rescheduled(abort)
