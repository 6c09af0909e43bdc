"""The 9P side of ext2srv: a lib9p ``FileServer`` whose Files are inodes.

``Ext2srv.attach(uname, aname)`` mounts the partition file ``aname`` (a path in the server's
name space, e.g. ``/dev/sdC0/linux``; "" means the one given on the command line) once and
shares it among attaches; a mount that fails is an Rerror, and the server keeps serving.
An ``E2File`` names an inode (and the directory it was reached from, for remove and
rename); every method is one ``Ext2.op``.

Rules:

1. Qids: path = generation << 32 | inode number (so a freed and reused inode is a new
   file to 9P), vers = ``Ext2.vers`` (fs Rule 3), type from the mode.
   Directories show length 0; a symbolic link is a read-only file holding its target;
   devices, fifos and sockets are listed but opening one is ``Error(Eext2special)``.
2. Owners are names: ``users`` maps numbers to names (``-u`` file, users(6) lines
   ``id:name:...``), other numbers show as decimal strings.  A name that is neither is
   ``nobody`` (65534) on the disk.  The server's owner acts as the image's root: every
   permission holds for it; anyone else gets the owner, group or other bits of the mode.
3. wstat (``wstat.apply``) is checked whole before anything changes; a wstat that changes
   nothing (all don't-touch) is a sync: every earlier reply already followed its writes.
4. What one client can make the server spend is bounded: a request is at most one msize of
   data; sparse writes and length changes allocate only the blocks written; the cache and
   the directory indexes have fixed limits (``cache.LIMIT``, ``dirent.KEEP``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from lp49fs.errors import Eext2special, Eisdir9p, Enonexist, Enotdir9p, Enotfound, Eperm, Error
from lp49fs.lib9p import File, NotImplementedFile
from lp49fs.ninep import DMDIR, OEXEC, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, QTDIR, Dir, Qid

from . import dirent, ops, rw, wstat
from .fs import S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, Ext2
from .layout import ROOTINO, Inode

AREAD, AWRITE, AEXEC = 4, 2, 1
OPENPERM = {OREAD: AREAD, OWRITE: AWRITE, ORDWR: AREAD | AWRITE, OEXEC: AEXEC}
NOBODY = 65534

Opener = Callable[[str], Awaitable[Ext2]]


class Ext2srv:
    """The FileServer: one ``Ext2`` per partition named in an attach."""

    mayblock: ClassVar[bool] = True

    def __init__(self, owner: str, opener: Opener, spec: str = "",
                 users: dict[int, str] | None = None) -> None:  # fmt: skip
        self.owner, self.opener, self.spec = owner, opener, spec
        self.users = users or {}
        self.ids = {name: n for n, name in self.users.items()}
        self.mounts: dict[str, Ext2] = {}

    async def attach(self, uname: str, aname: str) -> File:
        spec = aname or self.spec
        fs = self.mounts.get(spec)
        if fs is None:
            fs = self.mounts[spec] = await self.opener(spec)
        async with fs.op():
            root = await fs.iget(ROOTINO)
        return E2File(self, fs, ROOTINO, ROOTINO, uname, QTDIR)._child(root, ROOTINO)

    def name(self, n: int) -> str:
        return self.users.get(n, str(n))

    def number(self, name: str) -> int:
        """Rule 2: the on-disk id of a user name."""
        if name in self.ids:
            return self.ids[name]
        if name == self.owner:
            return 0
        return int(name) if name.isdecimal() and int(name) < 1 << 32 else NOBODY


def qpath(i: Inode) -> int:
    """Rule 1: a reused inode number gets a new qid path (its generation differs)."""
    return i.generation << 32 | i.ino


class E2File(NotImplementedFile):
    """One fid: inode ``ino`` reached from directory ``parent`` (Rules 1-3)."""

    def __init__(self, srv: Ext2srv, fs: Ext2, ino: int, parent: int, uname: str,
                 qtype: int) -> None:  # fmt: skip
        self.srv, self.fs, self.ino, self.parent, self.uname = srv, fs, ino, parent, uname
        self.qtype = qtype
        self.qpath = ino  # generation << 32 | ino, once the inode has been read (Rule 1)
        self.omode = -1

    @property
    def qid(self) -> Qid:
        return Qid(self.qtype, self.fs.vers.get(self.ino, 0) & 0xFFFFFFFF, self.qpath)

    def hasperm(self, i: Inode, need: int) -> bool:
        if self.uname == self.srv.owner:
            return True
        me = self.srv.number(self.uname)
        bits = i.mode >> 6 if me == i.owner() else i.mode >> 3 if me == i.group() else i.mode
        return bits & need == need

    def _child(self, inode: Inode, parent: int) -> E2File:
        qt = QTDIR if inode.mode & S_IFMT == S_IFDIR else 0
        self.fs.vers.setdefault(inode.ino, inode.mtime)
        f = E2File(self.srv, self.fs, inode.ino, parent, self.uname, qt)
        f.qpath = qpath(inode)
        return f

    async def clone(self) -> File:
        f = E2File(self.srv, self.fs, self.ino, self.parent, self.uname, self.qtype)
        f.qpath = self.qpath
        return f

    async def walk1(self, name: str) -> E2File:
        async with self.fs.op():
            d = await self.fs.iget(self.ino)
            if d.mode & S_IFMT != S_IFDIR:
                raise Error(Enotdir9p)
            if not self.hasperm(d, AEXEC):
                raise Error(Eperm)
            hit = (await dirent.names(self.fs, d)).get(name)
            if hit is None:
                raise Error(Enotfound)
            child = await self.fs.iget(hit[0])
            parent = self.ino
            if name == "..":  # the parent's own parent: its '..' entry
                parent = (await dirent.names(self.fs, child))[".."][0]
            return self._child(child, parent)

    async def open(self, mode: int) -> None:
        writes = mode & 3 in (OWRITE, ORDWR) or bool(mode & OTRUNC)
        async with self.fs.op(write=writes):
            i = await self.fs.iget(self.ino)
            kind = i.mode & S_IFMT
            if kind not in (S_IFDIR, S_IFREG, S_IFLNK):
                raise Error(Eext2special)
            need = OPENPERM[mode & 3] | (AWRITE if mode & OTRUNC else 0)
            if not self.hasperm(i, need) or (kind == S_IFLNK and need & AWRITE):
                raise Error(Eperm)
            if kind == S_IFDIR and (mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE)):
                raise Error(Eisdir9p)
            if mode & OTRUNC and self.fs.size(i):
                await rw.resize(self.fs, i, 0)
            self._opened(mode)

    def _opened(self, mode: int) -> None:
        self.omode = mode
        self.fs.opens[self.ino] = self.fs.opens.get(self.ino, 0) + 1

    async def create(self, name: str, perm: int, mode: int) -> File:
        async with self.fs.op(write=True):
            d = await self.fs.iget(self.ino)
            if not self.hasperm(d, AWRITE):
                raise Error(Eperm)
            if perm & DMDIR:
                if mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE):
                    raise Error(Eisdir9p)
                kind, bits = S_IFDIR, perm & (~0o777 | d.mode) & 0o777
            else:
                kind, bits = S_IFREG, perm & (~0o666 | d.mode) & 0o777
            uid = self.srv.number(self.uname)
            i = await ops.create(self.fs, d, name, kind | bits, uid, d.group())
            f = self._child(i, self.ino)
            f._opened(mode)
            return f

    async def read(self, offset: int, count: int) -> bytes:
        async with self.fs.op():
            i = await self.fs.iget(self.ino)
            if self.fs.fast_symlink(i):
                return bytes(i.raw[40 : 40 + i.size])[offset : offset + count]
            return await rw.read(self.fs, i, offset, count)

    async def readdir(self) -> list[Dir]:
        async with self.fs.op():
            d = await self.fs.iget(self.ino)
            out = []
            for _lb, e in await dirent.entries(self.fs, d):
                if e.name not in (".", ".."):
                    out.append(self.dir(await self.fs.iget(e.ino), e.name))
            return out

    async def write(self, offset: int, data: bytes) -> int:
        async with self.fs.op(write=True):
            return await rw.write(self.fs, await self.fs.iget(self.ino), offset, data)

    async def stat(self) -> Dir:
        async with self.fs.op():
            i = await self.fs.iget(self.ino)
            name = await self.name()
            return self.dir(i, str(self.ino) if name is None else name)

    async def name(self) -> str | None:
        """This file's name in its directory; None once removed (a fid may outlive it)."""
        if self.ino == ROOTINO:
            return "/"
        p = await self.fs.iget(self.parent)
        for name, (ino, _lb) in (await dirent.names(self.fs, p)).items():
            if ino == self.ino and name not in (".", ".."):
                return name
        return None

    def dir(self, i: Inode, name: str) -> Dir:
        kind = i.mode & S_IFMT
        mode = i.mode & 0o777
        if kind == S_IFDIR:
            mode |= DMDIR
        elif kind == S_IFLNK:
            mode &= 0o444
        qt = QTDIR if kind == S_IFDIR else 0
        vers = self.fs.vers.setdefault(i.ino, i.mtime) & 0xFFFFFFFF
        length = 0 if kind == S_IFDIR else self.fs.size(i)
        uid, gid = self.srv.name(i.owner()), self.srv.name(i.group())
        return Dir(0, 0, Qid(qt, vers, qpath(i)), mode, i.atime, i.mtime, length, name,
                   uid, gid, uid)  # fmt: skip

    async def wstat(self, d: Dir) -> None:
        touched = set(d.touched())
        async with self.fs.op(write=bool(touched)):
            if not touched:
                return  # Rule 3: a sync
            await wstat.apply(self, d, touched)

    async def remove(self) -> None:
        async with self.fs.op(write=True):
            await self._remove()

    async def _remove(self) -> None:
        name = await self.name()
        if self.ino == ROOTINO or name is None:
            raise Error(Eperm if name else Enonexist)
        p = await self.fs.iget(self.parent)
        if not self.hasperm(p, AWRITE):
            raise Error(Eperm)
        await ops.unlink(self.fs, p, name)

    async def clunk(self) -> None:
        if self.omode < 0:
            return
        async with self.fs.op(write=not self.fs.readonly):
            if self.omode & ORCLOSE:
                try:
                    await self._remove()
                except Error:
                    pass  # clunk succeeds even if the ORCLOSE removal cannot be done
            n = self.fs.opens.get(self.ino, 1) - 1
            self.omode = -1
            if n > 0:
                self.fs.opens[self.ino] = n
                return
            self.fs.opens.pop(self.ino, None)
            if not self.fs.readonly:
                await ops.release(self.fs, self.ino)

