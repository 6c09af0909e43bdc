"""ramfs: an in-memory file tree served with lp49fs.lib9p (Plan 9's ramfs(4)).

Layers: ``Node`` is one file of the tree (the inode: qid path and version, Dir fields,
data, children); ``RamFile`` is one fid's view of a Node (the open mode, a held DMEXCL
lock); ``Ramfs`` is the FileServer that attaches to the root.  Nothing here waits, so every
class says ``mayblock = False`` and lib9p answers its requests inline.

Rules:

1. ``qid.path`` is unique for the life of the server (a recreated name gets a new path);
   ``qid.vers`` is bumped by every change of a file's contents (write, truncation, wstat
   of length) and of a directory's entries (create, remove, rename of a child).
2. Permissions follow Plan 9 (lib9p ``hasperm``): owner, group (a user is the only member
   of the group of its own name) or other bits; they are checked at walk (x on the
   directory), open, create (w on the directory), remove and rename (w on the parent).
3. DMEXCL: at most one fid may have the file open; a second open fails "device or object
   already in use".  DMAPPEND: writes go to the end, the offset is ignored.  ORCLOSE: the
   file is removed when the fid that opened it is clunked.  OTRUNC empties the file.
4. wstat is all-or-nothing: every requested change is checked before any is made.
   Don't-touch fields (all ones, empty strings) are left alone; muid, qid and the DMDIR
   bit cannot change; a directory's length can only be "changed" to 0.  The owner may
   change the group; only the server's owner (the host owner who started it, Plan 9's
   rule for the hostowner) may change a file's owner, and its group too.
5. A removed file stays usable through fids that have it open (Unix semantics), but can no
   longer be walked to or opened; its blocks go back to the store when the last fid lets go.
6. Bounded memory (``ramdata``): contents are sparse 8 KiB blocks, so a write at 3 GiB
   stores one block; a file longer than ``maxfile`` is ``file too large`` and blocks beyond
   the server's ``maxsize`` are ``file system full``, refused before anything changes.
7. Every change is an op (``ramops``) made by ``Ramfs.commit``: with a journal (``ramlog``,
   a retained region) the op is logged before it is applied and answered, so a ramfs that
   is killed and started again on the same region comes back with every acknowledged change.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass, field
from typing import ClassVar

from lp49fs.errors import (
    Eexist,
    Efbig,
    Einuse,
    Eisdir9p,
    Enonexist,
    Enotdir9p,
    Enotempty,
    Enotfound,
    Eperm,
    Error,
)
from lp49fs.lib9p import LINK_MSIZE, File, NotImplementedFile
from lp49fs.ninep import (
    DMAPPEND,
    DMDIR,
    DMEXCL,
    OEXEC,
    ORCLOSE,
    ORDWR,
    OREAD,
    OTRUNC,
    OWRITE,
    Dir,
    Qid,
)
from lp49fs.servers import ramops
from lp49fs.servers.ramdata import MAXFILE, MAXSTORE, Blocks, Store
from lp49fs.servers.ramlog import Journal

# Largest msize ramfs agrees to on a server link (an LP49 pipe): what #M asks for.
MSIZE = LINK_MSIZE

AREAD, AWRITE, AEXEC = 4, 2, 1  # permission bits as in lib9p's hasperm
OPENPERM = {OREAD: AREAD, OWRITE: AWRITE, ORDWR: AREAD | AWRITE, OEXEC: AEXEC}


@dataclass(eq=False)
class Node:
    """One file of the tree (Rules 1, 5)."""

    path: int  # qid.path
    name: str  # last path element ("/" for the root)
    mode: int  # DM bits and permissions
    uid: str  # owner
    gid: str  # group
    parent: Node | None = None  # None only for the root
    vers: int = 0  # qid.vers
    muid: str = ""  # last modifier
    atime: int = field(default_factory=lambda: int(time.time()))
    mtime: int = field(default_factory=lambda: int(time.time()))
    data: Blocks | None = None  # contents of a plain file (ramdata: sparse, accounted)
    children: dict[str, Node] = field(default_factory=dict)  # entries of a directory
    excl: bool = False  # a fid holds this DMEXCL file open
    removed: bool = False  # no longer in the tree

    @property
    def isdir(self) -> bool:
        return bool(self.mode & DMDIR)

    @property
    def qid(self) -> Qid:
        return Qid((self.mode >> 24) & 0xFF, self.vers, self.path)

    def dir(self) -> Dir:
        length = 0 if self.isdir or self.data is None else len(self.data)
        return Dir(0, 0, self.qid, self.mode, self.atime, self.mtime, length, self.name,
                   self.uid, self.gid, self.muid or self.uid)

    def changed(self, uid: str, t: int) -> None:
        self.vers = (self.vers + 1) & 0xFFFFFFFF
        self.mtime = t
        self.muid = uid

    def hasperm(self, uid: str, need: int) -> bool:
        if uid == self.uid:
            bits = self.mode >> 6
        elif uid == self.gid:
            bits = self.mode >> 3
        else:
            bits = self.mode
        return bits & need == need


class Ramfs:
    """The FileServer: one tree, shared by every attach."""

    mayblock: ClassVar[bool] = False

    def __init__(
        self, owner: str | None = None, *, maxsize: int = MAXSTORE, maxfile: int = MAXFILE
    ) -> None:
        self.owner = owner or getpass.getuser()
        self.store = Store(maxsize, maxfile)  # Rule 6
        self.lastpath = 0
        self.root = Node(self.newpath(), "/", DMDIR | 0o777, self.owner, self.owner)
        self.nodes: dict[int, Node] = {self.root.path: self.root}  # qid.path -> node in the tree
        self.journal: Journal | None = None  # Rule 7

    def newpath(self) -> int:
        self.lastpath += 1
        return self.lastpath

    async def commit(self, op: ramops.Op, node: Node | None = None) -> Node:
        """Rule 7: log ``op`` (if journalled and its file is in the tree: a removed file that
        is still open changes unlogged, Rule 5), then apply it (to ``node`` if given)."""
        target = op.parent if isinstance(op, ramops.Create) else op.path
        if self.journal is not None and target in self.nodes:
            await self.journal.append(self, op)
        return ramops.apply(self, op, node)

    async def retain(self, journal: Journal) -> bool:
        """Keep the tree in ``journal`` from now on; True if it held a tree (now loaded)."""
        loaded = await journal.load(self)
        self.journal = journal
        return loaded

    async def attach(self, uname: str, aname: str) -> File:
        return RamFile(self, self.root, uname)


class RamFile(NotImplementedFile):
    """One fid's view of a Node (Rules 2, 3, 4)."""

    mayblock: ClassVar[bool] = False

    def __init__(self, fs: Ramfs, node: Node, uid: str) -> None:
        self.fs = fs
        self.node = node
        self.uid = uid  # the attaching user
        self.omode = -1  # open mode, -1 until opened
        self.holds_excl = False

    @property
    def qid(self) -> Qid:
        return self.node.qid

    async def clone(self) -> File:
        return RamFile(self.fs, self.node, self.uid)

    async def walk1(self, name: str) -> RamFile:
        n = self.node
        if not n.isdir:
            raise Error(Enotdir9p)
        if not n.hasperm(self.uid, AEXEC):
            raise Error(Eperm)
        if name == "..":
            return RamFile(self.fs, n.parent or n, self.uid)
        child = n.children.get(name)
        if child is None:
            raise Error(Enotfound)
        return RamFile(self.fs, child, self.uid)

    async def open(self, mode: int) -> None:
        n = self.node
        if n.removed:
            raise Error(Enonexist)
        need = OPENPERM[mode & 3] | (AWRITE if mode & OTRUNC else 0)
        if not n.hasperm(self.uid, need):
            raise Error(Eperm)
        if mode & ORCLOSE:
            self.check_removable()
        if n.isdir and (mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE)):
            raise Error(Eisdir9p)
        self.lock(mode)
        if mode & OTRUNC and n.data:
            await self.fs.commit(ramops.Trunc(n.path, 0, self.uid, now()), n)

    def lock(self, mode: int) -> None:
        """Rule 3: take the DMEXCL lock, then record the open mode."""
        if self.node.mode & DMEXCL:
            if self.node.excl:
                raise Error(Einuse)
            self.node.excl = self.holds_excl = True
        self.omode = mode

    async def create(self, name: str, perm: int, mode: int) -> File:
        d = self.node
        if d.removed:
            raise Error(Enonexist)
        if not d.hasperm(self.uid, AWRITE):
            raise Error(Eperm)
        if name in d.children:
            raise Error(Eexist)
        if perm & DMDIR:
            if mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE):
                raise Error(Eisdir9p)
            perm &= ~0o777 | (d.mode & 0o777)
        else:
            perm &= ~0o666 | (d.mode & 0o666)
        op = ramops.Create(d.path, self.fs.lastpath + 1, name, perm, self.uid, d.gid, now())
        node = await self.fs.commit(op)
        f = RamFile(self.fs, node, self.uid)
        f.lock(mode)
        return f

    async def read(self, offset: int, count: int) -> bytes:
        self.node.atime = int(time.time())
        assert self.node.data is not None
        return self.node.data.read(offset, count)

    async def readdir(self) -> list[Dir]:
        self.node.atime = int(time.time())
        return [c.dir() for c in self.node.children.values()]

    async def write(self, offset: int, data: bytes) -> int:
        buf = self.node.data
        assert buf is not None
        if self.node.mode & DMAPPEND:
            offset = len(buf)
        buf.check(offset, data)  # Rule 6: sparse, and refused past the limits
        op = ramops.Write(self.node.path, offset, self.uid, now(), bytes(data))
        await self.fs.commit(op, self.node)
        return len(data)

    async def stat(self) -> Dir:
        return self.node.dir()

    async def wstat(self, d: Dir) -> None:
        apply = self.check_wstat(d)
        n = self.node
        if "length" in apply and n.data is not None and d.length != len(n.data):
            await self.fs.commit(ramops.Trunc(n.path, d.length, self.uid, now()), n)
        if apply & {"name", "mode", "mtime", "atime", "gid", "uid"}:
            new = {f: getattr(d if f in apply else n, f)
                   for f in ("name", "mode", "mtime", "atime", "gid")}  # fmt: skip
            owner = d.uid if "uid" in apply else n.uid
            await self.fs.commit(ramops.Meta(n.path, self.uid, now(), **new, owner=owner), n)

    def check_wstat(self, d: Dir) -> set[str]:
        """Rule 4: the fields to change, or Error if any change is not allowed."""
        n = self.node
        host = self.uid == self.fs.owner  # may change owners (Rule 4)
        owner = self.uid == n.uid
        touched = set(d.touched())
        if "uid" in touched and d.uid != n.uid and not host:
            raise Error(Eperm)
        for f in ("type", "dev", "muid"):
            if f in touched and getattr(d, f) != getattr(n.dir(), f):
                raise Error(Eperm)
        if "qid" in touched and (d.qid.type, d.qid.path) != (n.qid.type, n.qid.path):
            raise Error(Eperm)  # a qid is the server's to choose; only vers may be stale
        if "name" in touched and d.name != n.name:
            if n.parent is None or "/" in d.name or d.name in (".", ".."):
                raise Error(Eperm)
            if not n.parent.hasperm(self.uid, AWRITE):
                raise Error(Eperm)
            if d.name in n.parent.children:
                raise Error(Eexist)
        if "length" in touched:
            if n.isdir and d.length != 0:
                raise Error(Eperm)
            if not n.hasperm(self.uid, AWRITE):
                raise Error(Eperm)
            if d.length > self.fs.store.maxfile:
                raise Error(Efbig)
        if "mode" in touched and (not owner or (d.mode ^ n.mode) & DMDIR):
            raise Error(Eperm)
        if {"mtime", "atime"} & touched and not owner:
            raise Error(Eperm)
        if "gid" in touched and d.gid != n.gid and not (owner or host):
            raise Error(Eperm)
        return touched

    async def remove(self) -> None:
        self.check_removable()
        await self.fs.commit(ramops.Remove(self.node.path, self.uid, now()), self.node)

    def check_removable(self) -> None:
        n = self.node
        if n.parent is None or n.removed:
            raise Error(Eperm if n.parent is None else Enonexist)
        if not n.parent.hasperm(self.uid, AWRITE):
            raise Error(Eperm)
        if n.children:
            raise Error(Enotempty)

    async def clunk(self) -> None:
        if self.holds_excl:
            self.node.excl = self.holds_excl = False
        if self.omode >= 0 and self.omode & ORCLOSE:
            self.omode = -1
            try:
                await self.remove()
            except Error:
                pass  # clunk succeeds even if the ORCLOSE removal cannot be done


def now() -> int:
    return int(time.time())
