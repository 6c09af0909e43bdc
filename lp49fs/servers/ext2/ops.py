"""Name-space changes: create, remove and rename, each in the order that keeps a crash
repairable.

Rules (each runs inside one ``Ext2.op``, so its blocks reach the disk together, bitmaps
first and directory blocks last: ``cache`` Rule 1):

1. ``create``: allocate and write the inode (a directory also gets its first block with
   ``.`` and ``..`` and raises its parent's link count), then add the entry.
2. ``unlink``: drop the entry, then lower the link count; at zero the inode is freed now,
   or at the last clunk of a fid that has it open (``release``), as Unix keeps an open
   file.  A directory must hold nothing but ``.`` and ``..`` (``Error(Enotempty)``).
3. ``rename`` within one directory: the new entry is added before the old one is dropped;
   an existing target is ``Error(Eexist)`` (9P wstat never replaces a file).
4. Names are 1-255 bytes without ``/`` or NUL, and not ``.`` or ``..``.
"""

from __future__ import annotations

from lp49fs.errors import Eexist, Elongname, Enotempty, Eperm, Error

from . import bmap as bm
from . import dirent, rw
from .cache import DIRECTORY
from .fs import S_IFDIR, S_IFMT, Ext2
from .layout import Inode


def check_name(name: str) -> None:
    """Rule 4."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise Error(Eperm)
    if len(name.encode()) > 255:
        raise Error(Elongname)


async def create(fs: Ext2, d: Inode, name: str, mode: int, uid: int, gid: int) -> Inode:
    """Rule 1: a new file or directory ``name`` in ``d``; returns its inode (put)."""
    check_name(name)
    if name in await dirent.names(fs, d):
        raise Error(Eexist)
    inode = await fs.new_inode(d.ino, mode, uid, gid)
    isdir = mode & S_IFMT == S_IFDIR
    if isdir:
        blk, _ = await bm.bmap(fs, inode, 0, d.block(0))
        fs.cache.new(blk, DIRECTORY)[:] = dirent.first_block(fs, inode.ino, d.ino)
        fs.set_size(inode, fs.bs)
    await fs.iput(inode)
    if isdir:
        d.links_count += 1
    ft = dirent.FT_OF_MODE.get(mode >> 12, 0) if fs.filetype else 0
    await dirent.add(fs, d, name, inode.ino, ft)
    return inode


async def unlink(fs: Ext2, d: Inode, name: str) -> None:
    """Rule 2."""
    idx = await dirent.names(fs, d)
    ino = idx[name][0]
    inode = await fs.iget(ino)
    isdir = inode.mode & S_IFMT == S_IFDIR
    if isdir and set(await dirent.names(fs, inode)) - {".", ".."}:
        raise Error(Enotempty)
    await dirent.drop(fs, d, name)
    if isdir:
        d.links_count = max(d.links_count - 1, 1)
        await fs.iput(d)
        inode.links_count = 0
    else:
        inode.links_count = max(inode.links_count - 1, 0)
    fs.changed(inode, data=False)
    await fs.iput(inode)
    if inode.links_count == 0 and not fs.opens.get(ino):
        await destroy(fs, inode)


async def release(fs: Ext2, ino: int) -> None:
    """The last fid open on ``ino`` went away: free it if it was removed meanwhile."""
    inode = await fs.iget(ino)
    if inode.links_count == 0 and inode.mode and not inode.dtime:
        await destroy(fs, inode)


async def destroy(fs: Ext2, inode: Inode) -> None:
    """Free an unlinked inode and its blocks (``Ext2.has_blocks``)."""
    if fs.has_blocks(inode):
        await rw.resize(fs, inode, 0)
    await fs.free_inode(inode)
    fs.dirs.pop(inode.ino, None)


async def rename(fs: Ext2, d: Inode, old: str, new: str) -> None:
    """Rule 3."""
    check_name(new)
    idx = await dirent.names(fs, d)
    if new in idx:
        raise Error(Eexist)
    ino = idx[old][0]
    inode = await fs.iget(ino)
    ft = dirent.FT_OF_MODE.get(inode.mode >> 12, 0) if fs.filetype else 0
    await dirent.add(fs, d, new, ino, ft)
    await dirent.drop(fs, d, old)
    fs.changed(inode, data=False)
    await fs.iput(inode)
