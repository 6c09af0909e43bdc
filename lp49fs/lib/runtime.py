"""How a program becomes a running LP49 process: the entries the process manager starts.

A program is ``async def main(argv) -> None`` in ``lp49fs/cmd/<name>.py`` (or a server).  The
process manager (in the core) creates the process's space and starts two L4 threads in it
with the entries made here (the node's loader binds them to the program table):

* ``program_entry(main, argv, pid, mngr)``: the main thread.  It registers the process's
  library state, runs ``main(argv)`` and ends with ``exits``: "" on return, the error string
  of an ``Error``, ``sys: ...`` for any other exception.
* ``thread_entry(pid, mngr)``: every other thread (the ``sys`` thread, then workers made
  with NEWTHREAD); each becomes a worker that runs system calls borrowed by other tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kernel.thread import Thread
from kernel.types import ThreadId
from lp49fs.errors import Error
from lp49fs.lib.proc import exits
from lp49fs.lib.uctx import bind
from lp49fs.lib.workers import uproc_of, worker_loop

log = logging.getLogger(__name__)

Main = Callable[[list[str]], Awaitable[Any]]
Entry = Callable[[Thread], Awaitable[Any]]


def program_entry(main: Main, argv: list[str], pid: int, mngr: ThreadId) -> Entry:
    """The entry of a process's main thread running ``main(argv)``."""

    async def entry(thread: Thread) -> None:
        assert thread.space is not None
        up = uproc_of(thread.space, pid, mngr)
        bind(up.thread(thread))
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
        assert thread.space is not None
        up = uproc_of(thread.space, pid, mngr)
        ut = up.thread(thread)
        bind(ut)
        if up.sys is None:
            up.sys = ut
            up.sys_ready.set()
        else:
            up.idle.append(ut)
            up.changed.set()
        await worker_loop(ut)

    return entry
