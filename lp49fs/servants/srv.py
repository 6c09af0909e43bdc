"""#s srv: the node's registry of posted channels (Plan 9 devsrv.c).

Theory of operation
-------------------
A server posts its end of a connection so that others can mount it:
``fd = create("/srv/name", OWRITE, 0600)`` then ``write(fd, "<n>")`` where ``n`` is the fd
number of the channel to post.  The entry then holds a reference on that channel.  Opening
``/srv/name`` does not open a file of ``#s`` at all: it returns **the posted channel itself**
(a new reference), so ``mount /srv/name /n/x`` talks to the server.

Rules
  1. The registry is per node: one ``Srv`` servant per ``Core``; every process of the node
     (and every name space) sees the same entries.  Entries list in creation order.
  2. create needs OWRITE; an existing name -> ``file already exists``.  The creating Chan is
     left open on the new, still empty, entry.
  3. The fd number is written exactly once: a second post -> ``inappropriate use of fd``.
     The fd must be open and neither ORCLOSE nor OCEXEC nor an auth file.
  4. open: an empty entry -> ``device shut down``; OTRUNC -> ``file already exists``; the
     open mode must equal the posted channel's mode unless that is ORDWR -> else
     ``permission denied``; then the entry's owner/perm are checked as for a file.
  5. remove (owner or host owner) drops the entry and its reference on the posted channel;
     an ORCLOSE create removes the entry when the creating Chan closes.
  6. ``srvname(c)`` names the entry holding ``c`` (``#s/name``), for ``/proc/N/ns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from lp49fs.core.chan import CCEXEC, COPEN, CRCLOSE, Chan, cclose, incref
from lp49fs.core.dev import Dirtab, Servant, openmode, permits
from lp49fs.errors import (
    Ebadarg,
    Ebadchar,
    Ebadusefd,
    Eexist,
    Eisdir,
    Enonexist,
    Eperm,
    Error,
    Eshutdown,
)
from lp49fs.ninep import (
    DMDIR,
    ORCLOSE,
    ORDWR,
    OTRUNC,
    OWRITE,
    QTAUTH,
    QTDIR,
    QTFILE,
    Dir,
    Qid,
)

if TYPE_CHECKING:
    from lp49fs.core.core import Core


class Q(IntEnum):
    DIR = 0  # entries are 1, 2, ... in creation order, never reused


DIRTAB = (Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o777),)


@dataclass
class SrvEntry:
    """One posted name (Plan 9 ``Srv``)."""

    name: str  # the file name under /srv
    owner: str  # the user who created it
    perm: int  # permission bits (0777 part of the create perm)
    path: int  # qid.path
    chan: Chan | None = None  # the posted channel (one reference), None until written


class Srv(Servant):
    """``#s``: posted channels, per node."""

    dc = "s"
    name = "srv"
    dirtab = DIRTAB

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.entries: dict[int, SrvEntry] = {}  # qid.path -> entry, creation order
        self.nextpath = 1

    def lookup(self, path: int) -> SrvEntry:
        sp = self.entries.get(path)
        if sp is None:
            raise Error(Enonexist)
        return sp

    def srvname(self, c: Chan) -> str | None:
        """``#s/name`` if ``c`` is posted here, else None (Rule 6)."""
        for sp in self.entries.values():
            if sp.chan is c:
                return f"#s/{sp.name}"
        return None

    def _dir(self, c: Chan, sp: SrvEntry) -> Dir:
        return self.devdir(c, Qid(QTFILE, 0, sp.path), sp.name, 0, sp.owner, sp.perm)

    # ---- the method table --------------------------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        if c.qid.path != Q.DIR or i >= len(self.entries):
            return None
        return self._dir(c, list(self.entries.values())[i])

    async def stat(self, c: Chan) -> Dir:
        if c.isdir():
            return self.devdir(c, c.qid, c.path.last(), 0, self.core.eve, DMDIR | 0o777)
        return self._dir(c, self.lookup(c.qid.path))

    async def open(self, c: Chan, omode: int) -> Chan:
        if c.isdir():
            if omode & ORCLOSE:
                raise Error(Eperm)
            return self.devopen(c, omode)
        sp = self.lookup(c.qid.path)
        if sp.chan is None:
            raise Error(Eshutdown)
        if omode & OTRUNC:
            raise Error(Eexist)
        mode = openmode(omode)
        if mode != sp.chan.mode and sp.chan.mode != ORDWR:
            raise Error(Eperm)
        if not permits(self.user(), self._dir(c, sp), omode, self.core.eve):
            raise Error(Eperm)
        nc = incref(sp.chan)
        await cclose(c)
        return nc

    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan:
        if not c.isdir():
            raise Error(Eperm)
        if openmode(omode) != OWRITE:
            raise Error(Eperm)
        if not name or "/" in name or name in (".", ".."):
            raise Error(Ebadchar)
        if any(sp.name == name for sp in self.entries.values()):
            raise Error(Eexist)
        sp = SrvEntry(name, self.user(), perm & 0o777, self.nextpath)
        self.nextpath += 1
        self.entries[sp.path] = sp
        c.qid = Qid(QTFILE, 0, sp.path)
        c.mode = OWRITE
        c.flag |= COPEN | (CRCLOSE if omode & ORCLOSE else 0)
        c.offset = 0
        return c

    async def remove(self, c: Chan) -> None:
        if c.isdir():
            raise Error(Eperm)
        sp = self.lookup(c.qid.path)
        user = self.user()
        if user != sp.owner and user != self.core.eve:
            raise Error(Eperm)
        del self.entries[sp.path]
        posted, sp.chan = sp.chan, None
        await cclose(posted)

    async def close(self, c: Chan) -> None:
        await self.removeonclose(c)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        raise Error(Eperm)  # only the creating Chan reaches a file of #s: it is OWRITE

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        sp = self.lookup(c.qid.path)
        try:
            fd = int(data.decode().strip(), 0)
        except ValueError:
            raise Error(Ebadarg) from None
        p = self.up()
        if p is None:
            raise Error(Ebadusefd)
        posted = p.fgrp.get(fd)
        if not posted.flag & COPEN:
            raise Error(Ebadusefd)
        if posted.flag & (CRCLOSE | CCEXEC):
            raise Error("posted fd has remove-on-close or close-on-exec")
        if posted.qid.type & QTAUTH:
            raise Error("cannot post auth file in srv")
        if sp.chan is not None:
            raise Error(Ebadusefd)
        sp.chan = incref(posted)
        return len(data)

    async def wstat(self, c: Chan, d: Dir) -> None:
        """Change an entry's mode (owner or host owner); everything else refuses."""
        if c.isdir():
            raise Error(Eperm)
        sp = self.lookup(c.qid.path)
        if self.user() not in (sp.owner, self.core.eve):
            raise Error(Eperm)
        if d.name not in ("", sp.name) or d.uid not in ("", sp.owner):
            raise Error(Eperm)
        if d.mode != 0xFFFFFFFF:
            if d.mode & DMDIR:
                raise Error(Eperm)
            sp.perm = d.mode & 0o777

