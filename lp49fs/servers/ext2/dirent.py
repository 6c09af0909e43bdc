"""Directories: blocks of variable-length entries chained by ``rec_len``.

An entry is ``inode u32, rec_len u16, name_len u8, file_type u8, name`` (with the
``filetype`` feature; without it ``name_len`` is 16 bits), padded to 4 bytes; the
``rec_len`` of the last entry of a block reaches the block's end, and an entry with inode 0
is free space.  Hashed (``dir_index``) directories keep their index in blocks that look
like one free entry, so a linear reading is always right; a directory this server changes
loses its ``EXT2_INDEX_FL`` (what e2fsck and the Linux ext2 driver expect of a writer that
does not keep the index).

Rules:

1. Every block is parsed whole and checked (``rec_len`` at least 8 + the name, a multiple
   of 4, inside the block) before any entry of it is used or changed; a bad one is
   ``Error(Eext2bad)`` and the block is left as it is.
2. ``names(d)`` is the directory's name index (name -> (inode, logical block)), built by one
   scan and kept up to date by ``add`` and ``drop``; the server is the only writer of its
   image, so it stays right.  At most ``KEEP`` directories keep an index.
3. ``add`` puts an entry in the first gap big enough in the last block (or, in a directory
   of at most ``SCAN`` blocks, any block), else in a new block at the end; ``drop`` merges
   the entry into the one before it in its block, or frees it when it is the first.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NamedTuple

from lp49fs.errors import Eext2bad, Error

from . import bmap as bm
from .cache import DIRECTORY
from .layout import Inode

if TYPE_CHECKING:
    from .fs import Ext2

INDEX_FL = 0x1000
KEEP = 64
SCAN = 8
FT_REG, FT_DIR, FT_SYMLINK = 1, 2, 7
FT_OF_MODE = {0x8: FT_REG, 0x4: FT_DIR, 0x2: 3, 0x6: 4, 0x1: 5, 0xC: 6, 0xA: FT_SYMLINK}


class Ent(NamedTuple):
    off: int  # byte offset in its block
    ino: int  # 0: free space
    rec_len: int
    name: str
    ftype: int


def need(namelen: int) -> int:
    return (8 + namelen + 3) & ~3


def parse(fs: Ext2, buf: bytearray, ino: int) -> list[Ent]:
    """Rule 1: every entry of one directory block of inode ``ino``."""
    out, off = [], 0
    while off < fs.bs:
        e_ino, rec, nl, ft = struct.unpack_from("<IHBB", buf, off)
        if not fs.filetype:
            nl, ft = nl | ft << 8, 0
        if rec < 8 or rec % 4 or off + rec > fs.bs or (e_ino and need(nl) > rec):
            raise Error(f"{Eext2bad}: directory {ino} entry at {off}: rec_len {rec}")
        name = bytes(buf[off + 8 : off + 8 + nl]).decode("utf-8", "replace")
        out.append(Ent(off, e_ino, rec, name, ft))
        off += rec
    return out


async def block(fs: Ext2, d: Inode, lb: int) -> tuple[int, bytearray]:
    blk = (await bm.bmap(fs, d, lb))[0]
    if not blk:
        raise Error(f"{Eext2bad}: directory {d.ino} has a hole at block {lb}")
    return blk, await fs.cache.get(blk)


async def entries(fs: Ext2, d: Inode) -> list[tuple[int, Ent]]:
    """(logical block, entry) of every used entry of directory ``d``, in order."""
    out = []
    for lb in range(fs.size(d) // fs.bs):
        _, buf = await block(fs, d, lb)
        out += [(lb, e) for e in parse(fs, buf, d.ino) if e.ino]
    return out


async def names(fs: Ext2, d: Inode) -> dict[str, tuple[int, int]]:
    """Rule 2: name -> (inode, logical block) of directory ``d``."""
    idx = fs.dirs.get(d.ino)
    if idx is None:
        idx = {e.name: (e.ino, lb) for lb, e in await entries(fs, d)}
        if len(fs.dirs) >= KEEP:
            del fs.dirs[next(iter(fs.dirs))]
        fs.dirs[d.ino] = idx
    return idx


def _put(fs: Ext2, buf: bytearray, off: int, ino: int, rec: int, raw: bytes, ft: int) -> None:
    if fs.filetype:
        struct.pack_into("<IHBB", buf, off, ino, rec, len(raw), ft)
    else:
        struct.pack_into("<IHH", buf, off, ino, rec, len(raw))
    buf[off + 8 : off + 8 + len(raw)] = raw


def _unindex(fs: Ext2, d: Inode) -> None:
    d.flags &= ~INDEX_FL


async def add(fs: Ext2, d: Inode, name: str, ino: int, ft: int) -> None:
    """Rule 3: a new entry; the caller checked the name is not there.  Puts ``d``."""
    raw = name.encode()
    want = need(len(raw))
    idx = await names(fs, d)
    nblocks = fs.size(d) // fs.bs
    order = range(nblocks) if nblocks <= SCAN else [nblocks - 1] if nblocks else []
    for lb in order:
        blk, buf = await block(fs, d, lb)
        for e in parse(fs, buf, d.ino):
            used = need(len(e.name.encode())) if e.ino else 0
            if e.rec_len - used >= want:
                if e.ino:
                    struct.pack_into("<H", buf, e.off + 4, used)
                _put(fs, buf, e.off + used, ino, e.rec_len - used, raw, ft)
                fs.cache.mark(blk, DIRECTORY)
                idx[name] = (ino, lb)
                _unindex(fs, d)
                fs.changed(d)
                await fs.iput(d)
                return
    blk, _ = await bm.bmap(fs, d, nblocks, d.block(0))
    buf = fs.cache.new(blk, DIRECTORY)
    _put(fs, buf, 0, ino, fs.bs, raw, ft)
    fs.set_size(d, (nblocks + 1) * fs.bs)
    idx[name] = (ino, nblocks)
    _unindex(fs, d)
    fs.changed(d)
    await fs.iput(d)


async def drop(fs: Ext2, d: Inode, name: str) -> None:
    """Rule 3: remove the entry ``name`` (which must be there).  Puts ``d``."""
    idx = await names(fs, d)
    _, lb = idx[name]
    blk, buf = await block(fs, d, lb)
    prev = None
    for e in parse(fs, buf, d.ino):
        if e.ino and e.name == name:
            if prev is None:
                struct.pack_into("<I", buf, e.off, 0)
            else:
                struct.pack_into("<H", buf, prev.off + 4, prev.rec_len + e.rec_len)
            break
        prev = e
    else:
        raise Error(f"{Eext2bad}: directory {d.ino} lost the entry {name}")
    fs.cache.mark(blk, DIRECTORY)
    del idx[name]
    _unindex(fs, d)
    fs.changed(d)
    await fs.iput(d)


def first_block(fs: Ext2, ino: int, parent: int) -> bytearray:
    """The first block of a new directory: ``.`` and ``..``."""
    buf = bytearray(fs.bs)
    _put(fs, buf, 0, ino, 12, b".", FT_DIR)
    _put(fs, buf, 12, parent, fs.bs - 12, b"..", FT_DIR)
    return buf
