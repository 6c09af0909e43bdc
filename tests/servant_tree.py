"""Test helpers for the core: a small writable servant, a booted node, and a Tree adapter.

* ``Ram``: an in-memory servant (one tree per instance, letter chosen per class) that
  supports create/remove/wstat, so name-space tests can watch where creates land.
* ``boot(extra)``: a Core with #R, #d and the given servants, and one process whose ``/`` is
  ``#R``; used by the namespace, sysfile and dup tests.
* ``SysTree``: the adapter of the shared tree suite (``tests/conformance.py``): each method
  is a sequence of system calls of one test process on paths under a prefix (``#R``, ``#d``,
  or any bound directory), raising ``lp49fs.errors.Error`` as the calls do.
* ``await err(call)``: the Plan 9 error string the call raised (fails if it raised none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lp49fs.core import sysfile
from lp49fs.core.chan import COPEN, Chan, cclose
from lp49fs.core.core import Core
from lp49fs.core.dev import Servant
from lp49fs.core.proc import Proc, newproc
from lp49fs.errors import Eexist, Eisdir, Enonexist, Enotdir, Eperm, Error
from lp49fs.ninep import DMDIR, OEXCL, OREAD, OTRUNC, OWRITE, QTDIR, QTFILE, Dir, Qid
from lp49fs.servants import make_devtab


async def err(coro: object) -> str:
    """The ename of the ``Error`` that awaiting ``coro`` raises."""
    with pytest.raises(Error) as e:
        await coro  # type: ignore[misc]
    return e.value.ename


@dataclass(eq=False)
class Node:
    """One file of a Ram tree."""

    qid: Qid
    name: str
    perm: int
    parent: Node | None = None
    children: dict[str, Node] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


class Ram(Servant):
    """A writable in-memory tree; files are looked up by qid.path."""

    dc = "x"
    name = "ram"

    def reset(self) -> None:
        self.root = Node(Qid(QTDIR, 0, 0), ".", DMDIR | 0o777)
        self.files: dict[int, Node] = {0: self.root}
        self.nextpath = 1

    def node(self, c: Chan) -> Node:
        n = self.files.get(c.qid.path)
        if n is None:
            raise Error(Enonexist)
        return n

    def gen(self, c: Chan, i: int) -> Dir | None:
        kids = list(self.node(c).children.values())
        if i >= len(kids):
            return None
        return self._dir(c, kids[i])

    def parent(self, c: Chan) -> Qid:
        n = self.node(c)
        return (n.parent or n).qid

    def _dir(self, c: Chan, n: Node) -> Dir:
        return self.devdir(c, n.qid, n.name, len(n.data), self.core.eve, n.perm)

    async def stat(self, c: Chan) -> Dir:
        n = self.node(c)
        return self._dir(c, n) if n is not self.root else self.devstat(c)

    async def open(self, c: Chan, omode: int) -> Chan:
        c = self.devopen(c, omode)
        if omode & OTRUNC:
            self.node(c).data.clear()
        return c

    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan:
        d = self.node(c)
        if not d.qid.type & QTDIR:
            raise Error(Enotdir)
        if name in d.children:
            raise Error(Eexist)
        qt = QTDIR if perm & DMDIR else QTFILE
        n = Node(Qid(qt, 0, self.nextpath), name, perm, d)
        self.nextpath += 1
        d.children[name] = n
        self.files[n.qid.path] = n
        c.qid = n.qid
        c.mode = omode & 3
        c.flag |= COPEN
        return c

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        return bytes(self.node(c).data[offset : offset + count])

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        n = self.node(c)
        n.qid = Qid(n.qid.type, n.qid.vers + 1, n.qid.path)
        buf = n.data
        if offset > len(buf):
            buf.extend(bytes(offset - len(buf)))
        buf[offset : offset + len(data)] = data
        return len(data)

    async def remove(self, c: Chan) -> None:
        n = self.node(c)
        if n is self.root or n.parent is None:
            raise Error(Eperm)
        if n.children:
            raise Error("directory not empty")
        del n.parent.children[n.name]
        del self.files[n.qid.path]

    async def wstat(self, c: Chan, d: Dir) -> None:
        n = self.node(c)
        if not d.dont_touch("name") and d.name != n.name:
            if n.parent is None or d.name in n.parent.children:
                raise Error(Eexist)
            del n.parent.children[n.name]
            n.name = d.name
            n.parent.children[n.name] = n
        if not d.dont_touch("length"):
            if n.qid.type & QTDIR:
                raise Error(Eisdir)
            del n.data[d.length :]
            n.data.extend(bytes(d.length - len(n.data)))
        if not d.dont_touch("mode"):
            n.perm = (n.perm & DMDIR) | (d.mode & 0o777)


def ram(letter: str) -> type[Ram]:
    """A Ram class answering to ``#letter``."""
    return type(f"Ram{letter}", (Ram,), {"dc": letter, "name": f"ram{letter}"})


