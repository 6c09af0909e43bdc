"""#| pipe: two-way message pipes (Plan 9 devpipe.c).

Theory of operation
-------------------
Every attach makes a new pipe: a directory holding ``data`` and ``data1``.  Two queues join
them crosswise: what is written on ``data`` is read on ``data1`` (queue 1) and what is
written on ``data1`` is read on ``data`` (queue 0).  ``pipe(2)`` is an attach and two ORDWR
opens.

Rules
  1. Message boundaries are kept: each write is one message and a read never spans two
     messages.  A read shorter than the message leaves the rest for the next read.
  2. A write of at most ``PIPEQSIZE`` bytes is atomic: it waits until the whole message fits.
     A longer write goes in ``PIPEQSIZE`` pieces, each one message, and the pieces are
     contiguous and in order: no other write enters the queue until the last piece is in
     (``_writing``), so a 9P message larger than the queue (msize 128 KiB on a server link)
     reaches the reader as consecutive pieces that its Framer joins again.  A long write
     cancelled half way leaves the pieces already queued.
  3. When the last open Chan of one end closes, the queue it wrote is hung up (its reader
     drains what is left, then reads 0 bytes: end of file) and the queue it read is closed
     (its writers fail with ``i/o on hungup channel`` and unread data is dropped).
     Plan 9 also posts the note ``sys: write on closed pipe``; that is not done here yet.
  4. Blocked reads and writes park their tasks on the queue (``_wait``) and every change
     reschedules them all (``_kick``: no Event per change); they are cancellable: a
     cancelled read takes nothing, a cancelled write puts nothing in the queue.

Qid paths: pipe number ``n`` (1, 2, ...) shifted left by 5, or'ed with the Q value; ``c.aux``
of every Chan of a pipe is its ``PipeState``.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import trio

from lp49fs.core.chan import COPEN, Chan
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.errors import Ehungup, Eisdir, Error
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Dir, Qid

if TYPE_CHECKING:
    from lp49fs.core.core import Core

PIPEQSIZE = 32 * 1024  # bytes a queue holds; writes up to this are atomic
QSHIFT = 5  # qid.path = pipe number << QSHIFT | Q


class Q(IntEnum):
    DIR = 0
    DATA = 1
    DATA1 = 2


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o500),
    Dirtab("data", Qid(QTFILE, 0, Q.DATA), 0, 0o600),
    Dirtab("data1", Qid(QTFILE, 0, Q.DATA1), 0, 0o600),
)


class Queue:
    """A bounded queue of messages between one writer end and one reader end."""

    def __init__(self, limit: int = PIPEQSIZE) -> None:
        self.msgs: collections.deque[bytes] = collections.deque()  # oldest first
        self.len = 0  # bytes queued
        self.limit = limit
        self.hungup = False  # writer gone: readers get EOF once drained
        self.closed = False  # reader gone: writers fail, data dropped
        self._waiting: list[trio.lowlevel.Task] = []  # readers and writers parked (Rule 4)
        self._writing = False  # a write of several pieces is in progress (Rule 2)

    def _kick(self) -> None:
        if self._waiting:
            ws, self._waiting = self._waiting, []
            for t in ws:
                trio.lowlevel.reschedule(t)

    async def _wait(self) -> None:
        """Park until the next ``_kick`` (or a cancel, which takes the task off the list)."""
        task = trio.lowlevel.current_task()
        self._waiting.append(task)

        def abort(raise_cancel: object) -> trio.lowlevel.Abort:
            self._waiting.remove(task)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def read(self, count: int) -> bytes:
        """The first message, or its first ``count`` bytes (Rule 1); b"" at end of file."""
        while not self.msgs:
            if self.hungup or self.closed:
                return b""
            await self._wait()
        m = self.msgs.popleft()
        if len(m) > count:
            self.msgs.appendleft(m[count:])
            m = m[:count]
        self.len -= len(m)
        self._kick()
        return m

    async def write(self, data: bytes) -> int:
        """Queue ``data`` as messages of at most ``limit`` bytes (Rule 2)."""
        while self._writing and not self.closed and not self.hungup:
            await self._wait()  # another write's pieces go first
        if len(data) <= self.limit:
            await self._put(data)
            return len(data)
        self._writing = True
        try:
            for i in range(0, len(data), self.limit):
                await self._put(data[i : i + self.limit])
        finally:
            self._writing = False
            self._kick()
        return len(data)

    async def _put(self, piece: bytes) -> None:
        """Queue one message once it fits."""
        while not self.closed and not self.hungup and self.len + len(piece) > self.limit:
            await self._wait()
        if self.closed or self.hungup:
            raise Error(Ehungup)
        self.msgs.append(bytes(piece))
        self.len += len(piece)
        self._kick()

    def hangup(self) -> None:
        self.hungup = True
        self._kick()

    def close(self) -> None:
        self.closed = True
        self.msgs.clear()
        self.len = 0
        self._kick()


@dataclass
class PipeState:
    """One pipe: its number, its two queues and the open count of each end."""

    n: int  # pipe number, unique per node
    q: tuple[Queue, Queue] = field(default_factory=lambda: (Queue(), Queue()))  # q[0] read by data
    opens: list[int] = field(default_factory=lambda: [0, 0])  # open Chans of data, data1


class Pipe(Servant):
    """``#|``: a new pipe per attach."""

    dc = "|"
    name = "pipe"
    dirtab = DIRTAB

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.npipes = 0  # pipes made on this node

    @staticmethod
    def _end(c: Chan) -> int:
        """0 for data, 1 for data1."""
        return (c.qid.path & ((1 << QSHIFT) - 1)) - Q.DATA

    def busend(self, c: Chan) -> tuple[int, int] | None:
        end = self._end(c)
        return (c.qid.path >> QSHIFT, end) if end in (0, 1) else None

    @staticmethod
    def _st(c: Chan) -> PipeState:
        st = c.aux
        assert isinstance(st, PipeState)
        return st

    async def attach(self, spec: str) -> Chan:
        self.npipes += 1
        st = PipeState(self.npipes)
        c = self.devattach(spec)
        c.qid = Qid(QTDIR, 0, st.n << QSHIFT | Q.DIR)
        c.aux = st
        return c

    def gen(self, c: Chan, i: int) -> Dir | None:
        if c.qid.path & ((1 << QSHIFT) - 1) != Q.DIR or i >= 2:
            return None
        st = self._st(c)
        t = DIRTAB[1 + i]
        qid = Qid(QTFILE, 0, st.n << QSHIFT | t.qid.path)
        return self.devdir(c, qid, t.name, st.q[i].len, self.core.eve, t.perm)

    def parent(self, c: Chan) -> Qid:
        return Qid(QTDIR, 0, self._st(c).n << QSHIFT | Q.DIR)

    async def open(self, c: Chan, omode: int) -> Chan:
        if c.isdir():
            return self.devopen(c, omode)
        c.mode = openmode(omode)  # like devpipe: no permission check on the ends
        c.flag |= COPEN
        c.offset = 0
        c.iounit = PIPEQSIZE
        self._st(c).opens[self._end(c)] += 1
        return c

    async def close(self, c: Chan) -> None:
        if c.isdir() or not c.flag & COPEN:
            return
        st, end = self._st(c), self._end(c)
        st.opens[end] -= 1
        if st.opens[end] == 0:
            st.q[1 - end].hangup()  # Rule 3: the queue this end wrote
            st.q[end].close()  # the queue this end read

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        return await self._st(c).q[self._end(c)].read(count)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        return await self._st(c).q[1 - self._end(c)].write(data)
