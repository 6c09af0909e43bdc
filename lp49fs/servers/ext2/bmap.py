"""Block maps: logical block -> disk block through direct, indirect, double and triple blocks.

An inode's ``i_block`` has 12 direct pointers, then one each to a single, double and triple
indirect block; an indirect block holds ``bs / 4`` little-endian pointers; 0 is a hole.
``i_blocks`` counts 512-byte sectors of every block the inode owns, indirect ones included.

Rules:

1. ``bmap(alloc=False)`` never changes anything; a hole maps to 0.  With ``alloc`` every
   missing block on the path is allocated (``alloc`` Rule 2, near ``goal``); a new indirect
   block is zeroed in the cache, and the caller must write a new data block whole (it may
   hold another file's old bytes).  ``fresh`` in the result says the data block is new.
2. A pointer outside the file system is ``Error(Eext2bad)`` before it is followed.
3. ``truncate(keep)`` frees every data block at or past logical block ``keep`` and every
   indirect block left without pointers, deepest first, and clears the pointers to them;
   the inode is changed in memory and put by the caller.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from lp49fs.errors import Eext2bad, Efbig, Error

from . import alloc
from .cache import INDIRECT
from .layout import DIND, IND, NDIR, TIND, Inode

if TYPE_CHECKING:
    from .fs import Ext2


def path(apb: int, lblk: int) -> list[int]:
    """The i_block slot, then the index in each indirect block, of logical block ``lblk``."""
    if lblk < NDIR:
        return [lblk]
    lblk -= NDIR
    if lblk < apb:
        return [IND, lblk]
    lblk -= apb
    if lblk < apb * apb:
        return [DIND, lblk // apb, lblk % apb]
    lblk -= apb * apb
    if lblk < apb**3:
        return [TIND, lblk // (apb * apb), lblk // apb % apb, lblk % apb]
    raise Error(Efbig)


def _check(fs: Ext2, blk: int, ino: int) -> int:
    if blk and not fs.sb.first_data_block <= blk < fs.sb.blocks_count:
        raise Error(f"{Eext2bad}: inode {ino} points at block {blk}")
    return blk


async def _new(fs: Ext2, inode: Inode, goal: int, indirect: bool) -> int:
    blk = await alloc.alloc_block(fs, goal)
    inode.blocks += fs.bs // 512
    if indirect:
        fs.cache.new(blk, INDIRECT)
    return blk


async def bmap(fs: Ext2, inode: Inode, lblk: int, alloc_goal: int = -1) -> tuple[int, bool]:
    """(disk block, fresh) of ``lblk``; allocates missing blocks when ``alloc_goal >= 0``."""
    steps = path(fs.apb, lblk)
    blk = _check(fs, inode.block(steps[0]), inode.ino)
    fresh = False
    if not blk:
        if alloc_goal < 0:
            return 0, False
        blk = await _new(fs, inode, alloc_goal, len(steps) > 1)
        inode.setblock(steps[0], blk)
        fresh = True
    for depth, idx in enumerate(steps[1:], start=2):
        table = await fs.cache.get(blk)
        nxt = _check(fs, struct.unpack_from("<I", table, 4 * idx)[0], inode.ino)
        fresh = False
        if not nxt:
            if alloc_goal < 0:
                return 0, False
            nxt = await _new(fs, inode, max(alloc_goal, blk + 1), depth < len(steps))
            struct.pack_into("<I", table, 4 * idx, nxt)
            fs.cache.mark(blk, INDIRECT)
            fresh = True
        blk = nxt
    return blk, fresh


async def lookup(fs: Ext2, inode: Inode, first: int, n: int) -> list[int]:
    """Disk blocks (0 for holes) of logical blocks ``first .. first+n-1``; each indirect
    block on the way is read and unpacked once per call."""
    tables: dict[int, tuple[int, ...]] = {}
    out = []
    for lb in range(first, first + n):
        steps = path(fs.apb, lb)
        blk = _check(fs, inode.block(steps[0]), inode.ino)
        for idx in steps[1:]:
            if not blk:
                break
            t = tables.get(blk)
            if t is None:
                t = tables[blk] = struct.unpack_from(f"<{fs.apb}I", await fs.cache.get(blk))
            blk = _check(fs, t[idx], inode.ino)
        out.append(blk)
    return out


async def install(fs: Ext2, inode: Inode, lblk: int, blk: int) -> None:
    """Point logical block ``lblk`` (a hole) at the allocated data block ``blk``, allocating
    the indirect blocks on the way (next to ``blk``); ``i_blocks`` counts ``blk`` too."""
    steps = path(fs.apb, lblk)
    if len(steps) == 1:
        inode.setblock(steps[0], blk)
        inode.blocks += fs.bs // 512
        return
    table = inode.block(steps[0])
    if not table:
        table = await _new(fs, inode, blk, True)
        inode.setblock(steps[0], table)
    for depth, idx in enumerate(steps[1:], start=2):
        raw = await fs.cache.get(table)
        if depth == len(steps):
            struct.pack_into("<I", raw, 4 * idx, blk)
            fs.cache.mark(table, INDIRECT)
            inode.blocks += fs.bs // 512
            return
        nxt = _check(fs, struct.unpack_from("<I", raw, 4 * idx)[0], inode.ino)
        if not nxt:
            nxt = await _new(fs, inode, blk, True)
            struct.pack_into("<I", raw, 4 * idx, nxt)
            fs.cache.mark(table, INDIRECT)
        table = nxt


async def truncate(fs: Ext2, inode: Inode, keep: int) -> None:
    """Rule 3: free logical blocks ``>= keep`` and indirect blocks left empty."""
    for i in range(NDIR):
        blk = _check(fs, inode.block(i), inode.ino)
        if blk and i >= keep:
            await _free(fs, inode, blk)
            inode.setblock(i, 0)
    base, span = NDIR, 1
    for slot in (IND, DIND, TIND):
        span *= fs.apb
        blk = _check(fs, inode.block(slot), inode.ino)
        if blk and await _trunc(fs, inode, blk, span // fs.apb, base, keep):
            inode.setblock(slot, 0)
        base += span


async def _trunc(fs: Ext2, inode: Inode, blk: int, span: int, base: int, keep: int) -> bool:
    """Free what ``blk`` (covering ``span`` blocks per pointer from ``base``) holds at or
    past ``keep``; True if ``blk`` itself was freed."""
    if base + span * fs.apb <= keep:
        return False
    table = await fs.cache.get(blk)
    ptrs = struct.unpack_from(f"<{fs.apb}I", table)
    for i, child in enumerate(ptrs):
        start = base + i * span
        if not child or start + span <= keep:
            continue
        _check(fs, child, inode.ino)
        gone = True
        if span > 1:
            gone = await _trunc(fs, inode, child, span // fs.apb, start, keep)
        else:
            await _free(fs, inode, child)
        if gone:
            struct.pack_into("<I", table, 4 * i, 0)
            fs.cache.mark(blk, INDIRECT)  # at once: a change is always dirty (fs Rule 4)
    if base >= keep or not any(struct.unpack_from(f"<{fs.apb}I", table)):
        await _free(fs, inode, blk)
        return True
    return False


async def _free(fs: Ext2, inode: Inode, blk: int) -> None:
    await alloc.free_block(fs, blk)
    inode.blocks -= fs.bs // 512
