"""The service bus, caller side: a granted fd reads and writes by IPC to its server.

Theory of operation (docs/servicebus.md, ``lp49fs.core.bus``): an ``open`` or ``create`` reply
that carries ``(fd, endpoint, fid, badge)`` gives this process a direct channel to the
server of that one open file.  ``lp49fs.lib.sys`` asks ``read``/``write`` here first:

1. A request is one L4 ``call`` from the calling thread to the server's endpoint thread,
   shaped like the read and write system calls: ``Bus.READ``/``Bus.WRITE`` with words
   ``(seq, fid, badge, offset, addr, n)`` and the thread's buffer pages as one MapItem.  The
   server stores or loads the bytes there and answers ``OK (seq, n)``.  The core is not on
   the way.
2. The fd's offset lives here while the channel lives (``BusChan.offset``); ``seek`` on the
   fd is answered here (from the end: ``fstat``), and whenever the fd leaves the bus --
   revoked, ``dup``, ``spawn``, the server gone -- the offset is written back to the core's
   Chan with one ``seek`` system call (``lp49fs.lib.sys.settle``), so the classic path goes
   on where the channel stopped.
3. A refused request (``no such bus channel``: the grant was revoked, the file was never
   grantable) or an endpoint that is gone returns None: the caller settles the fd and uses
   the classic path, which gives the real answer (data, or ``i/o on hungup channel``).
4. ``seq`` numbers a thread's requests; a reply whose ``seq`` is not the request's (the late
   answer to a cancelled request) is dropped, and the thread waits on.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass

from kernel.types import IpcError, MapItem, Msg, R, StringItem, ThreadId, W
from lp49fs import trace as _t
from lp49fs.errors import Eio, Enobus, Error
from lp49fs.lib.items import mapitem
from lp49fs.lib.uctx import UThread, current
from lp49fs.lib.workers import UProc, run
from lp49fs.syscall import ERR
from lp49fs.syscall import Bus as B


@dataclass(slots=True)
class BusChan:
    """A granted fd: where its server's endpoint is, the capability, and the offset."""

    tid: ThreadId  # the server's endpoint thread
    fid: int  # the 9P fid of the open file on that connection
    badge: int  # the capability the core made for it
    offset: int = 0  # the fd's offset while the channel lives (Rule 2)


_tables: weakref.WeakKeyDictionary[UProc, dict[int, BusChan]] = weakref.WeakKeyDictionary()
_seq = itertools.count(1)


def table() -> dict[int, BusChan]:
    """fd -> channel, for the calling process."""
    up = current().uproc
    t = _tables.get(up)
    if t is None:
        t = _tables[up] = {}
    return t


def record(words: tuple[int, ...]) -> int:
    """Keep the channel an open/create reply grants (or forget a stale one); returns the fd."""
    fd = words[0]
    t = table()
    if len(words) >= 4:
        t[fd] = BusChan(ThreadId(words[1]), words[2], words[3])
    else:
        t.pop(fd, None)
    return fd


def chan(fd: int) -> BusChan | None:
    t = _tables.get(current().uproc)
    return None if t is None else t.get(fd)


def drop(fd: int) -> BusChan | None:
    """Forget fd's channel; returns it (the caller writes the offset back if it matters)."""
    t = _tables.get(current().uproc)
    return None if t is None else t.pop(fd, None)


async def _call(
    ut: UThread, ch: BusChan, label: int, words: tuple[int, ...], item: MapItem
) -> Msg | None:
    """Rules 1, 3 and 4: the request, its reply, or None to fall back."""
    th = ut.thread
    seq = next(_seq)
    msg = Msg(label, (seq, ch.fid, ch.badge, *words), (item,))
    back = _t.buscall(msg) if _t.on else ""
    try:
        r = await th.call(ch.tid, msg)
        while not r.words or r.words[0] != seq:  # Rule 4
            r = (await th.receive(ch.tid))[1]
    except IpcError:
        return None  # the endpoint is gone (the server ended or restarted)
    if r.label == ERR:
        it = r.items[0] if r.items else None
        ename = it.data.decode() if isinstance(it, StringItem) else "?"
        if ename == Enobus:
            return None
        raise Error(ename)
    if len(r.words) != 2 or not 0 <= r.words[1] <= words[-1]:
        raise Error(Eio)  # a server's reply that no request could get
    if back:
        _t.busret(back, r)
    return r


async def read(ch: BusChan, n: int, offset: int) -> bytes | None:
    """At most ``n`` bytes at ``offset`` from the server, or None (Rule 3)."""

    async def op(ut: UThread) -> bytes | None:
        addr = ut.buf + ut.iooff
        await ut.prefault(addr, n)
        r = await _call(ut, ch, B.READ, (offset, addr, n), mapitem(addr, n, R | W))
        if r is None:
            return None
        got = r.words[1]
        return await ut.thread.load(addr, got) if got else b""

    return await run(op)


async def write(ch: BusChan, data: bytes | memoryview, offset: int) -> int | None:
    """Write ``data`` (at most MAXIO bytes) at ``offset``; the count, or None (Rule 3)."""

    async def op(ut: UThread) -> int | None:
        addr = ut.buf + ut.iooff
        await ut.thread.store(addr, data)
        r = await _call(ut, ch, B.WRITE, (offset, addr, len(data)), mapitem(addr, len(data), R))
        return None if r is None else r.words[1]

    return await run(op)
