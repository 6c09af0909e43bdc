"""CPU time: what each process used of the node's one CPU, and what the CPU did.

Theory of operation.  A node's CPU is the trio thread every task of it runs on, so the
time a process used is the time its tasks' steps took.  ``Meter`` is a trio instrument
(one per trio run, ``meter()``) that times every task step and charges it:

Rule 1. To the process whose system call the task is serving or last served (``proc.
        charged``, set with ``up``: a clerk, namec, a servant): that process's **sys**
        time, as Plan 9 charges kernel work to ``up``.  A call that completes within one
        task step has already reset ``up`` when the step ends; ``charged`` stays.
Rule 2. Else to the process the task belongs to (``OWNER`` in the task's context: set at
        the top of each of the process's L4 threads by ``owned``, and inherited by every
        task the program starts): its **user** time, the program's own code and its IPC.
Rule 3. Else to nobody: the kernel model, HVM and the node's glue are the node's own.
        The time trio waits for I/O with nothing to run is the CPU's **idle** time.

A process's times (``Times``, Plan 9's ``time[6]``) are read as milliseconds: user, sys and
real (since it started), then the same three of its exited children.  When a process exits
(``exited``), its own and its children's times make the wait record its parent gets
(``pid utime stime rtime 'msg'``), and are added to the parent's children's times, as Plan
9's ``pexit`` does.  ``/dev/sysstat`` is one line for the one CPU: Plan 9's ten numbers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import trio

from lp49fs.core.proc import Proc, Times, charged

OWNER: ContextVar[Times | None] = ContextVar("lp49_cpu_owner", default=None)
_METER: trio.lowlevel.RunVar[Meter] = trio.lowlevel.RunVar("lp49_meter")


class Meter(trio.abc.Instrument):
    """Times task steps and trio's waits (Rules 1-3); counts steps as context switches."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.steps = 0  # task steps: the CPU's context switches
        self.busy = 0.0  # seconds in task steps
        self.idle = 0.0  # seconds waiting for I/O with nothing to run
        self.since = time.perf_counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.t0 = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        dt = time.perf_counter() - self.t0
        self.steps += 1
        self.busy += dt
        ctx = task.context
        sys = ctx.get(charged)
        if sys is not None:
            sys.sys += dt  # Rule 1
            return
        owner = ctx.get(OWNER)
        if owner is not None:
            owner.user += dt  # Rule 2

    def before_io_wait(self, timeout: float) -> None:
        self.t0 = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        self.idle += time.perf_counter() - self.t0


def meter() -> Meter:
    """The meter of the running trio run, installed on first use."""
    try:
        return _METER.get()
    except LookupError:
        m = Meter()
        _METER.set(m)
        trio.lowlevel.add_instrument(m)
        return m


Entry = Callable[[Any], Awaitable[None]]


def owned(times: Times, entry: Entry) -> Entry:
    """``entry`` (an L4 thread's entry) with its task and the tasks it starts charged to
    ``times`` as user time (Rule 2)."""

    async def run(thread: Any) -> None:
        OWNER.set(times)
        await entry(thread)

    return run


def ms(p: Proc) -> tuple[int, int, int, int, int, int]:
    """``p``'s six times in ms: user, sys, real; its exited children's user, sys, real."""
    t = p.times
    real = time.monotonic() - p.start
    return (_ms(t.user), _ms(t.sys), _ms(real), _ms(t.cuser), _ms(t.csys), _ms(t.creal))


def exited(p: Proc, parent: Proc | None) -> tuple[int, int, int]:
    """``p`` exits: its wait record's (utime, stime, rtime) in ms, its own times and its
    children's; the same go to ``parent``'s children's times."""
    t = p.times
    user, sys, real = t.user + t.cuser, t.sys + t.csys, time.monotonic() - p.start + t.creal
    if parent is not None:
        parent.times.cuser += user
        parent.times.csys += sys
        parent.times.creal += real
    return _ms(user), _ms(sys), _ms(real)


def sysstat(intr: int, syscalls: int, pfaults: int, load: int) -> tuple[int, ...]:
    """The ten numbers of the one CPU's ``/dev/sysstat`` line (Plan 9 devcons): cpu, context
    switches, interrupts, system calls, page faults, tlb faults, tlb purges, load, idle %
    (over the meter's life), interrupt %."""
    m = meter()
    total = time.perf_counter() - m.since
    idle = int(100 * m.idle / total) if total > 0 else 100
    return (0, m.steps, intr, syscalls, pfaults, 0, 0, load, idle, 0)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
