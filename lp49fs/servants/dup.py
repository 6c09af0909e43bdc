"""``#d`` dup: the calling process's open files as files (Plan 9 devdup; bound on /fd).

For every open fd N of the *calling* process (``up``) the directory lists ``N`` and
``Nctl``.  Opening ``#d/N`` does not open anything new: it returns fd N's own Chan (a new
reference, same offset), so ``open("/fd/0")`` is ``dup(0)``; the requested mode must fit the
fd's mode (an ORDWR fd fits every mode) else ``inappropriate use of fd``.  ``Nctl`` reads
the fd's line, as ``/proc/N/fd`` prints it.

Qid paths: the directory is 0; fd N is ``2N+1``, its ctl file ``2N+2``.  The listing depends
on the caller, so outside a system call (no ``up``) the directory is empty.
"""

from __future__ import annotations

from enum import IntEnum

from lp49fs.core.chan import COPEN, Chan, cclose, incref
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.core.proc import procfdprint
from lp49fs.errors import Ebadusefd, Eisdir, Eperm, Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OTRUNC, QTDIR, QTFILE, Dir, Qid


class Q(IntEnum):
    DIR = 0  # the directory; fd N is 2N+1 and Nctl is 2N+2


DIRTAB = (Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o555),)


def fdqid(fd: int, ctl: bool) -> Qid:
    return Qid(QTFILE, 0, 2 * fd + (2 if ctl else 1))


def qidfd(q: Qid) -> tuple[int, bool]:
    """(fd, is ctl) of a file qid."""
    return (q.path - 1) // 2, q.path % 2 == 0


class Dup(Servant):
    """``#d``: N and Nctl per open fd of the caller."""

    dc = "d"
    name = "dup"
    dirtab = DIRTAB

    def _fds(self) -> list[tuple[int, Chan]]:
        p = self.up()
        if p is None:
            return []
        return [(i, c) for i, c in enumerate(p.fgrp.fd) if c is not None]

    def gen(self, c: Chan, i: int) -> Dir | None:
        if c.qid.path != Q.DIR:
            return None
        fds = self._fds()
        if i >= 2 * len(fds):
            return None
        fd, fc = fds[i // 2]
        user = self.user()
        if i % 2:
            return self.devdir(c, fdqid(fd, True), f"{fd}ctl", 0, user, 0o400)
        perm = {OREAD: 0o400, 1: 0o200, ORDWR: 0o600}.get(fc.mode & 3, 0o400)
        return self.devdir(c, fdqid(fd, False), str(fd), 0, user, perm)

    def _fdchan(self, fd: int) -> Chan:
        p = self.up()
        if p is None:
            raise Error(Eperm)
        return p.fgrp.get(fd)

    async def open(self, c: Chan, omode: int) -> Chan:
        if c.isdir():
            return self.devopen(c, omode)
        fd, ctl = qidfd(c.qid)
        if ctl:
            return self.devopen(c, omode)
        mode = openmode(omode)
        f = self._fdchan(fd)
        if f.mode != ORDWR and (mode != f.mode or (omode & OTRUNC and f.mode == OREAD)):
            raise Error(Ebadusefd)
        if not f.flag & COPEN:
            raise Error(Ebadusefd)
        nc = incref(f)
        await cclose(c)
        return nc

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        fd, ctl = qidfd(c.qid)
        if not ctl:
            raise Error(Eperm)  # an opened N is the fd's own Chan: never reaches here
        line = procfdprint(self._fdchan(fd), fd).encode()
        return line[offset : offset + count]

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        raise Error(Eisdir if c.isdir() else Eperm)
