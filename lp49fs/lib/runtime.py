"""How a program becomes a running LP49 process: the entries the process manager starts.

A program is ``async def main(argv) -> None`` in ``lp49fs/cmd/<name>.py`` (or a server).  The
process manager (in the core) creates the process's space and starts two L4 threads in it
with the entries made here (the node's loader binds them to the program table):

* ``program_entry(main, argv, pid, mngr)``: the main thread.  It registers the process's
  library state, runs ``main(argv)`` and ends with ``exits``: "" on return, the error string
  of an ``Error``, ``sys: ...`` for any other exception.
* ``thread_entry(pid, mngr)``: every other thread (the ``sys`` thread, then workers made
  with NEWTHREAD); each becomes a worker that runs system calls borrowed by other tasks.

Rule: the library's process state (``UProc``) is found by the process's address space in
``_uprocs`` while any of its threads' entries runs; the last entry to end removes it.  (It
used to be a WeakKeyDictionary, but a ``UProc`` refers to its threads and they to the space,
so the key never died: every process left its UProc, UThreads, kernel Threads and their
tasks behind, about 11 KiB per exportfs connection.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kernel.space import Space
from kernel.thread import Thread
from kernel.types import ThreadId
from lp49fs.errors import Error
from lp49fs.lib.proc import exits
from lp49fs.lib.uctx import UThread, bind
from lp49fs.lib.workers import UProc, worker_loop

log = logging.getLogger(__name__)

Main = Callable[[list[str]], Awaitable[Any]]
Entry = Callable[[Thread], Awaitable[Any]]
_uprocs: dict[Space, UProc] = {}  # the running processes' library state (Rule)


@contextmanager
def joined(thread: Thread, pid: int, mngr: ThreadId) -> Iterator[UThread]:
    """``thread`` as a UThread of its process (whose state the first thread makes), for the
    life of the thread's entry; the last one to leave drops the process state (Rule)."""
    space = thread.space
    assert space is not None
    up = _uprocs.get(space)
    if up is None:
        up = _uprocs[space] = UProc(pid, mngr)
    up.running += 1
    try:
        yield up.thread(thread)
    finally:
        up.running -= 1
        if up.running == 0 and _uprocs.get(space) is up:
            del _uprocs[space]


def program_entry(main: Main, argv: list[str], pid: int, mngr: ThreadId) -> Entry:
    """The entry of a process's main thread running ``main(argv)``."""

    async def entry(thread: Thread) -> None:
        with joined(thread, pid, mngr) as ut:
            bind(ut)
            msg = ""
            try:
                await main(argv)
            except Error as e:
                msg = e.ename
            except Exception as e:
                log.exception("pid %d died", pid)
                msg = f"sys: {type(e).__name__}: {e}"
            await exits(msg)

    return entry


def thread_entry(pid: int, mngr: ThreadId) -> Entry:
    """The entry of a process's extra threads: the first is ``sys``, the others workers."""

    async def entry(thread: Thread) -> None:
        with joined(thread, pid, mngr) as ut:
            bind(ut)
            up = ut.uproc
            if up.sys is None:
                up.sys = ut
                up.sys_ready.set()
            else:
                up.idle.append(ut)
                up.changed.set()
            await worker_loop(ut)

    return entry
