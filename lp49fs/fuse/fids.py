"""Walked fds for the FUSE view's inodes: one bounded table per LP49 process.

The kernel names a file by inode; every request on it used to walk the inode's path from
``/`` again.  The view keeps instead an fd on the file walked but not opened
(``lib.walk``, lp49fs.core.sysat) per inode, and makes the request's system call on it:
``fstat``, ``fwstat``, ``openat(fd, "")``, and lookups, creates and removes by name from the
parent's fd.

Rule 1. Per process.  An fd belongs to one process's fd table, and a request runs as the
        caller's own process (users.py), so each process has its own table (``Table``),
        found from the thread the request is bound to (``uctx.current()``).  A request
        never uses an fd of another process: the permission model stays that of the path.
Rule 2. Bounded.  A table holds at most ``CAP`` fds (core/proc.py's ``NFD`` leaves room for
        the open files beside them); past that the least recently used unpinned fd is
        closed.  A miss walks the inode's path again (``lib.walk(node.path)``).
Rule 3. Pinned while in use.  ``use`` pins an entry for the length of one system call, so an
        eviction, a forget or a flush never closes an fd a request is about to pass to the
        core (another walk could be given the same number).  A dropped pinned entry is
        closed when its last user lets go.
Rule 4. ``forget`` closes the inode's fd in every process, as that process.
Rule 5. An fd names the file it was walked to, whatever later happens to names (a rename or
        remove by another process, a bind): lookups always walk the name from the parent's
        fd, so a name that now means another file is that file's inode.  A bind or mount
        may make a kept fd the wrong file for its inode's name (a bind over a directory), so
        a table's fds are dropped when the name space they were walked in changes:
        a. ``walk``, ``openat`` and ``createat`` answer the process's name space version
           (``lib.nsvers``); a table remembers the one its fds were walked in, and a newer
           one flushes it.  A lookup or open that started from a kept fd is then made
           again, from the inode's path: a bind made in the shown name space shows at the
           next lookup or open, as when every request walked its path;
        b. ``fstat``/``fwstat`` answer no version, so every request also looks at the
           view's version (qid.vers of ``#p/N/ns``) at most every ``users.REFRESH``
           seconds, the check caller processes use (users.py Rule 3b), and a change
           flushes every table.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.fuse.inodes import Node
from lp49fs.fuse.users import REFRESH
from lp49fs.lib import uctx
from lp49fs.ninep import Dir

log = logging.getLogger(__name__)

CAP = 256  # Rule 2: walked fds per process


Fd = TypeVar("Fd", bound=tuple[int, Any])


@dataclass(slots=True)
class Entry:
    fd: int
    pins: int = 0  # Rule 3
    dropped: bool = False  # no longer in its table: close at the last unpin


class Table:
    """The walked fds of one process (Rule 1), least recently used first."""

    def __init__(self, ut: uctx.UThread) -> None:
        self.ut = ut  # a thread of the process whose fds these are
        self.fds: OrderedDict[int, Entry] = OrderedDict()  # inode -> Entry
        self.vers = -1  # Rule 5a: the name space version its fds were walked in


class Fids:
    """The view's walked fds (Rules 1-5)."""

    def __init__(self, cap: int = CAP) -> None:
        self.cap = cap
        self._tables: dict[int, Table] = {}  # id of the UProc -> its table
        self._vers: int | None = None  # Rule 5: the view's name space version seen
        self._looked = float("-inf")  # when it was looked at

    async def check(self, version: Callable[[], Coroutine[Any, Any, int]]) -> None:
        """Rule 5: flush every table if the view's name space ``version()`` moved (looked
        at at most every REFRESH seconds); run as the view's own process."""
        now = trio.current_time()
        if now - self._looked < REFRESH:
            return
        self._looked = now
        v = await version()
        if self._vers is not None and v != self._vers:
            await self.flush()
        self._vers = v

    def _table(self) -> Table:
        ut = uctx.current()
        t = self._tables.get(id(ut.uproc))
        if t is None:
            t = self._tables[id(ut.uproc)] = Table(ut)
        return t

    async def _seen(self, t: Table, v: int) -> bool:
        """Rule 5a: a reply said the name space is at version ``v``; if ``t``'s fds were
        walked in another, drop them and answer True (a call from one of them is stale)."""
        if v == t.vers:
            return False
        stale, t.vers = t.vers != -1, v
        await self._empty(t)
        return stale

    async def _empty(self, t: Table) -> None:
        """Every fd of ``t`` leaves it."""
        while t.fds:
            await self._drop(t.fds.popitem()[1])

    async def _drop(self, e: Entry) -> None:
        """``e`` left its table: close it now, or at its last unpin (Rule 3)."""
        e.dropped = True
        if not e.pins:
            await lib.close(e.fd)

    async def keep(self, node: Node, fd: int) -> None:
        """Keep walked ``fd`` (this process's) as ``node``'s, replacing an older one."""
        t = self._table()
        old = t.fds.pop(node.ino, None)
        t.fds[node.ino] = Entry(fd)
        if old is not None:
            await self._drop(old)
        if len(t.fds) > self.cap:  # Rule 2
            victims = [i for i, e in t.fds.items() if not e.pins][: len(t.fds) - self.cap]
            for ino in victims:
                await self._drop(t.fds.pop(ino))

    @asynccontextmanager
    async def use(self, node: Node) -> AsyncIterator[int]:
        """The walked fd of ``node`` in this process, walking it on a miss; pinned."""
        t = self._table()
        e = t.fds.get(node.ino)
        if e is None:
            fd = await lib.walk(node.path)
            await self._seen(t, lib.nsvers())
            await self.keep(node, fd)
            e = t.fds[node.ino]
        t.fds.move_to_end(node.ino)
        e.pins += 1
        try:
            yield e.fd
        finally:
            e.pins -= 1
            if e.dropped and not e.pins:
                await lib.close(e.fd)

    async def call(self, node: Node, f: Callable[..., Coroutine[Any, Any, Any]], *a: Any) -> Any:
        """``f(fd, *a)`` on ``node``'s walked fd."""
        async with self.use(node) as fd:
            return await f(fd, *a)

    async def _fresh(self, node: Node, op: Callable[[int], Coroutine[Any, Any, Fd]]) -> Fd:
        """``op(fd)``, whose result starts with a new fd of this process, on ``node``'s
        walked fd; made again from the path if that fd turns out stale (Rule 5a)."""
        t = self._table()
        async with self.use(node) as fd:
            r = await op(fd)
        if await self._seen(t, lib.nsvers()):
            await lib.close(r[0])
            async with self.use(node) as fd:  # a miss now: walked by path
                r = await op(fd)
            await self._seen(self._table(), lib.nsvers())
        return r

    async def walkstat(self, parent: Node, name: str) -> tuple[int, Dir]:
        """A new walked fd of ``name`` in ``parent``, and its stat entry (not yet kept)."""
        return await self._fresh(parent, lambda fd: lib.walkstat(name, fd))

    async def openat(self, node: Node, mode: int) -> int:
        """A new fd of ``node``'s file open for ``mode``."""
        return (await self._fresh(node, lambda fd: self._one(lib.openat(fd, "", mode))))[0]

    async def createat(self, parent: Node, name: str, mode: int, perm: int) -> int:
        """``createat`` from ``parent``'s fd (a create cannot be made again: no retry)."""
        t = self._table()
        async with self.use(parent) as pfd:
            fd = await lib.createat(pfd, name, mode, perm)
        await self._seen(t, lib.nsvers())
        return fd

    @staticmethod
    async def _one(c: Coroutine[Any, Any, int]) -> tuple[int, None]:
        return await c, None

    async def _each(self, act: Callable[[Table], Coroutine[Any, Any, None]]) -> None:
        """Run ``act`` on every table as its own process (fds are per process)."""
        me = uctx.current()
        try:
            for t in list(self._tables.values()):
                uctx.bind(t.ut)
                try:
                    await act(t)
                except Error as e:  # a caller process that ended: its fds went with it
                    log.debug("fuse: closing walked fds: %s", e.ename)
        finally:
            uctx.bind(me)

    async def forget(self, inos: list[int]) -> None:
        """Rule 4: the kernel forgot these inodes."""

        async def act(t: Table) -> None:
            for ino in inos:
                e = t.fds.pop(ino, None)
                if e is not None:
                    await self._drop(e)

        await self._each(act)

    async def flush(self) -> None:
        """Rule 5: the name space changed; every walked fd goes."""

        await self._each(self._empty)
        self._tables.clear()
