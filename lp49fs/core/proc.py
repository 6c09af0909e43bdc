"""Processes and their groups: Proc, Fgrp (fds), Egrp (environment), rfork, ``up``.

A ``Proc`` is an LP49 process as the core sees it: identity (pid, user, name, parent), its
name space (``pgrp``, a ``lp49fs.core.mount.Pgrp``), fd table (``fgrp``), environment
(``egrp``), root and current directory Chans (``slash``, ``dot``), pending notes and the text
``/proc/N/status`` shows.  The process table lives on the node's ``Core`` (``core.procs``).

Rules:

1. Groups are shared objects with a ``ref`` count of the processes using them.  ``rfork``
   (Plan 9 sysrfork) gives a child, or the caller itself without RFPROC, for each group:
   the same object (share), a copy (RFNAMEG, RFFDG, RFENVG) or a fresh empty one (RFCNAMEG,
   RFCFDG, RFCENVG).  A copied fd table or name space takes new Chan references.
2. A Proc holds one reference on ``slash`` and ``dot``; an Fgrp holds one per fd slot.
   ``pexit`` releases all of them (the last sharer of a group closes its Chans).
3. ``up`` is a ``contextvars.ContextVar``: the sysfile entry points set it to the calling
   Proc for the duration of a call, so a servant can ask who calls (Plan 9's ``up``) without
   a global.  Core functions never read it: they take ``proc`` explicitly.  Because trio
   copies the context into each task, concurrent calls of different processes do not see
   each other's ``up``.
4. ``postnote`` queues a note (at most NNOTE, the oldest kept, as Plan 9) and calls the core's
   ``notify`` hook if one is installed; delivery to a running program is wired by the
   process manager.
5. ``/proc/N/ctl stop`` hangs a ``ProcStop`` on the Proc: each system call starts with
   ``stopgate``, which halts there (state ``Stopped``) until ``start``.  A process stops at
   its next system call, as a Plan 9 process stops on its next way through the kernel; a
   note or kill still interrupts the halted call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import trio

from lp49fs.core.chan import Chan, Path, cclose, incref
from lp49fs.core.mount import Pgrp
from lp49fs.errors import Ebadarg, Ebadfd, Error
from lp49fs.syscall import RFCENVG as RFCENVG
from lp49fs.syscall import RFCFDG as RFCFDG
from lp49fs.syscall import RFCNAMEG as RFCNAMEG
from lp49fs.syscall import RFENVG as RFENVG
from lp49fs.syscall import RFFDG as RFFDG
from lp49fs.syscall import RFMEM as RFMEM
from lp49fs.syscall import RFNAMEG as RFNAMEG
from lp49fs.syscall import RFNOMNT as RFNOMNT
from lp49fs.syscall import RFNOTEG as RFNOTEG
from lp49fs.syscall import RFNOWAIT as RFNOWAIT
from lp49fs.syscall import RFPROC as RFPROC
from lp49fs.syscall import RFREND as RFREND

if TYPE_CHECKING:
    from lp49fs.core.core import Core
    from lp49fs.trace import TraceLog

NNOTE = 5  # notes kept per process
NFD = 1000  # slots an fd table may grow to (Plan 9 DELTAFD grows; we cap): room for
# a FUSE view's walked fds (lp49fs.fuse.fids CAP) beside its open files

up: ContextVar[Proc | None] = ContextVar("up", default=None)
# whose CPU times the running task's steps are charged to as sys time: set with ``up`` and,
# unlike it, left set after the call, so a clerk's step that ended a call still counts for
# that call's process (lp49fs.core.cputime Rule 1)
charged: ContextVar[Times | None] = ContextVar("lp49_charged", default=None)


class Fgrp:
    """A file descriptor table: ``fd[i]`` is an open Chan or None."""

    def __init__(self) -> None:
        self.fd: list[Chan | None] = []  # index = fd number
        self.ref = 1  # processes sharing it

    def copy(self) -> Fgrp:
        n = Fgrp()
        n.fd = [incref(c) if c is not None else None for c in self.fd]
        return n

    def newfd(self, c: Chan, start: int = 0) -> int:
        """Put ``c`` (the caller's reference) in the lowest free slot >= start."""
        for i in range(start, len(self.fd)):
            if self.fd[i] is None:
                self.fd[i] = c
                return i
        if len(self.fd) >= NFD or start >= NFD:
            raise Error("no free file descriptors")
        self.fd.extend([None] * (max(start, len(self.fd)) - len(self.fd)))
        self.fd.append(c)
        return len(self.fd) - 1

    def get(self, fd: int) -> Chan:
        """The Chan at ``fd`` (no new reference); bad fd -> ``Error(Ebadfd)``."""
        if fd < 0 or fd >= len(self.fd) or (c := self.fd[fd]) is None:
            raise Error(Ebadfd)
        return c

    def take(self, fd: int) -> Chan:
        """Remove and return the Chan at ``fd`` (its reference passes to the caller)."""
        c = self.get(fd)
        self.fd[fd] = None
        return c

    async def close(self) -> None:
        self.ref -= 1
        if self.ref > 0:
            return
        chans, self.fd = self.fd, []
        for c in chans:
            await cclose(c)


class Egrp:
    """An environment: variable name -> value bytes (``#e``)."""

    def __init__(self, env: dict[str, bytes] | None = None) -> None:
        self.env: dict[str, bytes] = dict(env or {})
        self.ref = 1
        self.vers = 0  # bumped on every change, for #e's qid.vers

    def copy(self) -> Egrp:
        n = Egrp(self.env)
        n.vers = self.vers
        return n

    def close(self) -> None:
        self.ref -= 1


@dataclass(slots=True)
class Times:
    """CPU seconds of a process and of its exited children (``lp49fs.core.cputime``)."""

    user: float = 0.0
    sys: float = 0.0
    cuser: float = 0.0
    csys: float = 0.0
    creal: float = 0.0


# Priorities (Plan 9 port/portdat.h names; kernel.sched runs the higher L4 priority first)
NPRIORITY = 20  # process priorities are 0..19
PRINORMAL = 10  # processes, the core's Mngr and clerks, servers
PRIFUSE = 15  # the FUSE bridge: Linux waits on it
PRIDRIVER = 20  # driver threads (interrupt handlers): above every process
PRISCALE = 10  # L4 priority = Plan 9 priority * PRISCALE (PRINORMAL: the L4 default, 100)


@dataclass(slots=True, eq=False)
class Proc:
    """One LP49 process, as the core sees it."""

    core: Core = field(repr=False)  # the node this process runs on
    pid: int  # process id, unique on the node
    user: str  # owner
    name: str  # program name, for ps and /proc/N/status
    pgrp: Pgrp  # name space
    fgrp: Fgrp  # fd table
    egrp: Egrp  # environment
    slash: Chan  # root directory "/"
    dot: Chan  # current directory
    ppid: int = 0  # parent's pid (0 for the first process)
    noteid: int = 0  # note group
    args: list[str] = field(default_factory=list)  # argv
    notes: list[str] = field(default_factory=list)  # posted, not yet taken
    notify: bool = False  # handles notes (notify(2)): a note does not end it
    stop: ProcStop | None = None  # /proc/N/ctl stop asked, until start (Rule 5)
    state: str = "Ready"  # status text: Running, or the system call it is in (Pread ...)
    start: float = field(default_factory=time.monotonic)  # for real time in status
    times: Times = field(default_factory=Times)  # CPU time used (lp49fs.core.cputime)
    exited: bool = False
    tracelog: TraceLog | None = None  # set by ctl "trace": this process's calls are traced
    pri: int = PRINORMAL  # Plan 9 priority 0..NPRIORITY-1; its threads run at pri * PRISCALE

    @contextmanager
    def running(self) -> Iterator[Proc]:
        """Make this process ``up`` for the duration of a system call (Rule 3)."""
        token = up.set(self)
        charged.set(self.times)
        try:
            yield self
        finally:
            up.reset(token)


def newproc(
    core: Core,
    slash: Chan,
    *,
    user: str | None = None,
    name: str = "boot",
    ppid: int = 0,
    args: list[str] | None = None,
) -> Proc:
    """A first process with fresh groups, its root and dot both ``slash`` (two new refs).

    ``slash`` is renamed "/" (Plan 9 does the same to the ``#/`` it boots with).
    """
    slash.path = Path("/")
    p = Proc(
        core=core,
        pid=core.newpid(),
        user=user or core.eve,
        name=name,
        pgrp=Pgrp(),
        fgrp=Fgrp(),
        egrp=Egrp(),
        slash=incref(slash),
        dot=incref(slash),
        ppid=ppid,
        args=list(args or []),
    )
    p.noteid = p.pid
    core.procs[p.pid] = p
    return p


async def rfork(p: Proc, flags: int, name: str | None = None) -> Proc:
    """Apply rfork ``flags`` (Rule 1): with RFPROC to a new child (returned), else to ``p``.

    Conflicting flags (RFNAMEG|RFCNAMEG, RFENVG|RFCENVG, RFFDG|RFCFDG) -> ``bad arg``.
    """
    for a, b in ((RFNAMEG, RFCNAMEG), (RFENVG, RFCENVG), (RFFDG, RFCFDG)):
        if flags & a and flags & b:
            raise Error(Ebadarg)
    pgrp = _group(p.pgrp, flags, RFNAMEG, RFCNAMEG, Pgrp)
    if flags & RFNOMNT:
        pgrp.noattach = True  # as Plan 9: a shared name space becomes noattach for all
    fgrp = _group(p.fgrp, flags, RFFDG, RFCFDG, Fgrp)
    egrp = _group(p.egrp, flags, RFENVG, RFCENVG, Egrp)
    if not flags & RFPROC:
        oldp, oldf, olde = p.pgrp, p.fgrp, p.egrp
        p.pgrp, p.fgrp, p.egrp = pgrp, fgrp, egrp
        for g, n in ((oldp, pgrp), (oldf, fgrp), (olde, egrp)):
            if g is n:
                g.ref -= 1  # _group counted p as a new sharer: it already was one
        if oldp is not pgrp:
            await oldp.close()
        if oldf is not fgrp:
            await oldf.close()
        if olde is not egrp:
            olde.close()
        if flags & RFNOTEG:
            p.noteid = p.pid
        return p
    c = Proc(
        core=p.core,
        pid=p.core.newpid(),
        user=p.user,
        name=name or p.name,
        pgrp=pgrp,
        fgrp=fgrp,
        egrp=egrp,
        slash=incref(p.slash),
        dot=incref(p.dot),
        ppid=p.pid,
        noteid=p.noteid,
        args=list(p.args),
    )
    if flags & RFNOTEG:
        c.noteid = c.pid
    p.core.procs[c.pid] = c
    return c


G = TypeVar("G", Pgrp, Fgrp, Egrp)


def _group(g: G, flags: int, copy: int, clean: int, new: type[G]) -> G:
    if flags & clean:
        return new()
    if flags & copy:
        return g.copy()
    g.ref += 1
    return g


async def pexit(p: Proc, status: str = "") -> None:
    """Release the process's groups and directories and drop it from the table (Rule 2)."""
    if p.exited:
        return
    p.exited = True
    p.state = "Moribund"
    if p.tracelog is not None:  # the last process of a trace ends its /proc/N/trace
        log, p.tracelog = p.tracelog, None
        log.release()
    p.core.procs.pop(p.pid, None)
    await p.fgrp.close()
    await p.pgrp.close()
    p.egrp.close()
    await cclose(p.slash)
    await cclose(p.dot)


def postnote(p: Proc, note: str) -> None:
    """Queue ``note`` for ``p`` and tell the core's notify hook (Rule 4)."""
    if len(p.notes) < NNOTE:
        p.notes.append(note)
    hook = p.core.notify
    if hook is not None:
        hook(p, note)


@dataclass(eq=False)
class ProcStop:
    """A stop of ``/proc/N/ctl``: the process halts at its next system call until ``start``."""

    stopped: trio.Event = field(default_factory=trio.Event)  # it reached the stop
    started: trio.Event = field(default_factory=trio.Event)  # ctl start: go on


async def stopgate(p: Proc) -> None:
    """Called as each system call of ``p`` begins: wait there while ``p`` is stopped."""
    st = p.stop
    if st is None:
        return
    p.state = "Stopped"
    st.stopped.set()
    await st.started.wait()


PSSTATE = {"READ": "Pread", "WRITE": "Pwrite", "WAIT": "Await"}  # Plan 9 sysctab names


def psstate(call: str) -> str:
    """The state ps shows for a process in system call ``call`` (a ``Sys`` name), as Plan 9
    sets ``up->psstate`` to the call's name: ``Pread``, ``Await``, ``Sleep``, ``Open`` ..."""
    return PSSTATE.get(call, call.capitalize())


def pgrpnote(core: Core, noteid: int, note: str) -> int:
    """Post ``note`` to every process of note group ``noteid``; how many got it.

    Plan 9: port/devproc.c:/^pgrpnote (a write of ``/proc/N/notepg``; the console's DEL).
    """
    group = [p for p in list(core.procs.values()) if p.noteid == noteid and not p.exited]
    for p in group:
        postnote(p, note)
    return len(group)


def procfdprint(c: Chan, fd: int, w: int = 0) -> str:
    """One ``#d/Nctl`` / ``/proc/N/fd`` line for ``c`` at ``fd`` (Plan 9 devproc procfdprint).

    ``fd mode type dev (qid.path qid.vers qid.type) iounit offset name``; ``w`` pads the fd
    and version fields (0 = no padding, /proc/N/fd uses 3).
    """
    mode = "r w rw"[(c.mode & 3) << 1 :][:2]
    return (
        f"{fd:{w}d} {mode:2s} {c.type} {c.dev:4d} "
        f"({c.qid.path:016x} {c.qid.vers:{w}d} {c.qid.type:02x}) "
        f"{c.iounit:5d} {c.offset:8d} {c.path.s}\n"
    )
