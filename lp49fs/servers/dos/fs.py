"""dossrv's 9P side: a lib9p FileServer whose attach names the partition (Plan 9 dossrv(4)).

``Tattach`` aname is the partition file (``mount -c /srv/dos /n/c /dev/sdC0/dos``); an empty
aname means the server's default file, if it was given one.  Each distinct partition is
opened once and stays open as a ``Volume``; several can be served at once.

Rules:

1. One lock per volume: every request on it runs alone (requests may block on the disk, so
   ``mayblock`` is True and each runs in its own task, cancellable by Tflush; the lock is
   the only shared state).
2. FAT has no owners: every file shows the attaching user as uid, gid and muid, with mode
   0666 (0444 when the read-only attribute is set) or DMDIR|0777.  A mode wstat that clears
   every write bit of a file sets the read-only attribute; one with a write bit clears it
   (a directory's mode stays).  A read-only file refuses opening for writing, truncation
   and length wstat (Eperm).
3. wstat is all-or-nothing: every field is checked before any change is made; the
   changeable fields are name (within the directory), length (files), mode (Rule 2) and
   mtime; uid, gid and muid may only be "changed" to what they are.  A null wstat is a
   sync: every change is already on the disk (``vol.py`` Rule 3).
4. Bounds: at most ``MAXVOLS`` partitions and, per attach, ``MAXFILES`` Files alive (fids
   walked from it); past them, ``Error(Etoomany)``.  A removed file's fids keep answering
   stat, but reads and writes say ``file does not exist``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import trio

from lp49fs.errors import (
    Ebadattach,
    Eexist,
    Eisdir9p,
    Enonexist,
    Enotdir9p,
    Enotempty,
    Enotfound,
    Eperm,
    Error,
    Etoomany,
    Ewprotect,
)
from lp49fs.lib9p import File, NotImplementedFile
from lp49fs.ninep import DMDIR, ORCLOSE, OREAD, OTRUNC, QTDIR, QTFILE, Dir, Qid
from lp49fs.servers.dos import dirent as de
from lp49fs.servers.dos import dirs
from lp49fs.servers.dos.vol import Disk, Node, Volume

MAXVOLS = 16
MAXFILES = 4096
Opener = Callable[[str], Awaitable[Disk]]


@dataclass(eq=False)
class Served:
    """A volume with its lock (Rule 1) and whether its disk takes writes."""

    vol: Volume
    lock: trio.Lock
    readonly: bool


@dataclass(eq=False)
class Client:
    """One attach: its user and its count of live Files (Rule 4)."""

    uname: str
    files: int = 0


class Dossrv:
    """The FileServer; ``opener(path)`` gives the Disk of a partition file."""

    mayblock: ClassVar[bool] = True

    def __init__(self, opener: Opener, default: str = "") -> None:
        self.opener = opener
        self.default = default
        self.volumes: dict[str, Served] = {}
        self.opening = trio.Lock()

    async def attach(self, uname: str, aname: str) -> File:
        path = aname or self.default
        if not path:
            raise Error(Ebadattach)
        async with self.opening:
            s = self.volumes.get(path)
            if s is None:
                if len(self.volumes) >= MAXVOLS:
                    raise Error(Etoomany)
                disk = await self.opener(path)
                try:
                    vol = await Volume.open(disk)
                except Error:
                    close = getattr(disk, "close", None)
                    if close is not None:
                        await close()
                    raise
                s = self.volumes[path] = Served(vol, trio.Lock(),
                                                bool(getattr(disk, "readonly", False)))  # fmt: skip
        return DosFile(s, s.vol.root, Client(uname))


class DosFile(NotImplementedFile):
    """One fid's view of one Node."""

    mayblock: ClassVar[bool] = True

    def __init__(self, s: Served, node: Node, client: Client) -> None:
        if client.files >= MAXFILES:
            raise Error(Etoomany)
        client.files += 1
        self.s, self.node, self.client = s, node, client
        self.omode = -1
        self.clunked = False

    @property
    def qid(self) -> Qid:
        n = self.node
        return Qid(QTDIR if n.isdir else QTFILE, n.vers & 0xFFFFFFFF, n.qpath)

    async def clone(self) -> File:
        return DosFile(self.s, self.node, self.client)

    async def walk1(self, name: str) -> File:
        n = self.node
        if not n.isdir:
            raise Error(Enotdir9p)
        if name == "..":
            return DosFile(self.s, n.parent or n, self.client)
        async with self.s.lock:
            child = None if n.removed or name == "." else await self.s.vol.child(n, name)
        if child is None:
            raise Error(Enotfound)
        return DosFile(self.s, child, self.client)

    def writable(self) -> None:
        if self.s.readonly:
            raise Error(Ewprotect)
        if self.node.dent.attr & de.ATTR_RO:
            raise Error(Eperm)

    async def open(self, mode: int) -> None:
        n = self.node
        if n.removed:
            raise Error(Enonexist)
        if n.isdir and (mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE)):
            raise Error(Eisdir9p)
        if mode & 3 in (1, 2) or mode & (OTRUNC | ORCLOSE):
            self.writable()
        if mode & ORCLOSE and n.parent is None:
            raise Error(Eperm)
        if mode & OTRUNC and n.dent.size:
            async with self.s.lock:
                await self.s.vol.truncate(n, 0, int(time.time()))
        self.omode = mode

    async def create(self, name: str, perm: int, mode: int) -> File:
        d = self.node
        if d.removed:
            raise Error(Enonexist)
        if self.s.readonly:
            raise Error(Ewprotect)
        if perm & DMDIR and (mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE)):
            raise Error(Eisdir9p)
        now = int(time.time())
        v = self.s.vol
        async with self.s.lock:
            if perm & DMDIR:
                await dirs.mkdir(v, d, name, now)
            else:
                attr = de.ATTR_ARCHIVE | (0 if perm & 0o222 else de.ATTR_RO)
                await dirs.addent(v, d, name, attr, 0, 0, now)
            node = await v.child(d, name)
        assert node is not None
        f = DosFile(self.s, node, self.client)
        f.omode = mode
        return f

    async def read(self, offset: int, count: int) -> bytes:
        if self.node.removed:
            raise Error(Enonexist)
        async with self.s.lock:
            return await self.s.vol.readfile(self.node, offset, count)

    async def readdir(self) -> list[Dir]:
        v, n = self.s.vol, self.node
        async with self.s.lock:
            await v.loaddir(n)
            kids = [await v.child(n, e.name) for e in list(n.ents.values())]
        return [self.dirof(k) for k in kids if k is not None]

    async def write(self, offset: int, data: bytes) -> int:
        if self.node.removed:
            raise Error(Enonexist)
        async with self.s.lock:
            await self.s.vol.writefile(self.node, offset, data, int(time.time()))
        return len(data)

    def dirof(self, n: Node) -> Dir:
        d = n.dent
        mode = DMDIR | 0o777 if n.isdir else 0o444 if d.attr & de.ATTR_RO else 0o666
        u = self.client.uname
        q = Qid(QTDIR if n.isdir else QTFILE, n.vers & 0xFFFFFFFF, n.qpath)
        name = "/" if n.parent is None else d.name
        return Dir(0, 0, q, mode, d.atime or d.mtime, d.mtime, 0 if n.isdir else d.size,
                   name, u, u, u)  # fmt: skip

    async def stat(self) -> Dir:
        return self.dirof(self.node)

    async def wstat(self, d: Dir) -> None:
        n = self.node
        cur = self.dirof(n)
        touched = set(d.touched())
        if not touched:
            return  # Rule 3: a sync
        if self.s.readonly:
            raise Error(Ewprotect)
        for f in ("type", "dev", "uid", "gid", "muid"):
            if f in touched and getattr(d, f) != getattr(cur, f):
                raise Error(Eperm)
        if "qid" in touched and (d.qid.type, d.qid.path) != (cur.qid.type, cur.qid.path):
            raise Error(Eperm)
        rename = "name" in touched and d.name != cur.name
        if rename:
            if n.parent is None or n.removed:
                raise Error(Eperm)
            de.valid(d.name)
            other = n.parent.ents.get(de.key(d.name))
            if other is not None and other is not n.dent:
                raise Error(Eexist)
        if "mode" in touched and (d.mode ^ cur.mode) & DMDIR:
            raise Error(Eperm)
        resize = "length" in touched and d.length != cur.length
        if resize and (n.isdir or n.dent.attr & de.ATTR_RO):
            raise Error(Eperm)
        v = self.s.vol
        async with self.s.lock:
            if resize:
                await v.truncate(n, d.length, int(time.time()))
            if "mode" in touched and not n.isdir:  # Rule 2: files only
                ro = 0 if d.mode & 0o222 else de.ATTR_RO
                n.dent.attr = n.dent.attr & ~de.ATTR_RO | ro
            if "mtime" in touched:
                n.dent.mtime = d.mtime
            if "atime" in touched:
                n.dent.atime = d.atime
            if touched & {"mode", "mtime"}:
                await v.putdent(n)
            if rename:
                await dirs.rename(v, n, d.name)

    async def remove(self) -> None:
        n = self.node
        if n.parent is None:
            raise Error(Eperm)
        if n.removed:
            raise Error(Enonexist)
        if self.s.readonly:
            raise Error(Ewprotect)
        async with self.s.lock:
            if n.isdir:
                await self.s.vol.loaddir(n)
                if n.ents:
                    raise Error(Enotempty)
            await dirs.unlink(self.s.vol, n)

    async def clunk(self) -> None:
        if self.clunked:
            return
        self.clunked = True
        self.client.files -= 1
        if self.omode >= 0 and self.omode & ORCLOSE and not self.node.removed:
            try:
                await self.remove()
            except Error:
                pass  # clunk succeeds even if the ORCLOSE removal cannot be done

