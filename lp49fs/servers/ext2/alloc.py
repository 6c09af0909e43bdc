"""Allocation: block and inode bitmaps, with the free counts of descriptors and superblock.

A group ``g`` owns blocks ``first_data_block + g * blocks_per_group`` onwards (the last
group may be shorter) and inodes ``g * inodes_per_group + 1`` onwards; bit ``i`` of its
block (inode) bitmap is set when its ``i``-th block (inode) is in use.

Rules:

1. Every change of a bit changes, in the same step, the group's free count and the
   superblock's, and marks the three dirty (``cache`` ranks: bitmaps, descriptors and the
   superblock are written before anything that points at what they allocate).
2. A block goes near ``goal`` (the block before it in the file, or the inode's group), so
   files stay contiguous and data runs are read in one call; ``alloc_run`` takes a whole
   run of a write's blocks in one pass over the bitmap.  A file's inode goes in its
   directory's group; a new directory's in the group with the most free inodes.
3. No free bit left -> ``Error(Efull)``, and nothing has changed.  A count that disagrees
   with its bitmap, or freeing what is already free, is ``Error(Eext2bad)`` before the bit
   is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs.errors import Eext2bad, Efull, Error

from .cache import ALLOC

if TYPE_CHECKING:
    from .fs import Ext2


def first_zero(bm: bytearray, start: int, nbits: int) -> int:
    """Index of the first clear bit in ``[start, nbits)`` of ``bm``, or -1."""
    if start >= nbits:
        return -1
    lo = start // 8
    x = int.from_bytes(bm[lo : (nbits + 7) // 8], "little") | ((1 << (start - 8 * lo)) - 1)
    bit = (~x & (x + 1)).bit_length() - 1 + 8 * lo
    return bit if bit < nbits else -1


def group_blocks(fs: Ext2, g: int) -> int:
    sb = fs.sb
    return min(sb.blocks_per_group, sb.blocks_count - sb.first_data_block - g * sb.blocks_per_group)


async def alloc_block(fs: Ext2, goal: int) -> int:
    """A free block near ``goal``, now marked used (Rules 1-3)."""
    got = await alloc_run(fs, goal, 1)
    if not got:
        raise Error(Efull)
    return got[0]


async def alloc_run(fs: Ext2, goal: int, n: int) -> list[int]:
    """Up to ``n`` free blocks from ``goal`` on, adjacent where the bitmap allows, now used;
    fewer (maybe none) only when the disk is full (the caller decides: Rule 3)."""
    sb = fs.sb
    fdb, bpg, total = sb.first_data_block, sb.blocks_per_group, sb.blocks_count
    out: list[int] = []
    goal = min(max(goal - fdb, 0), total - fdb - 1)
    g0, tried = goal // bpg, 0
    g = g0
    while len(out) < n and tried <= fs.ngroups and sb.free_blocks_count:
        gd = fs.gd[g]
        if gd.free_blocks_count == 0:
            g, tried = (g + 1) % fs.ngroups, tried + 1
            continue
        bm = await fs.cache.get(gd.block_bitmap)
        nbits = group_blocks(fs, g)
        i = first_zero(bm, goal % bpg if g == g0 and tried == 0 else 0, nbits)
        if i < 0:
            i = first_zero(bm, 0, nbits)
        if i < 0:
            raise Error(f"{Eext2bad}: group {g} counts free blocks its bitmap does not have")
        run = 0
        want = min(n - len(out), gd.free_blocks_count)
        while run < want and i + run < nbits and not bm[(i + run) // 8] & (1 << ((i + run) % 8)):
            bm[(i + run) // 8] |= 1 << ((i + run) % 8)
            run += 1
        fs.cache.mark(gd.block_bitmap, ALLOC)
        fs.cache.allocated = True
        gd.free_blocks_count -= run
        sb.free_blocks_count -= run
        fs.counts_changed(g)
        base = fdb + g * bpg + i
        out += range(base, base + run)
        goal = i + run + g * bpg
        g0, tried = g, 0
    return out


async def free_block(fs: Ext2, blk: int) -> None:
    sb = fs.sb
    if not sb.first_data_block <= blk < sb.blocks_count:
        raise Error(f"{Eext2bad}: block {blk} out of range")
    g, i = divmod(blk - sb.first_data_block, sb.blocks_per_group)
    gd = fs.gd[g]
    bm = await fs.cache.get(gd.block_bitmap)
    if not bm[i // 8] & (1 << (i % 8)):
        raise Error(f"{Eext2bad}: block {blk} freed twice")
    bm[i // 8] &= ~(1 << (i % 8)) & 0xFF
    fs.cache.mark(gd.block_bitmap, ALLOC)
    fs.cache.freed = True  # cache Rule 1: this request's pointers go out first
    fs.cache.forget(blk)
    gd.free_blocks_count += 1
    sb.free_blocks_count += 1
    fs.counts_changed(g)


async def alloc_inode(fs: Ext2, parent: int, isdir: bool) -> int:
    """A free inode number (Rule 2 for the group), now marked used."""
    sb = fs.sb
    if sb.free_inodes_count == 0:
        raise Error(Efull)
    ipg = sb.inodes_per_group
    if isdir:
        order = sorted(range(fs.ngroups), key=lambda g: -fs.gd[g].free_inodes_count)
    else:
        g0 = (parent - 1) // ipg
        order = [(g0 + k) % fs.ngroups for k in range(fs.ngroups)]
    for g in order:
        gd = fs.gd[g]
        if gd.free_inodes_count == 0:
            continue
        bm = await fs.cache.get(gd.inode_bitmap)
        start = max(fs.first_ino - 1 - g * ipg, 0)
        i = first_zero(bm, start, ipg)
        if i < 0:
            raise Error(f"{Eext2bad}: group {g} counts free inodes its bitmap does not have")
        bm[i // 8] |= 1 << (i % 8)
        fs.cache.mark(gd.inode_bitmap, ALLOC)
        fs.cache.allocated = True
        gd.free_inodes_count -= 1
        sb.free_inodes_count -= 1
        if isdir:
            gd.used_dirs_count += 1
        fs.counts_changed(g)
        return g * ipg + i + 1
    raise Error(Efull)


async def free_inode(fs: Ext2, ino: int, isdir: bool) -> None:
    sb = fs.sb
    g, i = divmod(ino - 1, sb.inodes_per_group)
    gd = fs.gd[g]
    bm = await fs.cache.get(gd.inode_bitmap)
    if not bm[i // 8] & (1 << (i % 8)):
        raise Error(f"{Eext2bad}: inode {ino} freed twice")
    bm[i // 8] &= ~(1 << (i % 8)) & 0xFF
    fs.cache.mark(gd.inode_bitmap, ALLOC)
    fs.cache.freed = True
    gd.free_inodes_count += 1
    sb.free_inodes_count += 1
    if isdir:
        gd.used_dirs_count -= 1
    fs.counts_changed(g)
