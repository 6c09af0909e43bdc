"""The process manager: spawn, exits, wait and notes of LP49 processes on one node.

Theory of operation: a process is a ``Proc`` (groups, fds, name space: ``core.proc``) plus
an address space with L4 threads running its program.  The manager keeps one ``PInfo`` per
live process: the Proc, its L4 thread ids (so the Mngr can map a caller's ThreadId to its
process), the system calls it has in progress (cancel scopes), its children and the wait
records they left.  It uses two services it is given, so the core imports neither HVM nor
the program table:

* ``Hvm`` (the root task, ``lp49fs.hvm.Hvm`` in a booted node; the core may not import it,
  so it is passed in and typed by the ``Hvm`` protocol below): creates a space with a first
  thread, adds threads to a space, deletes threads (the last one deletes the space, every
  mapping in it, and HVM takes its frames back);
* ``Loader``: turns a program name, argv and pid into the entry coroutine of the main thread
  (``Error(Enonexist)`` for an unknown program), and a pid into the entry of extra threads.

Rules:
1. ``spawn`` = rfork(flags | RFPROC) of the parent's Proc, then fd redirection (a shared fd
   table is copied first, so redirecting never changes the parent's), then a new space with
   the main thread and the ``sys`` thread (see ``lp49fs.lib.uctx``).  With RFCFDG and no
   ``fds``, the child still gets the parent's 0, 1 and 2.
2. ``exits`` runs once per process: it interrupts the process's other system calls, closes
   its fds and groups (``pexit``), leaves a ``Waitmsg`` (pid, user, sys and real ms, msg;
   ``lp49fs.core.cputime``) for the parent (unless RFNOWAIT), deletes every thread (so the
   caller of exits never sees a reply) and marks the PInfo ``done``.
4. Wait records: each exited child leaves one ``Waitmsg`` in its parent's ``waitq``; the
   system call ``wait`` and a read of ``/proc/N/wait`` (through ``Core.waitfor``) both take
   the oldest one, blocking while a child lives; with no child and no record they fail with
   ``no living children``.  A child spawned RFNOWAIT is no child for wait at all (Plan 9's
   sysrfork does not count it in nchild): it leaves no record and is not waited for.
   Every waiter is woken when a child leaves (an event that is
   replaced, not reused), so any number may wait at once.
5. Shutdown (``shutdown``) is orderly: no new processes or exit bookkeeping tasks are
   started (``closing``), every live process is ended newest first (clients before the
   servers they talk to) with exit string ``killed``, then the processes without threads
   (the boot process) release their groups, so mounts and server links close.  After it
   no L4 thread of a process is left and every system call gets ``permission denied``.
3. A note interrupts every system call the process has in progress (they fail with
   ``interrupted``).  As in Plan 9, a process that has no note handler (``notify``) is
   ended by any note, with the note as its exit string (``interrupt``); the note ``kill``
   ends every process, with exit string ``killed``.  A process with a handler keeps
   running and takes its notes from ``/proc/N/note``.
   ``Core.notify`` is wired to ``note`` so ``/proc/N/ctl kill`` and ``postnote`` both work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import trio

from kernel.thread import Thread
from kernel.types import ThreadId
from lp49fs.core import cputime
from lp49fs.core.chan import cclose, incref
from lp49fs.core.core import Core
from lp49fs.core.proc import PRISCALE, RFCFDG, RFFDG, RFNOWAIT, RFPROC, Proc, pexit, rfork
from lp49fs.errors import Ebadarg, Ebadfd, Enochild, Eperm, Error, Eshutdown
from lp49fs.syscall import Sys

log = logging.getLogger(__name__)

Entry = Callable[[Thread], Awaitable[Any]]


class Hvm(Protocol):
    """What the core needs from the root task (``lp49fs.hvm.Hvm`` has these methods)."""

    def create_space(
        self, entry: Entry | None, pager: ThreadId | None = None, name: str = ""
    ) -> ThreadId: ...
    def create_thread(
        self, space: ThreadId, entry: Entry | None, pager: ThreadId | None = None
    ) -> ThreadId: ...
    def delete_thread(self, tid: ThreadId) -> None: ...
    def set_priority(self, tid: ThreadId, priority: int) -> None: ...
    def delete_space(self, tid: ThreadId) -> None: ...
    def segattach(self, tid: ThreadId, name: str, npages: int, pct: int) -> tuple[int, int]: ...
    def segments(self, tid: ThreadId) -> list[tuple[str, int, int, int]]: ...


class Waitmsg(NamedTuple):
    """Plan 9's Waitmsg: an exited child's pid, its user, sys and real time in ms (with its
    own children's), and its exit string."""

    pid: int
    utime: int
    stime: int
    rtime: int
    msg: str


class Loader(Protocol):
    """The program table, as the process manager sees it."""

    def image(self, prog: str, argv: list[str], pid: int) -> Entry: ...
    def thread_image(self, pid: int) -> Entry: ...


@dataclass(eq=False)
class PInfo:
    """The process manager's record of one live process."""

    proc: Proc  # the core's process
    flags: int = 0  # rfork flags it was spawned with (RFNOWAIT matters at exit)
    threads: list[ThreadId] = field(default_factory=list)  # its L4 threads, main first
    calls: set[trio.CancelScope] = field(default_factory=set)  # system calls in progress
    children: set[int] = field(default_factory=set)  # living children's pids
    waitq: list[Waitmsg] = field(default_factory=list)  # exited children's records
    waited: trio.Event = field(default_factory=trio.Event)  # set (and replaced) when a child leaves
    done: trio.Event = field(default_factory=trio.Event)  # set when the process is gone
    exitmsg: str = ""  # its exit string, once done
    exiting: bool = False


class ProcMgr:
    """One node's process manager."""

    def __init__(self, core: Core, hvm: Hvm, loader: Loader, nursery: trio.Nursery) -> None:
        self.core = core
        self.hvm = hvm
        self.loader = loader
        self.nursery = nursery  # where kills run (a note arrives in synchronous code)
        self.bytid: dict[ThreadId, PInfo] = {}  # L4 thread -> process (the Mngr's lookup)
        self.bypid: dict[int, PInfo] = {}  # pid -> process, live or kernel-side
        self.closing = False  # Rule 5: the node is going down
        core.notify = self.note
        core.setpri = self.setpri
        core.waitfor = self.waitfor
        cputime.meter()  # the node's processes are charged for the CPU they use
        core.segments = self.segments

    def adopt(self, p: Proc) -> PInfo:
        """Record a Proc with no L4 threads of its own (the boot process, a test's parent)."""
        pi = self.bypid.get(p.pid)
        if pi is None:
            pi = self.bypid[p.pid] = PInfo(p)
        return pi

    async def spawn(
        self, parent: Proc, prog: str, argv: list[str], flags: int, fds: dict[int, int] | None
    ) -> int:
        """Start ``prog`` as a child of ``parent`` (Rule 1); returns the child's pid."""
        if self.closing:
            raise Error(Eshutdown)
        ppi = self.adopt(parent)
        child = await rfork(parent, flags | RFPROC, name=prog)
        child.pri = parent.pri  # Plan 9: a child inherits its parent's priority
        if parent.tracelog is not None:  # a traced process's children are traced with it
            child.tracelog = parent.tracelog.hold()
        try:
            if fds or flags & RFCFDG:
                if child.fgrp is parent.fgrp:
                    parent.fgrp.ref -= 1
                    child.fgrp = parent.fgrp.copy()
                want = fds if fds is not None else {i: i for i in range(3)}
                for cfd, pfd in want.items():
                    await _dupin(child, cfd, parent, pfd, strict=fds is not None)
            child.args = [prog, *argv[1:]] if argv else [prog]
            entry = cputime.owned(child.times, self.loader.image(prog, argv, child.pid))
        except BaseException:
            await pexit(child)
            raise
        pi = PInfo(child, flags)
        self.bypid[child.pid] = pi
        main = self.hvm.create_space(entry, name=f"{prog}.{child.pid}")
        self.hvm.set_priority(main, child.pri * PRISCALE)
        pi.threads.append(main)
        self.bytid[main] = pi
        self.add_thread(pi)
        if not flags & RFNOWAIT:  # Plan 9 sysrfork: an RFNOWAIT child is no child for wait
            ppi.children.add(child.pid)
        child.state = "Running"
        return child.pid

    async def segment(self, pi: PInfo, op: Sys, names: list[str], words: tuple[int, ...]
                      ) -> tuple[int, ...]:  # fmt: skip
        """``Sys.SEGATTACH``: retained region ``names[0]`` of ``words[0]`` pages placed in the
        caller's space (HVM, ``lp49fs.hvm.retain``), or ``words[1]`` percent of the free
        memory; only the host owner may."""
        if op != Sys.SEGATTACH or len(names) != 1 or len(words) != 2:
            raise Error(Ebadarg)
        if pi.proc.user != self.core.eve:
            raise Error(Eperm)
        return self.hvm.segattach(pi.threads[0], names[0], words[0], words[1])

    def segments(self, pid: int) -> list[tuple[str, int, int, int]]:
        """The retained segments of process ``pid`` (/proc/N/segment)."""
        pi = self.bypid.get(pid)
        return self.hvm.segments(pi.threads[0]) if pi is not None and pi.threads else []

    def add_thread(self, pi: PInfo) -> ThreadId:
        """A new L4 thread in ``pi``'s space running the library's thread entry."""
        entry = cputime.owned(pi.proc.times, self.loader.thread_image(pi.proc.pid))
        tid = self.hvm.create_thread(pi.threads[0], entry)
        self.hvm.set_priority(tid, pi.proc.pri * PRISCALE)
        pi.threads.append(tid)
        self.bytid[tid] = pi
        return tid

    def setpri(self, p: Proc, pri: int) -> None:
        """Process ``p`` and each of its L4 threads run at Plan 9 priority ``pri``."""
        p.pri = pri
        pi = self.bypid.get(p.pid)
        for tid in pi.threads if pi is not None else ():
            if tid in self.bytid:
                self.hvm.set_priority(tid, pri * PRISCALE)

    async def exits(self, pi: PInfo, msg: str, current: trio.CancelScope | None = None) -> None:
        """End process ``pi`` with exit string ``msg`` (Rule 2)."""
        if pi.exiting:
            return
        pi.exiting = True
        for cs in list(pi.calls):
            if cs is not current:
                cs.cancel()
        p = pi.proc
        with trio.CancelScope(shield=True):
            await pexit(p, msg)
        ppi = self.bypid.get(p.ppid)
        waited = ppi is not None and not pi.flags & RFNOWAIT  # an RFNOWAIT child has no parent
        times = cputime.exited(p, ppi.proc if waited and ppi is not None else None)
        if ppi is not None:
            ppi.children.discard(p.pid)
            if not pi.flags & RFNOWAIT:
                ppi.waitq.append(Waitmsg(p.pid, *times, msg))
            woken, ppi.waited = ppi.waited, trio.Event()
            woken.set()
        for tid in pi.threads:
            self.bytid.pop(tid, None)
        self.bypid.pop(p.pid, None)
        pi.exitmsg = msg
        pi.done.set()
        for tid in pi.threads:  # the main thread may be gone already: end each one
            self.hvm.delete_thread(tid)

    async def wait(self, pi: PInfo) -> Waitmsg:
        """The next exited child's record (Rule 4); ``no living children`` if none can come."""
        while not pi.waitq:
            if not pi.children:
                raise Error(Enochild)
            await pi.waited.wait()
        return pi.waitq.pop(0)

    async def waitfor(self, p: Proc) -> Waitmsg:
        """``Core.waitfor``: ``wait`` for the process ``p`` (``/proc/N/wait``)."""
        pi = self.bypid.get(p.pid)
        if pi is None:
            raise Error(Enochild)
        return await self.wait(pi)

    async def shutdown(self) -> None:
        """End every process (Rule 5); the caller bounds the time it may take."""
        self.closing = True
        for pid in sorted(self.bypid, reverse=True):
            pi = self.bypid.get(pid)
            if pi is not None and pi.threads:
                await self.exits(pi, "killed")
        for pi in list(self.bypid.values()):
            with trio.CancelScope(shield=True):
                await pexit(pi.proc, "killed")
            pi.exitmsg = pi.exitmsg or "killed"
            pi.done.set()
        self.bypid.clear()

    def note(self, p: Proc, note: str) -> None:
        """The core's notify hook (Rule 3): interrupt calls; end a process without a handler."""
        pi = self.bypid.get(p.pid)
        if pi is None or pi.exiting:
            return
        for cs in list(pi.calls):
            cs.cancel()
        if (note == "kill" or not p.notify) and pi.threads and not self.closing:
            self.nursery.start_soon(self.exits, pi, "killed" if note == "kill" else note)

    def thread_died(self, tid: ThreadId) -> None:
        """Kernel exit hook: a process whose main thread ended without exits is ended."""
        pi = self.bytid.get(tid)
        if self.closing or pi is None or pi.exiting:
            return  # Rule 5: shutdown ends every process itself
        if pi.threads and pi.threads[0] == tid:
            self.nursery.start_soon(self.exits, pi, "sys: main thread died")


async def _dupin(child: Proc, cfd: int, parent: Proc, pfd: int, strict: bool) -> None:
    """Make child fd ``cfd`` the parent's ``pfd`` (a new reference); lenient for defaults."""
    try:
        c = incref(parent.fgrp.get(pfd))
    except Error:
        if strict:
            raise
        return
    if not 0 <= cfd < 100:
        await cclose(c)
        raise Error(Ebadfd)
    fds = child.fgrp.fd
    fds.extend([None] * (cfd + 1 - len(fds)))
    old, fds[cfd] = fds[cfd], c
    await cclose(old)


__all__ = ["RFFDG", "Hvm", "Loader", "PInfo", "ProcMgr", "Waitmsg"]
