"""One mounted ext2 file system: geometry, descriptors, inodes, and the request lock.

``Ext2.mount(disk)`` reads the superblock (``layout.check`` decides refused, read-only or
writable) and pins the primary group descriptor table in the cache.  Inodes are read with
``iget`` into a private copy and written back with ``iput``, which puts the bytes into the
cached inode-table block and marks it dirty.

Rules:

1. Every 9P request runs inside ``op(write)``: one request at a time per file system (a
   ``trio.Lock``), never cancelled once it holds the lock (a Tflush waits for it, as
   flush(5) allows); a writing request on a read-only image is ``Error(Ewprotect)`` with the
   reason; at its end the dirty blocks are flushed (``cache`` Rule 1), before the reply, and
   the cache is trimmed.
2. Inode numbers are checked (``1 <= ino <= inodes_count``) before their block is read, and
   ``size`` combines ``size_high`` for regular files (revision 1).  A file's length past
   2 GiB sets the ``large_file`` feature, as the Linux driver does.
4. A request that fails part way (an error, a corrupt structure found, a Tflush or a kill
   cancelling it) changes nothing: its dirty blocks are dropped and the pinned ones put
   back as they are on the disk (``Cache.abort``), the name indexes are forgotten; so an
   interrupted client never leaves half a change behind, and nothing is written on the
   strength of a structure found corrupt.  Only file data it wrote in place may remain, as
   with an interrupted write(2).  A flush once begun is finished (shielded).
3. ``vers[ino]`` is the qid version: it starts at the inode's mtime and counts changes made
   through this server, so two writes within a second still change it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import trio

from lp49fs.errors import Eext2bad, Error, Ewprotect

from . import alloc, layout
from .cache import ALLOC, INDIRECT, ITABLE, Cache, Disk
from .layout import GDSIZE, GroupDesc, Inode, Superblock

S_IFMT, S_IFDIR, S_IFREG, S_IFLNK = 0xF000, 0x4000, 0x8000, 0xA000
XATTR_MAGIC = 0xEA020000


class Ext2:
    """A mounted image (Rules 1-3)."""

    def __init__(self, disk: Disk, sb: Superblock, why_ro: str) -> None:
        self.disk, self.sb = disk, sb
        self.bs = layout.block_size(sb)
        self.cache = Cache(disk, self.bs)
        self.ngroups = layout.ngroups(sb)
        self.isz = layout.inode_size(sb)
        self.first_ino = layout.first_ino(sb)
        self.filetype = bool(sb.rev_level >= 1 and sb.feature_incompat & layout.INCOMPAT_FILETYPE)
        self.why_ro = why_ro or ("the partition is read-only" if disk.readonly else "")
        self.gd: list[GroupDesc] = []
        self.sbblk = 0  # the cached block holding the superblock
        self.lock = trio.Lock()
        self.vers: dict[int, int] = {}
        self.opens: dict[int, int] = {}  # ino -> open fids (removed files live on)
        self.dirs: dict[int, dict[str, tuple[int, int]]] = {}  # ino -> name -> (ino, block)
        self.apb = self.bs // 4
        nblk = layout.NDIR + self.apb + self.apb**2 + self.apb**3
        large = sb.rev_level >= 1
        self.maxsize = min(nblk * self.bs, (1 << 32) // (self.bs // 512) * self.bs - self.bs,
                           (1 << 63) if large else (1 << 31) - 1)  # fmt: skip

    @classmethod
    async def mount(cls, disk: Disk) -> Ext2:
        """Read and check an image; Error(Eext2bad/Eext2feature) if it cannot be served."""
        if disk.size < layout.SBOFF + layout.SBSIZE:
            raise Error(f"{Eext2bad}: partition of {disk.size} bytes")
        sb = Superblock(bytearray(await disk.pread(layout.SBOFF, layout.SBSIZE)))
        why = layout.check(sb, disk.size)
        fs = cls(disk, sb, why)
        fs.sbblk, off = divmod(layout.SBOFF, fs.bs)  # the superblock lives in a cached block
        raw = await fs.cache.get(fs.sbblk)
        fs.cache.pin(fs.sbblk)
        fs.sb = Superblock(memoryview(raw)[off : off + layout.SBSIZE])
        first = sb.first_data_block + 1
        for g in range(fs.ngroups):
            blk, off = divmod(g * GDSIZE, fs.bs)
            raw = await fs.cache.get(first + blk)
            fs.cache.pin(first + blk)
            gd = GroupDesc(memoryview(raw)[off : off + GDSIZE])
            for b in (gd.block_bitmap, gd.inode_bitmap, gd.inode_table):
                if not sb.first_data_block <= b < sb.blocks_count:
                    raise Error(f"{Eext2bad}: group {g} descriptor points at block {b}")
            fs.gd.append(gd)
        return fs

    @property
    def readonly(self) -> bool:
        return bool(self.why_ro)

    @contextlib.asynccontextmanager
    async def op(self, write: bool = False) -> AsyncIterator[None]:
        """Rule 1: hold the file system for one request; flush its changes at the end, or
        forget them all if it ends with an exception (Rule 4)."""
        async with self.lock:
            if write and self.why_ro:
                raise Error(f"{Ewprotect}: {self.why_ro}")
            try:
                yield
                if self.cache.dirty:
                    with trio.CancelScope(shield=True):
                        await self.cache.flush()
            except BaseException:
                if self.cache.dirty:  # only then did anything change (Rule 4)
                    self.cache.abort()
                    self.dirs.clear()
                raise
            finally:
                self.cache.trim()

    def counts_changed(self, g: int) -> None:
        """Group ``g``'s descriptor and the superblock changed (alloc Rule 1)."""
        self.cache.mark(self.sb.first_data_block + 1 + g * GDSIZE // self.bs, ALLOC)
        self.cache.mark(self.sbblk, ALLOC)

    # --- inodes -----------------------------------------------------------------------
    def _where(self, ino: int) -> tuple[int, int]:
        if not 1 <= ino <= self.sb.inodes_count:
            raise Error(f"{Eext2bad}: inode number {ino}")
        g, i = divmod(ino - 1, self.sb.inodes_per_group)
        blk, off = divmod(i * self.isz, self.bs)
        return self.gd[g].inode_table + blk, off

    async def iget(self, ino: int) -> Inode:
        blk, off = self._where(ino)
        raw = await self.cache.get(blk)
        return Inode(bytearray(raw[off : off + self.isz]), ino)

    async def iput(self, inode: Inode) -> None:
        blk, off = self._where(inode.ino)
        raw = await self.cache.get(blk)
        raw[off : off + self.isz] = inode.raw
        self.cache.mark(blk, ITABLE)

    def has_blocks(self, inode: Inode) -> bool:
        """Does ``i_block`` hold block pointers?  Not for a fast symlink (text) nor for a
        device, fifo or socket (device numbers, or nothing)."""
        kind = inode.mode & S_IFMT
        return kind in (S_IFREG, S_IFDIR) or (kind == S_IFLNK and not self.fast_symlink(inode))

    def fast_symlink(self, inode: Inode) -> bool:
        """A symbolic link whose target sits in ``i_block`` itself (no data blocks: only an
        extended attribute block, if any, is counted in ``i_blocks``)."""
        xattr = self.bs // 512 if inode.file_acl else 0
        return inode.mode & S_IFMT == S_IFLNK and inode.blocks == xattr

    def size(self, inode: Inode) -> int:
        if inode.mode & S_IFMT == S_IFREG and self.sb.rev_level >= 1:
            return inode.size | inode.size_high << 32
        return inode.size

    def set_size(self, inode: Inode, n: int) -> None:
        inode.size = n & 0xFFFFFFFF
        if inode.mode & S_IFMT == S_IFREG and self.sb.rev_level >= 1:
            inode.size_high = n >> 32
            if n >= 1 << 31 and not self.sb.feature_ro_compat & layout.RO_LARGE_FILE:
                self.sb.feature_ro_compat |= layout.RO_LARGE_FILE
                self.cache.mark(self.sbblk, ALLOC)

    def changed(self, inode: Inode, data: bool = True) -> None:
        """A change to the inode (``data``: its contents, so mtime too; Rule 3)."""
        now = int(time.time())
        inode.ctime = now
        if data:
            inode.mtime = now
        ino = inode.ino
        self.vers[ino] = self.qvers(inode) + 1

    def qvers(self, inode: Inode) -> int:
        return self.vers.get(inode.ino, inode.mtime) & 0xFFFFFFFF

    async def new_inode(self, parent: int, mode: int, uid: int, gid: int) -> Inode:
        """A fresh inode (allocated, zeroed, one link, times now), not yet put."""
        isdir = mode & S_IFMT == S_IFDIR
        ino = await alloc.alloc_inode(self, parent, isdir)
        inode = Inode(bytearray(self.isz), ino)
        inode.mode, inode.links_count = mode, 2 if isdir else 1
        inode.uid, inode.uid_high = uid & 0xFFFF, uid >> 16 & 0xFFFF
        inode.gid, inode.gid_high = gid & 0xFFFF, gid >> 16 & 0xFFFF
        inode.atime = inode.ctime = inode.mtime = int(time.time())
        inode.generation = (time.time_ns() ^ ino) & 0xFFFFFFFF
        if self.isz > layout.GOOD_OLD_INODE_SIZE:
            inode.extra_isize = 32
        self.vers.pop(ino, None)
        self.dirs.pop(ino, None)
        return inode

    async def free_inode(self, inode: Inode) -> None:
        """Delete an inode whose blocks are already freed: its xattr block, dtime, bitmap."""
        if inode.file_acl:
            await self._drop_xattr(inode.file_acl)
            inode.file_acl = 0
        inode.links_count = 0
        inode.dtime = int(time.time())
        await self.iput(inode)
        await alloc.free_inode(self, inode.ino, inode.mode & S_IFMT == S_IFDIR)

    async def _drop_xattr(self, blk: int) -> None:
        raw = await self.cache.get(blk)
        if int.from_bytes(raw[0:4], "little") != XATTR_MAGIC:
            raise Error(f"{Eext2bad}: extended attribute block {blk}")
        refs = int.from_bytes(raw[4:8], "little")
        if refs > 1:
            raw[4:8] = (refs - 1).to_bytes(4, "little")
            self.cache.mark(blk, INDIRECT)
        else:
            await alloc.free_block(self, blk)

