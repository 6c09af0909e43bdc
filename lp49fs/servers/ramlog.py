"""ramfs's log in a retained region: every acknowledged change survives a crash of ramfs.

The region (``lp49fs.lib.segment``: memory HVM keeps after the process dies) holds a header
and two halves.  The *active* half holds a snapshot of the tree followed by the ops made since
(``ramops``), each as one record::

    header:  "lp49rlog"  active half u32  epoch u32  crc32 u32       (one store, in page 0)
    record:  length u32  crc32 u32  epoch u32  body[length]          (body: snapshot or op)

Discipline (a redo log with checkpoints; docs/recovery.md):

1. Commit point.  A change is logged before it is applied and before the client is answered:
   the body is stored first, then the 12-byte record head.  The crc covers the epoch and the
   body, so a record whose body or head was cut short by a crash (a page fault inside a store
   is where a kill can land) fails its check, and so does a stale record of an earlier epoch
   left in the half.  Replay stops at the first record that fails: that change and nothing
   before it is rolled back, and it was never acknowledged.
2. Checkpoint.  When a record does not fit in the active half, the tree is written as one
   snapshot record, with the next epoch, at the start of the *other* half, and then the
   header is stored pointing at it.  The header store is the switch: before it the old half
   is the truth, after it the new one.  The record that did not fit then goes after the
   snapshot; if it still does not fit the change is refused (``file system full``) with the
   tree unchanged.  A change that adds (create, write) is refused too when the snapshot
   fills more than ``FULL`` of a half, so checkpoints stay rare: the tree a region of S
   bytes keeps is at most about ``FULL * S / 2``.  Removals and truncations always fit.
3. Restart.  ``load`` reads the header, restores the active half's snapshot and replays its
   records in order (``ramops.replay``); a region with no valid header is a fresh tree.
4. What is not kept: open fids, DMEXCL locks, and access times set by reads after the last
   snapshot.

One record in flight at a time: appends are serialised by a lock, so no two interleave.
"""

from __future__ import annotations

import logging
import struct
import zlib
from typing import TYPE_CHECKING, Protocol

import trio

from lp49fs.errors import Efull, Enosnap, Error
from lp49fs.servers import ramops

if TYPE_CHECKING:
    from lp49fs.servers.ramfs import Ramfs

log = logging.getLogger(__name__)

MAGIC = b"lp49rlog"
HEADER = struct.Struct("<8sIII")  # magic, active half, epoch, crc32 of the first three
HDRSIZE = 64  # bytes before the halves
HEAD = struct.Struct("<III")  # length, crc32, epoch
FULL = 0.75  # Rule 2: the share of a half a snapshot may fill before adding is refused


class Region(Protocol):
    """What the log needs of its memory (``lp49fs.lib.Segment``)."""

    size: int

    async def read(self, off: int, n: int) -> bytes: ...

    async def write(self, off: int, data: bytes | bytearray | memoryview) -> None: ...


def _crc(epoch: int, body: bytes | memoryview) -> int:
    return zlib.crc32(body, zlib.crc32(struct.pack("<I", epoch)))


class Journal:
    """The log of one ramfs (module docstring)."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.half = (region.size - HDRSIZE) // 2  # bytes per half
        self.active = 0  # which half holds the truth
        self.epoch = 0  # records of this epoch are valid in the active half
        self.pos = 0  # where the next record goes in the active half
        self.records = 0  # records replayed by load (for tests and the log line)
        self.lock = trio.Lock()

    def _base(self, half: int) -> int:
        return HDRSIZE + half * self.half

    async def load(self, fs: Ramfs) -> bool:
        """Rule 3: rebuild ``fs`` from the region; False (and a fresh log) if it held none."""
        magic, active, epoch, crc = HEADER.unpack(await self.region.read(0, HEADER.size))
        if magic != MAGIC or crc != zlib.crc32(HEADER.pack(magic, active, epoch, 0)[:-4]):
            await self._checkpoint(fs, 0, 1)
            return False
        self.active, self.epoch, self.pos = active, epoch, 0
        base = self._base(active)
        first = True
        while self.pos + HEAD.size <= self.half:
            length, crc, ep = HEAD.unpack(await self.region.read(base + self.pos, HEAD.size))
            if ep != epoch or self.pos + HEAD.size + length > self.half:
                break
            body = await self.region.read(base + self.pos + HEAD.size, length)
            if _crc(epoch, body) != crc:
                break
            if first:
                ramops.restore(fs, body)
                first = False
            else:
                ramops.replay(fs, ramops.decode(body))
                self.records += 1
            self.pos += HEAD.size + length
        if first:  # the snapshot itself is bad: nothing to roll back to
            raise Error(Enosnap)
        return True

    async def append(self, fs: Ramfs, op: ramops.Op) -> None:
        """Log ``op`` (Rules 1, 2) before it is applied; ``file system full`` if it cannot be."""
        body = ramops.encode(op)
        async with self.lock:
            if self.pos + HEAD.size + len(body) > self.half:
                await self._checkpoint(fs, 1 - self.active, self.epoch + 1)
                adds = isinstance(op, (ramops.Create, ramops.Write))
                if self.pos + HEAD.size + len(body) > self.half or (
                        adds and self.pos > FULL * self.half):  # fmt: skip
                    raise Error(Efull)
            await self._record(self.active, self.pos, self.epoch, body)
            self.pos += HEAD.size + len(body)

    async def _record(self, half: int, pos: int, epoch: int, body: bytes) -> None:
        at = self._base(half) + pos
        await self.region.write(at + HEAD.size, body)
        await self.region.write(at, HEAD.pack(len(body), _crc(epoch, body), epoch))

    async def _checkpoint(self, fs: Ramfs, half: int, epoch: int) -> None:
        """Rule 2: the tree as the first record of ``half``, then the header switch."""
        snap = ramops.snapshot(fs)
        if HEAD.size + len(snap) > self.half:
            raise Error(Efull)
        await self._record(half, 0, epoch, snap)
        hdr = HEADER.pack(MAGIC, half, epoch, 0)
        await self.region.write(0, hdr[:-4] + struct.pack("<I", zlib.crc32(hdr[:-4])))
        self.active, self.epoch, self.pos = half, epoch, HEAD.size + len(snap)
        log.debug("ramfs: checkpoint of %d bytes in half %d (epoch %d)", len(snap), half, epoch)
