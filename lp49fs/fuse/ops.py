"""The FUSE view: one pyfuse3 ``Operations`` class that is an LP49 process.

Theory of operation.  The bridge is an ordinary LP49 program: ``Operations.serve`` is the
``main`` of process N (spawned by the node, sharing the name space of the process the mount
shows).  It records its L4 thread (``uctx.current()``), stats ``/`` and serves until the
process is killed.  pyfuse3 runs every FUSE request in one of its own trio tasks; each
handler first binds that task to the bridge's thread, so its ``lib`` calls are system calls
of process N (lib lends it an idle worker thread of N per call).  Nothing here touches the
core: every name-space operation is a ``lib`` call, as in any program.

Rules:

1. Inodes: ``InodeTable`` (inodes.py) keys files by (type, dev, qid.path).  Every lookup,
   create, mkdir and readdirplus entry counts one lookup; ``forget`` takes them back.
   Handlers make their calls on the inode's walked fd (fids.py: one per process, walked
   again by the path it was last reached by when not kept); lookups, creates and removes
   walk the name from the parent's.
2. Open files: an fh names an LP49 fd of the process that opened it (Rule 9). Server files
   use the page cache, kept across opens while the file's qid.vers (as last seen by lookup,
   getattr or readdirplus, at most ``TIMEOUT`` old) is the one of the previous open; servant
   files are direct_io, and streams are nonseekable and read with ``read`` (offset ignored).
   So is a server file that may be synthetic: length 0 and qid.vers 0 when looked up, and
   not created through the view (an imported node's /dev/sysname); a file the view created,
   or one with content or a version, is cached, which is what makes shared mmap work (FUSE
   refuses it on direct_io files). A FUSE read (up to 1 MiB: ``max_pages`` and the mount's
   1 MiB readahead, ``bdi``) is at most two ``pread``s (MAXIO is 512 KiB), which ``#M``
   sends as msize-sized Treads.
3. Directories: ``dirs.DirOps`` (snapshots per opendir, ``.`` and ``..``, mount points
   listed with the attributes getattr shows).
4. Errors: ``calls.syscall`` runs each handler as the bridge process and turns failures
   into errnos (``Error`` through the one table, an unknown inode ENOENT, an interrupted
   stream call EINTR), logging every EIO.  A name longer than ``NAMEMAX`` bytes is
   ENAMETOOLONG before any system call.
5. ``flush`` answers ENOSYS (the kernel then stops sending it: one request less per close);
   ``release`` closes the fd.
6. ``setattr`` is one ``wstat``: size -> length (truncate), mode -> the permission bits,
   mtime -> mtime, uid/gid -> the host user's or group's name (``Owners``); atime is
   ignored (9P cannot set it).  A chown or chgrp to the owner shown is a no-op; a refused
   change of owner is EPERM, as chown(2) says.
7. ``rename`` is a wstat of the name within one directory; across directories it is EXDEV
   (mv then copies).  An existing target is removed first (Linux rename replaces).

8. 9P2000 has no symbolic links, hard links, fifos or device files: ``symlink``, ``link``
   and ``mknod`` of anything but a regular file answer ``UNSUPPORTED`` (EPERM, as POSIX
   allows where a file system does not support the type); ``mknod`` of a regular file is a
   create.

9. Identity (users.py): a request with a ``RequestContext`` runs as the caller's own LP49
   process (``Callers``: the passwd name of ctx.uid, ``none`` if unknown; the mounter and
   root act as the bridge itself); ``read``, ``write`` and ``release`` run as the process
   that opened the fh, since the fd is in its table.  fds are per process, so the same
   fd number may be open in two callers' tables: the fh is the view's own number
   (``_fh``), not the fd.

Not supported: the types of Rule 8, xattrs, locks, fsync (answers ENOSYS); ``poll``
reports readable and writable (9P has no readiness query).
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import select
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyfuse3
import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.fuse.attr import Owners, attributes, file_info, is_stream, open_mode
from lp49fs.fuse.calls import syscall
from lp49fs.fuse.dirs import DirOps
from lp49fs.fuse.fids import Fids
from lp49fs.fuse.inodes import InodeTable, Key, Node, join, key_of
from lp49fs.fuse.intr import Interrupts
from lp49fs.fuse.users import Callers
from lp49fs.lib import uctx
from lp49fs.ninep import DMDIR, OREAD, Dir
from lp49fs.syscall import MAXIO

log = logging.getLogger(__name__)

NAMEMAX = 255  # longest name of one path element, in bytes (NAME_MAX)
UNSUPPORTED = errno.EPERM  # Rule 8: what symlink, link and mknod of a non-file answer
FH_OPS = ("read", "write", "release")  # Rule 9: requests that carry an fh and no context


@dataclass(slots=True)
class OpenFile:
    fd: int  # the opener's LP49 fd
    stream: bool  # read/write ignore the offset
    append: bool  # O_APPEND: every write goes to the current end
    pid: int  # the host thread that opened it: its signals interrupt stream calls (intr.py)
    path: str  # as opened (O_APPEND asks its length)
    key: Key  # the file's inode key (its ctime moves on each write)
    ut: uctx.UThread  # the thread of the process whose fd it is (users.py Rule 4)
    direct: bool = False  # direct_io: a short read goes to the kernel as it is


class Operations(DirOps):
    """The FUSE request handlers of one view of an LP49 name space (Rules 1-7)."""

    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, owners: Owners | None = None, callers: Callers | None = None) -> None:
        super().__init__()
        self.inodes = InodeTable()
        self.fids = Fids()  # walked fds per inode (fids.py)
        self.owners = owners or Owners()
        self.callers = callers or Callers()
        self.callers.inuse = lambda ut: any(f.ut is ut for f in self._files.values())
        self.intr = Interrupts()
        self.ut: uctx.UThread | None = None  # the bridge's main thread, once serving
        self.pid = 0  # the bridge's LP49 pid
        self.ready = trio.Event()
        self._files: dict[int, OpenFile] = {}
        self._fh = itertools.count(1)  # file fhs (directory fhs start at 1 << 32)
        self._init_dirs()

    # -- the LP49 process --------------------------------------------------------------

    async def serve(self, argv: list[str]) -> None:
        """The bridge program's ``main``: become the view's process and serve forever."""
        self.ut = uctx.current()
        self.pid = await lib.getpid()
        self.inodes.set_root(await lib.stat("/"))
        async with trio.open_nursery() as nursery:
            await nursery.start(self.intr.run)
            self.ready.set()
            await trio.sleep_forever()

    async def actor(self, op: str, args: tuple[object, ...]) -> uctx.UThread:
        """Rule 9: the caller's process for a request with a context, else the opener's."""
        assert self.ut is not None
        await self.fids.check(self.callers.version)  # fids.py Rule 5, as the bridge
        for a in args:
            if isinstance(a, pyfuse3.RequestContext):
                return await self.callers.thread(self.ut, a.uid)
        f = self._files.get(args[0]) if op in FH_OPS and isinstance(args[0], int) else None
        return f.ut if f is not None else self.ut

    def _attr(self, node: Node, d: Dir) -> pyfuse3.EntryAttributes:
        return attributes(d, node.ino, self.owners, self.inodes.ctime.get(node.key, 0))

    async def _look(self, parent: Node, path: str, name: str, made: bool = False
                    ) -> tuple[Node, Dir]:  # fmt: skip
        """Count a lookup of ``name`` walked from ``parent``'s fd (``..`` is lexical there
        too, lp49fs.core.sysat), keeping the new fd."""
        fd, d = await self.fids.walkstat(parent, name)
        d = self.inodes.stamp(d, parent, path)
        node = self._node(d, path, made=made)
        await self.fids.keep(node, fd)
        return node, d

    def _node(self, d: Dir, path: str, ino: int = 0, made: bool = False) -> Node:
        """Count a lookup of ``d`` at ``path``; the Node, with its stream flag set.
        ``made``: the bridge created the file, so it is a real file, not a synthetic one."""
        node = self.inodes.enter(d, path, ino)
        node.stream = is_stream(d)
        node.made = node.made or made
        # Rule 2: an untouched empty server file may be synthetic (an imported /dev/sysname)
        node.empty = d.length == 0 and d.qid.vers == 0 and not node.made
        return node

    def _stat_of(self, node: Node, d: Dir) -> Dir:
        """``d`` (a fresh stat of ``node``) stamped like the node was (inodes Rule 4)."""
        return d if d.type else replace(d, type=node.key[0], dev=node.key[1])

    def _child(self, parent_inode: int, name: bytes) -> tuple[Node, str]:
        if len(name) > NAMEMAX:
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        parent = self.inodes.get(parent_inode)
        return parent, join(parent.path, os.fsdecode(name))

    # -- names -------------------------------------------------------------------------

    @syscall
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        return self._attr(*await self._look(*self._child(parent_inode, name), os.fsdecode(name)))

    @syscall
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        node = self.inodes.get(inode)
        d = await self.fids.call(node, lib.fstat)
        node.vers = d.qid.vers
        return self._attr(node, self._stat_of(node, d))

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        gone = [ino for ino, n in inode_list if self.inodes.forget(ino, n)]
        if gone and self.ut is not None:
            uctx.bind(self.ut)
            await self.fids.forget(gone)

    @syscall
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        node = self.inodes.get(inode)
        d = Dir.nulldir()
        if fields.update_uid or fields.update_gid:  # Rule 6: a change of owner is a wstat
            cur = await self.fids.call(node, lib.fstat)
            if fields.update_uid and attr.st_uid != self.owners.user(cur.uid):
                d = replace(d, uid=self.owners.username(attr.st_uid))
            if fields.update_gid and attr.st_gid != self.owners.group(cur.gid):
                d = replace(d, gid=self.owners.groupname(attr.st_gid))
            if not d.is_null() and fields.update_uid:
                try:  # chown(2) answers EPERM for a refused change of owner
                    await self.fids.call(node, lib.fwstat, d)
                except Error as e:
                    raise pyfuse3.FUSEError(errno.EPERM) from e
                self.inodes.changed(node.key)
                d = Dir.nulldir()
        if fields.update_size:
            d = replace(d, length=attr.st_size)
        if fields.update_mode:
            cur = await self.fids.call(node, lib.fstat)
            d = replace(d, mode=(cur.mode & ~0o777) | (attr.st_mode & 0o777))
        if fields.update_mtime:
            d = replace(d, mtime=attr.st_mtime_ns // 1_000_000_000)
        if not d.is_null():
            f = self._files.get(fh) if fh is not None else None
            if f is not None and f.ut is not uctx.current():
                f = None  # another caller's fd: by name, as that caller
            await (lib.fwstat(f.fd, d) if f is not None else self.fids.call(node, lib.fwstat, d))
            self.inodes.changed(node.key)
        return self._attr(node, self._stat_of(node, await self.fids.call(node, lib.fstat)))

    @syscall
    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, path = self._child(parent_inode, name)
        at = os.fsdecode(name)
        await lib.close(await self.fids.createat(parent, at, OREAD, DMDIR | (mode & 0o777)))
        self.inodes.changed(parent.key)
        return self._attr(*await self._look(parent, path, at))

    @syscall
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, _ = self._child(parent_inode, name)
        await self.fids.call(parent, lib.removeat, os.fsdecode(name))
        self.inodes.changed(parent.key)

    @syscall
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, _ = self._child(parent_inode, name)
        await self.fids.call(parent, lib.removeat, os.fsdecode(name))
        self.inodes.changed(parent.key)

    @syscall
    async def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        old = self._child(parent_inode_old, name_old)[1]
        new = self._child(parent_inode_new, name_new)[1]
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise pyfuse3.FUSEError(errno.EINVAL)
        if self.inodes.get(parent_inode_old).path != self.inodes.get(parent_inode_new).path:
            raise pyfuse3.FUSEError(errno.EXDEV)  # Rule 7
        if old == new:
            return
        try:
            await lib.stat(new)
        except Error:
            pass
        else:
            if flags & pyfuse3.RENAME_NOREPLACE:
                raise pyfuse3.FUSEError(errno.EEXIST)
            await lib.remove(new)
        await lib.wstat(old, replace(Dir.nulldir(), name=os.fsdecode(name_new)))
        self.inodes.renamed(old, new)
        moved = self.inodes.stamp(await lib.stat(new), self.inodes.get(parent_inode_new), new)
        self.inodes.changed(self.inodes.get(parent_inode_old).key, key_of(moved))

    # -- files -------------------------------------------------------------------------

    def _opened(self, fd: int, node: Node, flags: int, pid: int) -> pyfuse3.FileInfo:
        append = bool(flags & os.O_APPEND)
        fh = next(self._fh)
        cached = node.server and not node.empty
        self._files[fh] = OpenFile(fd, node.stream, append, pid, node.path, node.key,
                                   uctx.current(), not cached)  # fmt: skip
        if flags & os.O_TRUNC:
            self.inodes.changed(node.key)
        keep = cached and node.openvers == node.vers and not flags & os.O_TRUNC  # Rule 2
        node.openvers = node.vers if cached else -2
        return file_info(fh, cached, node.stream, keep)

    @syscall
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self.inodes.get(inode)
        fd = await self.fids.openat(node, open_mode(flags))
        return self._opened(fd, node, flags, ctx.pid)

    @syscall
    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent, path = self._child(parent_inode, name)
        at = os.fsdecode(name)
        fd = await self.fids.createat(parent, at, open_mode(flags), mode & 0o777)
        node, d = await self._look(parent, path, at, made=True)
        self.inodes.changed(parent.key, node.key)
        return self._opened(fd, node, flags, ctx.pid), self._attr(node, d)

    @syscall
    async def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, path = self._child(parent_inode, name)
        if not stat.S_ISREG(mode):
            raise pyfuse3.FUSEError(UNSUPPORTED)  # Rule 8: 9P has no fifos or device nodes
        at = os.fsdecode(name)
        await lib.close(await self.fids.createat(parent, at, OREAD, mode & 0o777))
        node, d = await self._look(parent, path, at, made=True)
        self.inodes.changed(parent.key, node.key)
        return self._attr(node, d)

    @syscall
    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._child(parent_inode, name)  # ENAMETOOLONG first, as Linux file systems do
        raise pyfuse3.FUSEError(UNSUPPORTED)  # Rule 8

    @syscall
    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._child(new_parent_inode, new_name)
        raise pyfuse3.FUSEError(UNSUPPORTED)  # Rule 8

    @syscall
    async def read(self, fh: int, off: int, size: int) -> bytes:
        f = self._files[fh]
        if f.stream:
            return await self.intr.call(f.pid, lib.read, f.fd, size)
        parts: list[bytes] = []
        while size > 0:  # a short read of a cached file means EOF to the kernel
            b = await lib.pread(f.fd, min(size, MAXIO), off)
            if not b:
                break
            parts.append(b)
            if f.direct:  # no page cache to fill: the short read is the answer
                break
            off += len(b)
            size -= len(b)
        return b"".join(parts)

    @syscall
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        f = self._files[fh]
        if f.stream:
            return await self.intr.call(f.pid, lib.write, f.fd, buf)
        if f.append:
            off = (await lib.stat(f.path)).length
        n = await lib.pwrite(f.fd, buf, off)
        self.inodes.changed(f.key)
        return n

    async def flush(self, fh: int) -> None:
        raise pyfuse3.FUSEError(errno.ENOSYS)  # Rule 5

    @syscall
    async def release(self, fh: int) -> None:
        f = self._files.pop(fh, None)
        if f is not None:
            await lib.close(f.fd)

    async def poll(self, inode: int, fh: int, poll_handle: Any, ctx: pyfuse3.RequestContext) -> int:
        return select.POLLIN | select.POLLOUT

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 8192
        s.f_blocks = s.f_bfree = s.f_bavail = 1 << 20  # 8 GiB, all free: 9P has no statfs
        s.f_files = s.f_ffree = s.f_favail = 1 << 20
        s.f_namemax = NAMEMAX
        return s
