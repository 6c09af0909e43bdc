"""Process calls of the user library: rfork, spawn, exits, wait, sleep, notes, getpid.

``spawn`` is LP49's fork+exec in one call: the process manager makes a new address space and
thread running program ``prog`` from the program table, with groups shared, copied or cleaned
by rfork ``flags`` and the child's fds 0, 1, 2 (or those ``fds`` names) taken from the
parent's.  ``exits`` never returns: the core deletes the calling process's threads and
space.  ``wait`` blocks until a child exits and returns its ``Waitmsg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import trio

from kernel.types import Msg, StringItem
from lp49fs.lib import bus
from lp49fs.lib.sys import settle
from lp49fs.lib.uctx import UThread, current
from lp49fs.lib.workers import run
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
from lp49fs.syscall import Sys


@dataclass(frozen=True, slots=True)
class Waitmsg:
    """What ``wait`` returns: the child's pid, its real time (ms), its exit string, and its
    user and sys CPU time (ms; all three count its own children too), as Plan 9's."""

    pid: int
    time: int
    msg: str
    utime: int = 0
    stime: int = 0


async def _words(label: Sys, words: tuple[int, ...] = (), *strings: str) -> tuple[int, ...]:
    msg = Msg(label, words, tuple(StringItem(s.encode()) for s in strings))

    async def op(ut: UThread) -> tuple[int, ...]:
        return (await ut.call(msg)).words

    return await run(op)


async def rfork(flags: int) -> int:
    """Without RFPROC: change the caller's own groups (returns 0).  With RFPROC: use spawn."""
    r = (await _words(Sys.RFORK, (flags,)))[0]
    if flags & RFCFDG:
        bus.table().clear()  # the fds are gone, and their channels with them
    return r


async def spawn(
    prog: str, argv: list[str], flags: int = RFFDG | RFPROC, fds: dict[int, int] | None = None
) -> int:
    """Start program ``prog`` with ``argv`` as a new process; returns its pid."""
    pairs: list[int] = []
    for child, parent in (fds or {}).items():
        pairs += (child, parent)
    for fd in (fds or {0: 0, 1: 1, 2: 2}).values():
        await settle(fd)  # the child shares the core's Chan, and its offset
    return (await _words(Sys.SPAWN, (flags, *pairs), prog, "\0".join(argv)))[0]


async def exits(msg: str = "") -> NoReturn:
    """End the calling process with exit string ``msg`` ("" = success)."""
    await _words(Sys.EXITS, (), msg)
    await trio.sleep_forever()  # the core deleted our thread: this is cancelled
    raise AssertionError("unreachable")


async def wait() -> Waitmsg:
    """Block until a child exits; ``no living children`` if there is none to wait for."""

    async def op(ut: UThread) -> Waitmsg:
        r = await ut.call(Msg(Sys.WAIT))
        item = r.items[0]
        assert isinstance(item, StringItem)
        pid, utime, stime, rtime = r.words
        return Waitmsg(pid, rtime, item.data.decode(), utime, stime)

    return await run(op)


async def sleep(ms: int) -> None:
    """Sleep ``ms`` milliseconds (in the core, so a note interrupts it)."""
    await _words(Sys.SLEEP, (max(0, ms),))


async def postnote(pid: int, note: str) -> None:
    """Post ``note`` to process ``pid`` (it ends the process unless it has ``notify`` on;
    "kill" always does)."""
    await _words(Sys.POSTNOTE, (pid,), note)


async def notify(on: bool = True) -> None:
    """notify(2): with ``on``, a note no longer ends this process; it interrupts the calls
    in progress (``interrupted``) and waits in ``/proc/N/note`` to be read."""
    await _words(Sys.NOTIFY, (int(on),))


async def getpid() -> int:
    return current().uproc.pid
