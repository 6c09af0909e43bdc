"""The servant base: Plan 9's ``Dev`` method table with ``dev.c``'s defaults and helpers.

A servant is an in-core file server reached as ``#x`` (``x`` = ``dc``).  The core calls it only
through the methods of ``Servant``; each returns or mutates a ``Chan`` (lp49fs.core.chan).

Contract of the methods (all I/O methods are ``async``: a ``#M`` walk or stat is a 9P round
trip, and a pipe read blocks):

* ``attach(spec)`` makes the root Chan of an instance (``#x`` + spec, e.g. ``#SsdC0``).
* ``walk(c, names)`` walks from ``c`` (never open) and returns ``Walkqid(clone, qids)``: all
  names walked -> ``clone`` is a new Chan at the end (``names == []`` clones ``c``); fewer ->
  ``clone`` is None and ``qids`` holds the steps that worked; a failure on the first name
  raises (``Error(Enonexist)``, ``Error(Enotdir)`` ...).  ``c`` itself never changes.
* ``open(c, omode)`` checks permission and mode, sets ``c.mode``, ``COPEN`` and offset 0, and
  returns the Chan to use, normally ``c``.  It consumes the caller's reference on ``c``: a
  servant that returns another Chan (``#s`` the posted Chan, ``#d`` the fd's Chan) returns a
  new reference on it and ``cclose``s ``c``.
* ``create(c, name, omode, perm)``: ``c`` is a directory; on success ``c`` *becomes* the new
  file, opened with ``omode`` (9P Tcreate).  ``close(c)`` is called once, on the last
  reference of an open Chan (or of every Chan if the class sets ``closeall``).
* ``remove(c)`` removes the file and, like 9P Tremove, is the end of ``c``: the servant's
  ``close`` is not called afterwards, whether remove succeeded or not.  ``close`` of a Chan
  with ``CRCLOSE`` (opened ORCLOSE) should remove the file, as Plan 9 servants do
  (``removeonclose(c)`` does it).
* ``read(c, count, offset) -> bytes`` / ``write(c, data, offset) -> int``: directories read as
  whole stat entries (``devdirread``).  ``wstat(c, d)`` changes the stat.
* ``reset()``, ``init()`` run in CONFIG order at boot, ``shutdown()`` at halt.

Defaults (dev.c).  A servant is a tree and what its files read and write: ``attach``,
``walk``, ``stat`` and ``open`` default to the table-driven helpers ``devattach``,
``devwalk``, ``devstat`` and ``devopen`` below, ``close`` does nothing, and ``create``,
``remove`` and ``wstat`` refuse with ``Error(Eperm)``.  Only ``read`` and ``write`` must be
written by every servant; one overrides another method only to add to it (``#|``'s attach
makes a new pipe, ``#c``'s open counts consctl opens) or to replace the tree (``#M``).

Directory tables use **one** generator rule: ``gen(c, i)`` returns the i-th child of the
directory ``c`` as a ``Dir`` (None past the end), and ``parent(c)`` returns the qid of ``c``'s
parent (the root's parent is itself).  The default ``gen``/``parent`` serve a one-level
directory described by the class's ``dirtab`` (entry 0 is ``"."``, the root); servants with
deeper trees override both.  ``devwalk``, ``devstat``, ``devdirread`` and ``devopen`` are
built on that rule only.

The calling process.  Core functions take ``proc`` explicitly; servants do not: the sysfile
entry points set the task-local ``lp49fs.core.proc.up`` (Plan 9's ``up``) for the duration of
a call, and a servant that needs the caller (``#c/pid``, ``#c/user``, permission checks) reads
``self.up()``.  Outside a system call (boot, tests calling a servant directly) it is None and
the caller counts as the host owner ``core.eve``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lp49fs.core.chan import COPEN, CRCLOSE, Chan, Path, Walkqid
from lp49fs.core.proc import Proc, up
from lp49fs.errors import (
    Ebadarg,
    Eisdir,
    Enonexist,
    Enotdir,
    Eperm,
    Error,
)
from lp49fs.ninep import (
    DMDIR,
    OCEXEC,
    OEXCL,
    OEXEC,
    ORCLOSE,
    ORDWR,
    OREAD,
    OTRUNC,
    OWRITE,
    QTDIR,
    Dir,
    Qid,
    encode_dir,
)

if TYPE_CHECKING:
    from lp49fs.core.core import Core

_OMODE_BITS = 3 | OTRUNC | OCEXEC | ORCLOSE | OEXCL


@dataclass(frozen=True, slots=True)
class Dirtab:
    """One entry of a static directory table (Plan 9 ``Dirtab``)."""

    name: str  # file name; "." for the directory itself
    qid: Qid  # its qid
    length: int  # size in bytes (0 for dirs and devices)
    perm: int  # permission bits, DMDIR for directories


_indexes: dict[int, tuple[Sequence[Dirtab], int, dict[str, int], dict[int, int]]] = {}


def _index(tab: Sequence[Dirtab]) -> tuple[dict[str, int], dict[int, int]]:
    """gen indexes of ``tab[1:]`` by name and by qid.path (first wins), cached per table."""
    hit = _indexes.get(id(tab))
    if hit is None or hit[0] is not tab or hit[1] != len(tab):
        names: dict[str, int] = {}
        paths: dict[int, int] = {}
        for i, t in enumerate(tab[1:]):
            names.setdefault(t.name, i)
            paths.setdefault(t.qid.path, i)
        hit = _indexes[id(tab)] = (tab, len(tab), names, paths)
    return hit[2], hit[3]


def openmode(omode: int) -> int:
    """The i/o mode of ``omode`` (OEXEC reads); bad bits -> ``Error(Ebadarg)``."""
    if omode & ~_OMODE_BITS:
        raise Error(Ebadarg)
    o = omode & 3
    return OREAD if o == OEXEC else o


_ACCESS = {OREAD: 4, OWRITE: 2, ORDWR: 6, OEXEC: 1}


def permits(user: str, d: Dir, omode: int, eve: str) -> bool:
    """Whether ``user`` may open a file with stat ``d`` in ``omode`` (Plan 9 devpermcheck):
    the file's owner gets the owner bits, the host owner ``eve`` the group bits, everybody
    else the other bits (one class only, as in dev.c).  OTRUNC also needs write."""
    need = _ACCESS[omode & 3] | (2 if omode & OTRUNC else 0)
    perm = d.mode & 0o777
    if user == d.uid:
        have = perm >> 6
    elif user == eve:
        have = perm >> 3
    else:
        have = perm
    return (have & 7 & need) == need


class Servant(ABC):
    """Base of every servant; see the module docstring for the contract."""

    dc: ClassVar[str] = "?"  # the letter after '#'
    name: ClassVar[str] = "?"  # Plan 9 device name ("cons", "root" ...)
    closeall: ClassVar[bool] = False  # close() also for Chans never opened
    dirtab: ClassVar[Sequence[Dirtab]] = ()  # one-level table for the default gen

    def __init__(self, core: Core) -> None:
        self.core = core

    # ---- life cycle -----------------------------------------------------------------------

    def reset(self) -> None:  # noqa: B027 (optional hook)
        """Once at boot, before any init (CONFIG order)."""

    def init(self) -> None:  # noqa: B027 (optional hook)
        """Once at boot, after every reset (CONFIG order)."""

    def shutdown(self) -> None:  # noqa: B027 (optional hook)
        """Once at halt."""

    # ---- the method table --------------------------------------------------------------------

    async def attach(self, spec: str) -> Chan:
        return self.devattach(spec)

    async def walk(self, c: Chan, names: Sequence[str]) -> Walkqid:
        return self.devwalk(c, names)

    async def stat(self, c: Chan) -> Dir:
        return self.devstat(c)

    async def open(self, c: Chan, omode: int) -> Chan:
        return self.devopen(c, omode)

    async def walkopen(self, c: Chan, names: Sequence[str], omode: int) -> Chan | None:
        """Walk ``names`` from ``c`` to a new Chan and open it in one step, or None (the
        default): namec then walks and opens as usual.  namec asks only when no mount can
        stop the walk; #M sends both requests at once on a 9P2000.lp49 link."""
        return None

    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan:
        raise Error(Eperm)

    async def close(self, c: Chan) -> None:
        return None

    @abstractmethod
    async def read(self, c: Chan, count: int, offset: int) -> bytes: ...

    @abstractmethod
    async def write(self, c: Chan, data: bytes, offset: int) -> int: ...

    async def remove(self, c: Chan) -> None:
        raise Error(Eperm)

    async def removeonclose(self, c: Chan) -> None:
        """The ORCLOSE part of ``close``: remove the file of an open, non-directory ``c``
        marked ``CRCLOSE``; an error is dropped (close cannot fail; the file may be gone)."""
        if c.flag & CRCLOSE and c.flag & COPEN and not c.isdir():
            try:
                await self.remove(c)
            except Error:
                pass

    async def wstat(self, c: Chan, d: Dir) -> None:
        raise Error(Eperm)

    # ---- service-bus hooks (lp49fs.core.bus); None: not on the bus ---------------------------

    def busend(self, c: Chan) -> tuple[int, int] | None:
        """(link number, end 0 or 1) of ``c`` if it is one end of a two-ended link."""
        return None

    def busfid(self, c: Chan) -> tuple[Chan, int] | None:
        """(server link Chan, 9P fid) of ``c`` if it is a proxy for a served file."""
        return None

    # ---- the calling process --------------------------------------------------------------

    def up(self) -> Proc | None:
        """The process on whose behalf the current call runs (None outside system calls)."""
        return up.get()

    def user(self) -> str:
        """The calling process's user, or the host owner outside a system call."""
        p = up.get()
        return p.user if p is not None else self.core.eve

    # ---- the one generator rule -------------------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        """The i-th child of directory ``c`` (None past the end); default: ``dirtab[1:]``."""
        if not self.dirtab or c.qid.path != self.dirtab[0].qid.path:
            return None
        tab = self.dirtab[1:]
        if i >= len(tab):
            return None
        t = tab[i]
        return self.devdir(c, t.qid, t.name, t.length, self.core.eve, t.perm)

    def parent(self, c: Chan) -> Qid:
        """The qid of ``c``'s parent directory; the root is its own parent."""
        return self.dirtab[0].qid if self.dirtab else c.qid

    # ---- table-driven helpers (dev.c) ------------------------------------------------------

    def devdir(self, c: Chan, qid: Qid, name: str, length: int, user: str, perm: int) -> Dir:
        """A Dir for a file of this servant (Plan 9 devdir); atime/mtime are node boot time."""
        if qid.type & QTDIR:
            perm |= DMDIR
        t = self.core.boottime
        return Dir(
            type=ord(self.dc[0]),
            dev=c.dev,
            qid=qid,
            mode=perm,
            atime=t,
            mtime=t,
            length=length,
            name=name,
            uid=user,
            gid=user,
            muid=user,
        )

    def newchan(self, qid: Qid, dev: int = 0, path: Path | None = None) -> Chan:
        """A fresh unopened Chan of this servant."""
        return Chan(type=self.dc, dev=dev, qid=qid, sv=self, path=path or Path(f"#{self.dc}"))

    def devattach(self, spec: str, dev: int = 0) -> Chan:
        """The root Chan: the qid of ``dirtab[0]``, else a directory with qid.path 0."""
        qid = self.dirtab[0].qid if self.dirtab else Qid(QTDIR, 0, 0)
        return self.newchan(qid, dev, Path(f"#{self.dc}{spec}"))

    def devclone(self, c: Chan) -> Chan:
        """An unopened copy of ``c`` (aux is shared, as in Plan 9 devclone)."""
        if c.flag & COPEN:
            raise AssertionError(f"clone of an open chan {c!r}")
        return Chan(type=c.type, dev=c.dev, qid=c.qid, sv=self, path=c.path, aux=c.aux)

    def devwalk(self, c: Chan, names: Sequence[str]) -> Walkqid:
        """Walk ``names`` from ``c`` with gen/parent (contract: see ``walk``)."""
        nc = self.devclone(c)
        qids: list[Qid] = []
        for j, name in enumerate(names):
            err: str | None = None
            if not nc.qid.type & QTDIR:
                err = Enotdir
            elif name == "..":
                nc.qid = self.parent(nc)
            else:
                q = self._lookupqid(nc, name)
                if q is None:
                    err = Enonexist
                else:
                    nc.qid = q
            if err is not None:
                if j == 0:
                    raise Error(err)
                return Walkqid(None, qids)
            qids.append(nc.qid)
        return Walkqid(nc, qids)

    def _lookupqid(self, c: Chan, name: str) -> Qid | None:
        """The qid of child ``name`` of ``c``; the dirtab rule reads it without making a Dir."""
        if type(self).gen is Servant.gen:
            if not self.dirtab or c.qid.path != self.dirtab[0].qid.path:
                return None
            i = _index(self.dirtab)[0].get(name)
            return None if i is None else self.dirtab[1 + i].qid
        d = self._lookup(c, name)
        return None if d is None else d.qid

    def _lookup(self, c: Chan, name: str) -> Dir | None:
        if type(self).gen is Servant.gen:  # the dirtab rule: index by name, gen only the hit
            if not self.dirtab or c.qid.path != self.dirtab[0].qid.path:
                return None
            i = _index(self.dirtab)[0].get(name)
            return None if i is None else self.gen(c, i)
        i = 0
        while (d := self.gen(c, i)) is not None:
            if d.name == name:
                return d
            i += 1
        return None

    def devstat(self, c: Chan) -> Dir:
        """``c``'s Dir: its entry in its parent's listing, else a synthesized directory.

        ``c`` may be open (fstat): the listing is generated from a probe Chan naming the
        parent, which is never a reference and is dropped afterwards, so no clone of ``c``
        is made and ``c`` is not touched.
        """
        if c.qid.path != self.parent(c).path or c.qid.type & QTDIR == 0:
            pc = Chan(type=c.type, dev=c.dev, qid=self.parent(c), sv=self,
                      path=c.path.dotdot(), aux=c.aux)  # fmt: skip
            if type(self).gen is Servant.gen and self.dirtab:  # indexed, as in _lookup
                j = _index(self.dirtab)[1].get(c.qid.path)
                d = self.gen(pc, j) if j is not None else None
                if d is not None:
                    return d
            i = 0
            while (d := self.gen(pc, i)) is not None:
                if d.qid.path == c.qid.path:
                    return d
                i += 1
        if c.qid.type & QTDIR:
            return self.devdir(c, c.qid, c.path.last(), 0, self.core.eve, DMDIR | 0o555)
        raise Error(Enonexist)

    def devdirread(self, c: Chan, count: int, offset: int) -> bytes:
        """Whole stat entries of ``c``'s children, from byte ``offset``, at most ``count``."""
        out = bytearray()
        pos = 0
        i = 0
        while (d := self.gen(c, i)) is not None:
            i += 1
            b = encode_dir(d)
            if pos >= offset:
                if len(out) + len(b) > count:
                    break
                out += b
            pos += len(b)
        return bytes(out)

    def devopen(self, c: Chan, omode: int) -> Chan:
        """Check mode and permission against ``devstat(c)``; mark ``c`` open."""
        mode = openmode(omode)
        if c.qid.type & QTDIR and (omode & 3 != OREAD or omode & (OTRUNC | ORCLOSE)):
            raise Error(Eisdir)
        self.devpermit(c, omode)
        c.mode = mode
        c.flag |= COPEN
        c.offset = 0
        return c

    def devpermit(self, c: Chan, omode: int) -> None:
        """Raise ``Eperm`` unless the caller may open ``c`` with ``omode`` (its devstat)."""
        if not permits(self.user(), self.devstat(c), omode, self.core.eve):
            raise Error(Eperm)

    def devcloned(self, c: Chan, omode: int, ctl: Qid) -> Chan:
        """The end of a clone file's open (``devpermit`` first): ``c`` becomes ``ctl``, the
        new conversation's ctl file, open (as Plan 9 devip's ipopen rewrites c->qid)."""
        c.qid = ctl
        c.mode, c.flag, c.offset = openmode(omode), c.flag | COPEN, 0
        return c
