"""File contents: reads and writes of byte ranges, turned into runs of whole blocks.

Rules:

1. A read past the end gives b""; holes read as zeros; disk blocks that follow each other
   are read in one call (a 128 KiB Tread of a contiguous file is one pread).
2. A write allocates every missing block first (``bmap`` with a goal just after the
   previous block, so the file grows contiguously), then writes the data, a partial first
   or last block merged with what the block held (or zeros when it is new), then grows the
   length and puts the inode; the metadata follow at the request's flush (``cache`` Rule 1).
3. ``Error(Efull)`` part way: the blocks got so far are kept and the write is cut at the
   first block that could not be had (a short count, as write(2) does); with nothing
   written the error is raised.  A write past ``fs.maxsize`` is ``Error(Efbig)``.
4. ``resize`` to a shorter length frees the blocks past it and zeros the rest of the last
   block, so a later growth reads zeros; growing only changes the length (a hole).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs.errors import Efbig, Efull, Error

from . import alloc
from . import bmap as bm
from .layout import Inode

if TYPE_CHECKING:
    from .fs import Ext2


def _runs(blocks: list[int]) -> list[tuple[int, int, int]]:
    """(first index, disk block, count) of each run of adjacent blocks; 0 runs are holes."""
    out: list[tuple[int, int, int]] = []
    for i, b in enumerate(blocks):
        if out:
            i0, b0, n = out[-1]
            if (b == 0 and b0 == 0) or (b and b0 and b == b0 + n):
                out[-1] = (i0, b0, n + 1)
                continue
        out.append((i, b, 1))
    return out


async def read(fs: Ext2, inode: Inode, offset: int, count: int) -> bytes:
    """Rule 1."""
    size = fs.size(inode)
    if offset >= size or count <= 0:
        return b""
    count = min(count, size - offset)
    first, last = offset // fs.bs, (offset + count - 1) // fs.bs
    blocks = await bm.lookup(fs, inode, first, last - first + 1)
    parts = []
    for _i, blk, n in _runs(blocks):
        parts.append(bytes(n * fs.bs) if blk == 0 else await fs.cache.read_run(blk, n))
    data = b"".join(parts)
    skip = offset - first * fs.bs
    return data[skip : skip + count]


async def write(fs: Ext2, inode: Inode, offset: int, data: bytes) -> int:
    """Rules 2 and 3; the count written."""
    if not data:
        return 0
    if offset + len(data) > fs.maxsize:
        raise Error(Efbig)
    bs = fs.bs
    first, last = offset // bs, (offset + len(data) - 1) // bs
    blocks = await bm.lookup(fs, inode, first, last - first + 1)
    fresh = [False] * len(blocks)
    holes = [k for k, b in enumerate(blocks) if not b]
    if holes:
        got = await _fill(fs, inode, first, blocks, holes)
        for k in holes[:got]:
            fresh[k] = True
        if got < len(holes):  # Rule 3: cut at the first block not had
            cut = holes[got]
            if cut == 0 or first * bs + cut * bs <= offset:
                raise Error(Efull)
            blocks, fresh = blocks[:cut], fresh[:cut]
            data = data[: first * bs + cut * bs - offset]
    size = fs.size(inode)
    buf = bytearray()
    head = offset - first * bs
    n = len(blocks)
    for k, edge in ((0, head > 0), (n - 1, (offset + len(data)) % bs != 0)):
        if edge and not fresh[k] and (first + k) * bs < size:
            old = await fs.cache.read_run(blocks[k], 1)
            if k == 0:
                buf = bytearray(old) + bytearray((n - 1) * bs)
            else:
                buf = (buf or bytearray(n * bs))
                buf[(n - 1) * bs :] = old
    if not buf:
        buf = bytearray(n * bs)
    buf[head : head + len(data)] = data
    for i, blk, cnt in _runs(blocks):
        await fs.cache.write_run(blk, bytes(buf[i * bs : (i + cnt) * bs]))
    if offset + len(data) > size:
        fs.set_size(inode, offset + len(data))
    fs.changed(inode)
    await fs.iput(inode)
    return len(data)


async def _fill(fs: Ext2, inode: Inode, first: int, blocks: list[int],
                holes: list[int]) -> int:  # fmt: skip
    """Allocate and install the ``holes`` of ``blocks`` (logical ``first + k``), in place;
    how many were filled (fewer only when the disk filled up)."""
    k0 = holes[0]
    prev = blocks[k0 - 1] if k0 else (await bm.lookup(fs, inode, first - 1, 1))[0] if first else 0
    goal = prev + 1 if prev else fs.gd[(inode.ino - 1) // fs.sb.inodes_per_group].inode_table
    new = await alloc.alloc_run(fs, goal, len(holes))
    for j, blk in enumerate(new):
        try:
            await bm.install(fs, inode, first + holes[j], blk)
        except Error as e:
            if e.ename != Efull:
                raise
            for spare in new[j:]:
                await alloc.free_block(fs, spare)
            return j
        blocks[holes[j]] = blk
    return len(new)


async def resize(fs: Ext2, inode: Inode, length: int) -> None:
    """Rule 4; puts the inode."""
    if length > fs.maxsize:
        raise Error(Efbig)
    size = fs.size(inode)
    if length < size:
        await bm.truncate(fs, inode, -(-length // fs.bs))
        tail = length % fs.bs
        if tail:
            blk = (await bm.bmap(fs, inode, length // fs.bs))[0]
            if blk:
                old = await fs.cache.read_run(blk, 1)
                await fs.cache.write_run(blk, old[:tail] + bytes(fs.bs - tail))
    fs.set_size(inode, length)
    fs.changed(inode)
    await fs.iput(inode)