async def boot(*extra: type[Servant], config: tuple[str, ...] = ("root", "dup")) -> Proc:
    """A node with the configured servants plus ``extra``; returns its first process."""
    core = Core("testnode")
    core.install([*make_devtab(core, config), *(cls(core) for cls in extra)])
    slash = await core.attach("R")
    p = newproc(core, slash, name="test")
    await cclose(slash)
    return p


class SysTree:
    """The conformance ``Tree`` protocol over system calls of ``proc`` under ``prefix``.

    ``create`` is the 9P Tcreate the suite means, i.e. create(2) with OEXCL (plain create(2)
    would truncate an existing file).  ``#d`` lists the caller's own fds, so a listing made
    through a fresh fd would name that fd and lose it again at close: ``await tree.hold()``
    opens the root once and later root listings go through that fd, keeping the set stable.
    """

    def __init__(self, proc: Proc, prefix: str) -> None:
        self.p = proc
        self.prefix = prefix.rstrip("/")
        self.rootfd = -1

    async def hold(self) -> int:
        """Open the root for listings (see the class docstring); returns its fd."""
        self.rootfd = await sysfile.open(self.p, self.prefix, OREAD)
        return self.rootfd

    def _path(self, path: str) -> str:
        path = path.strip("/")
        if not self.prefix:  # the tree is "/"
            return "/" + path
        return f"{self.prefix}/{path}" if path else self.prefix

    async def stat(self, path: str) -> Dir:
        return await sysfile.stat(self.p, self._path(path))

    async def listdir(self, path: str) -> list[Dir]:
        held = self.rootfd >= 0 and not path.strip("/")
        if held:
            fd = self.rootfd
            await sysfile.seek(self.p, fd, 0, 0)
        else:
            fd = await sysfile.open(self.p, self._path(path), OREAD)
        try:
            out: list[Dir] = []
            while ds := await sysfile.dirread(self.p, fd):
                out += ds
            return out
        finally:
            if not held:
                await sysfile.close(self.p, fd)

    async def read(self, path: str, offset: int = 0, count: int = 8192) -> bytes:
        fd = await sysfile.open(self.p, self._path(path), OREAD)
        try:
            return await sysfile.pread(self.p, fd, count, offset)
        finally:
            await sysfile.close(self.p, fd)

    async def write(self, path: str, data: bytes, offset: int = 0, trunc: bool = False) -> int:
        fd = await sysfile.open(self.p, self._path(path), OWRITE | (OTRUNC if trunc else 0))
        try:
            return await sysfile.pwrite(self.p, fd, data, offset)
        finally:
            await sysfile.close(self.p, fd)

    async def create(self, path: str, perm: int, mode: int = OREAD) -> Qid:
        fd = await sysfile.create(self.p, self._path(path), mode | OEXCL, perm)
        try:
            return (await sysfile.fstat(self.p, fd)).qid
        finally:
            await sysfile.close(self.p, fd)

    async def remove(self, path: str) -> None:
        await sysfile.remove(self.p, self._path(path))

    async def wstat(self, path: str, d: Dir) -> None:
        await sysfile.wstat(self.p, self._path(path), d)

    async def open_close(self, path: str, mode: int) -> None:
        fd = await sysfile.open(self.p, self._path(path), mode)
        await sysfile.close(self.p, fd)
