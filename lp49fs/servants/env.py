"""#e env: the environment variables of the calling process's Egrp as files (Plan 9 devenv.c).

Theory of operation
-------------------
``#e`` is one directory whose files are the variables of ``up().egrp`` (the caller's
environment group, shared by fork, copied by RFENVG, emptied by RFCENVG).  ``#ec`` is the
node's configuration environment instead: readable by all, writable only by the host owner.
Outside a system call (no ``up``) ``#e`` also shows the configuration environment.

Rules
  1. The values live in ``Egrp.env`` (name -> bytes); this servant only adds qids.  Each
     Egrp gets a side table (``EnvTab``, weakly keyed by the Egrp) that gives every name a
     qid.path on first sight, unique within the group and never reused, and a qid.vers
     bumped on every write; so a removed and re-created variable is a new file.
  2. create makes an empty variable (existing name -> ``file already exists``) and leaves the
     Chan open on it; remove deletes it; ORCLOSE removes on close.  ``#e`` is flat: a create
     with DMDIR is ``permission denied`` (Plan 9 devenv ignores the perm and makes a plain
     file, which answers a directory create with a file qid).
  3. read returns the bytes at the offset (0 bytes at or past the end); write stores at the
     offset and extends the value, but writing *beyond* the end (offset > length) is an error
     (Plan 9 env(3)), as is a value longer than ``MAXENVSIZE``.  OTRUNC empties the value.
  4. A Chan on a variable removed meanwhile gets ``file does not exist``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from lp49fs.core.chan import COPEN, CRCLOSE, Chan
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.core.proc import Egrp
from lp49fs.errors import (
    Ebadarg,
    Ebadchar,
    Eexist,
    Eisdir,
    Enonexist,
    Eperm,
    Error,
    Etoobig,
)
from lp49fs.ninep import DMDIR, ORCLOSE, OREAD, OTRUNC, QTDIR, QTFILE, Dir, Qid

if TYPE_CHECKING:
    from lp49fs.core.core import Core

MAXENVSIZE = 16300  # longest value (Plan 9 Maxenvsize)


class Q(IntEnum):
    DIR = 0  # variables are 1, 2, ... per Egrp (Rule 1)


DIRTAB = (Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o775),)


@dataclass
class EnvTab:
    """Qids for the variables of one Egrp (Rule 1)."""

    paths: dict[str, int] = field(default_factory=dict)  # name -> qid.path
    vers: dict[str, int] = field(default_factory=dict)  # name -> qid.vers
    next: int = 1  # next qid.path to give out

    def qid(self, name: str) -> Qid:
        if name not in self.paths:
            self.paths[name] = self.next
            self.next += 1
        return Qid(QTFILE, self.vers.get(name, 0), self.paths[name])

    def forget(self, name: str) -> None:
        self.paths.pop(name, None)
        self.vers.pop(name, None)

    def bump(self, name: str) -> None:
        self.vers[name] = self.vers.get(name, 0) + 1


class Env(Servant):
    """``#e``: one file per environment variable."""

    dc = "e"
    name = "env"
    dirtab = DIRTAB

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.confegrp = Egrp()  # #ec: the node's configuration environment
        self.tabs: weakref.WeakKeyDictionary[Egrp, EnvTab] = weakref.WeakKeyDictionary()

    # ---- which environment --------------------------------------------------------------

    def egrp(self, c: Chan) -> Egrp:
        """The Egrp ``c`` shows: #ec's, else the caller's (Rule: module docstring)."""
        if c.aux == "c":
            return self.confegrp
        p = self.up()
        return p.egrp if p is not None else self.confegrp

    def tab(self, eg: Egrp) -> EnvTab:
        t = self.tabs.get(eg)
        if t is None:
            t = self.tabs[eg] = EnvTab()
        return t

    def lookup(self, c: Chan) -> tuple[Egrp, str]:
        """The Egrp and variable name of file Chan ``c``; gone -> ``Error(Enonexist)``."""
        eg = self.egrp(c)
        t = self.tab(eg)
        for name, path in t.paths.items():
            if path == c.qid.path and name in eg.env:
                return eg, name
        raise Error(Enonexist)

    def writable(self, c: Chan) -> bool:
        return c.aux != "c" or self.user() == self.core.eve

    # ---- the method table --------------------------------------------------------------------

    async def attach(self, spec: str) -> Chan:
        if spec not in ("", "c"):
            raise Error(Ebadarg)
        c = self.devattach(spec)
        c.aux = spec or None
        return c

    def gen(self, c: Chan, i: int) -> Dir | None:
        if c.qid.path != Q.DIR:
            return None
        eg = self.egrp(c)
        names = list(eg.env)
        if i >= len(names):
            return None
        name = names[i]
        qid = self.tab(eg).qid(name)
        return self.devdir(c, qid, name, len(eg.env[name]), self.core.eve, 0o666)

    async def stat(self, c: Chan) -> Dir:
        if c.isdir():
            eg = self.egrp(c)
            qid = Qid(QTDIR, eg.vers, Q.DIR)
            return self.devdir(c, qid, c.path.last(), 0, self.core.eve, DMDIR | 0o775)
        eg, name = self.lookup(c)
        return self.devdir(c, self.tab(eg).qid(name), name, len(eg.env[name]), self.core.eve,
                           0o666)

    async def open(self, c: Chan, omode: int) -> Chan:
        mode = openmode(omode)
        if c.isdir():
            if omode != OREAD:
                raise Error(Eperm)
        else:
            if mode != OREAD and not self.writable(c):
                raise Error(Eperm)
            eg, name = self.lookup(c)
            if omode & OTRUNC:
                self._set(eg, name, b"")
        c.mode = mode
        c.flag |= COPEN | (CRCLOSE if omode & ORCLOSE else 0)
        c.offset = 0
        return c

    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan:
        if not c.isdir():
            raise Error(Eperm)
        if not self.writable(c) or perm & DMDIR:
            raise Error(Eperm)
        if not name or "/" in name or name in (".", ".."):
            raise Error(Ebadchar)
        mode = openmode(omode)
        eg = self.egrp(c)
        if name in eg.env:
            raise Error(Eexist)
        t = self.tab(eg)
        t.forget(name)  # Rule 1: a new variable is a new file
        self._set(eg, name, b"")
        c.qid = t.qid(name)
        c.mode = mode
        c.flag |= COPEN | (CRCLOSE if omode & ORCLOSE else 0)
        c.offset = 0
        return c

    async def remove(self, c: Chan) -> None:
        if c.isdir() or not self.writable(c):
            raise Error(Eperm)
        eg, name = self.lookup(c)
        del eg.env[name]
        eg.vers += 1
        self.tab(eg).forget(name)

    async def close(self, c: Chan) -> None:
        await self.removeonclose(c)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        eg, name = self.lookup(c)
        return eg.env[name][offset : offset + max(count, 0)]

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        eg, name = self.lookup(c)
        old = eg.env[name]
        if offset > len(old):
            raise Error(Ebadarg)  # Rule 3: no writing beyond the end
        if offset + len(data) > MAXENVSIZE:
            raise Error(Etoobig)
        if data:
            self._set(eg, name, old[:offset] + data + old[offset + len(data) :])
        return len(data)

    def _set(self, eg: Egrp, name: str, value: bytes) -> None:
        eg.env[name] = value
        eg.vers += 1
        self.tab(eg).bump(name)
