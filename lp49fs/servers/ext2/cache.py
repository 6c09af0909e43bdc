"""The partition as blocks: a disk opened through the name space and a metadata cache.

``FdDisk`` is the partition file (``/dev/sdC0/linux``) opened by the server process: every
read and write is a pread/pwrite system call, which ``#S`` turns into ATA commands, so the
server sees the disk only as LP49 lets any program see it.  Calls are cut to ``MAXIO``.

``Cache`` keeps metadata blocks (bitmaps, descriptor blocks, inode tables, indirect blocks,
directories) as bytearrays.  File data does not pass through it (``read_run`` and
``write_run`` go straight to the disk, a run of adjacent blocks in one call).

Rules:

1. Write-through per operation: a change marks its block dirty with a *rank*; ``flush``
   (called at the end of every 9P request that changed something, before the reply) writes
   the dirty blocks in rank order: the allocation state (bitmaps, descriptors, the
   superblock's block) first, then indirect blocks, inode tables and directories last;
   adjacent blocks of a rank (or of consecutive ranks) go in one write.  A request that
   only freed (a truncation, a remove) goes the other way round: directories, inode
   tables and indirect blocks first, the allocation state last, so a restarted server
   never finds a freed block or inode still pointed at (and gives it to a second file).
   So a crash between two writes leaves at worst allocated blocks or inodes nobody points
   at (e2fsck frees them), never an entry or a pointer to something unallocated.  (A
   request that both frees and allocates keeps the allocation-first order.)
2. Between requests the cache is trimmed to ``limit`` clean blocks (least recently used go
   first; ``trim``); dirty and pinned blocks (the descriptor table, whose records stay live)
   stay.  Nothing is dropped during a request, so a bytearray got from ``get`` stays the
   cached block until the request ends.  A freed block is dropped (``forget``), so a block that
   changes from metadata to file data is never written back stale.
3. A short read or write of the partition is ``Error(Eio)``; nothing is retried.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from lp49fs import lib
from lp49fs.errors import Eio, Error
from lp49fs.syscall import MAXIO

ALLOC, INDIRECT, ITABLE, DIRECTORY = range(4)  # flush ranks (Rule 1)
LIMIT = 4096  # clean blocks kept (16 MiB of 4 KiB blocks)


class Disk(Protocol):
    size: int  # bytes
    readonly: bool

    async def pread(self, offset: int, n: int) -> bytes: ...

    async def pwrite(self, offset: int, data: bytes) -> None: ...


class FdDisk:
    """A partition file opened by this process (``lp49fs.lib`` calls only)."""

    def __init__(self, fd: int, size: int, readonly: bool) -> None:
        self.fd, self.size, self.readonly = fd, size, readonly

    async def pread(self, offset: int, n: int) -> bytes:
        parts = []
        done = 0
        while done < n:
            piece = await lib.pread(self.fd, min(MAXIO, n - done), offset + done)
            if not piece:
                raise Error(f"{Eio}: short read at byte {offset + done}")
            parts.append(piece)
            done += len(piece)
        return b"".join(parts)

    async def pwrite(self, offset: int, data: bytes) -> None:
        if await lib.pwrite(self.fd, data, offset) != len(data):
            raise Error(f"{Eio}: short write at byte {offset}")


class Cache:
    """Blocks of size ``bs`` of ``disk`` (Rules 1-3)."""

    def __init__(self, disk: Disk, bs: int, limit: int = LIMIT) -> None:
        self.disk, self.bs, self.limit = disk, bs, limit
        self.blocks: OrderedDict[int, bytearray] = OrderedDict()
        self.dirty: dict[int, int] = {}  # block -> rank
        self.pinned: dict[int, bytes] = {}  # never trimmed: block -> its bytes on the disk
        self.freed = False  # this request freed a block or an inode (Rule 1)
        self.allocated = False  # this request allocated one (Rule 1)

    async def get(self, blk: int) -> bytearray:
        b = self.blocks.get(blk)
        if b is None:
            b = bytearray(await self.disk.pread(blk * self.bs, self.bs))
            self.blocks[blk] = b
        else:
            self.blocks.move_to_end(blk)
        return b

    def new(self, blk: int, rank: int) -> bytearray:
        """A block just allocated for metadata: zeros, dirty."""
        b = self.blocks[blk] = bytearray(self.bs)
        self.dirty[blk] = rank
        return b

    def mark(self, blk: int, rank: int) -> None:
        self.dirty[blk] = min(rank, self.dirty.get(blk, rank))

    def forget(self, blk: int) -> None:
        self.blocks.pop(blk, None)
        self.dirty.pop(blk, None)

    async def flush(self) -> None:
        """Write every dirty block in rank order (Rule 1); blocks that follow each other in
        that order and on the disk go in one write."""
        late = self.freed and not self.allocated  # frees: the pointers go first
        jobs = sorted((-rank if late else rank, blk) for blk, rank in self.dirty.items())
        runs: list[list[int]] = []
        for _rank, blk in jobs:
            if runs and runs[-1][-1] + 1 == blk:
                runs[-1].append(blk)
            else:
                runs.append([blk])
        for run in runs:
            await self.disk.pwrite(run[0] * self.bs, b"".join(self.blocks[b] for b in run))
            for b in run:
                del self.dirty[b]
                if b in self.pinned:
                    self.pinned[b] = bytes(self.blocks[b])
        self.freed = self.allocated = False

    def pin(self, blk: int) -> None:
        """Keep cached block ``blk`` (records view it) for good; call right after ``get``."""
        self.pinned[blk] = bytes(self.blocks[blk])

    def abort(self) -> None:
        """Forget every change not yet flushed: dirty blocks are dropped (the next ``get``
        reads the disk), pinned ones restored in place (their records stay valid)."""
        for blk in self.dirty:
            if blk in self.pinned:
                self.blocks[blk][:] = self.pinned[blk]
            else:
                self.blocks.pop(blk, None)
        self.dirty.clear()
        self.freed = self.allocated = False

    def trim(self) -> None:
        """Drop clean blocks down to the limit; only between requests, so a block a request
        is changing is never dropped under it."""
        if len(self.blocks) <= self.limit:
            return
        for blk in list(self.blocks):
            if len(self.blocks) <= self.limit:
                break
            if blk not in self.dirty and blk not in self.pinned:
                del self.blocks[blk]

    async def read_run(self, blk: int, n: int) -> bytes:
        """``n`` adjacent data blocks from ``blk`` (straight from the disk)."""
        return await self.disk.pread(blk * self.bs, n * self.bs)

    async def write_run(self, blk: int, data: bytes) -> None:
        """Whole data blocks from ``blk``; ``len(data)`` is a multiple of the block size."""
        await self.disk.pwrite(blk * self.bs, data)
