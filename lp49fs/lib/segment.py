"""segattach(2) for retained regions: memory a process keeps across its own death.

``segattach(name, size)`` is one system call (``Sys.SEGATTACH``): the core asks HVM to place
retained region ``name`` (made on first use, ``size`` bytes rounded up to pages) in the
caller's address space, and returns where.  The result is a ``Segment``: ``read`` and
``write`` are plain loads and stores of the process's own memory at that address, so they
cost no system call; a page touched for the first time faults to HVM's Pager, which maps the
region's frame (``lp49fs.hvm.retain``).  The fault is taken on an L4 thread of the process
(``uctx.run``), like any system call, so any task of the process may use the segment.

The bytes stay in the node's RAM when the process exits, is killed or crashes: a process
that attaches the same name later sees them exactly as they were after the last store.
"""

from __future__ import annotations

from kernel.space import PageFault
from kernel.types import PAGE_SIZE
from lp49fs.errors import Ebadarg, Error
from lp49fs.lib.sys import _simple
from lp49fs.lib.uctx import UThread, current
from lp49fs.lib.workers import run
from lp49fs.syscall import Sys


class Segment:
    """A retained region as mapped in this process: ``size`` bytes from ``base``."""

    def __init__(self, name: str, base: int, size: int) -> None:
        self.name = name
        self.base = base
        self.size = size

    def _check(self, off: int, n: int) -> None:
        if off < 0 or n < 0 or off + n > self.size:
            raise Error(Ebadarg)

    async def read(self, off: int, n: int) -> bytes:
        """``n`` bytes at offset ``off`` of the segment."""
        self._check(off, n)
        space = current().thread.space
        assert space is not None
        while True:
            try:
                return space.read(self.base + off, n)
            except PageFault as f:
                await _fault(f)

    async def write(self, off: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at offset ``off``; when it returns, the bytes are in the region."""
        self._check(off, len(data))
        space = current().thread.space
        assert space is not None
        while True:
            try:
                space.write(self.base + off, data)
                return
            except PageFault as f:
                await _fault(f)


async def _fault(f: PageFault) -> None:
    async def op(ut: UThread) -> None:
        await ut.thread.page_fault(f.addr, f.access)

    await run(op)


async def segattach(name: str, size: int, pct: int = 0) -> Segment:
    """Attach retained region ``name`` of ``size`` bytes (0: an existing region's size), or
    one of ``pct`` percent of the node's free memory if it has to be made."""
    base, npages = await _simple(Sys.SEGATTACH, (-(-size // PAGE_SIZE), pct), name)
    return Segment(name, base, npages * PAGE_SIZE)
