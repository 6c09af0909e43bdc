"""exportfs: serve a part of this process's name space over 9P, by relaying to system calls.

Theory of operation (Plan 9 ``sys/src/cmd/exportfs``, with lib9p doing the fid work): an
``ExportFs`` is a ``lib9p`` ``FileServer`` whose Files are *paths in the exporting process's
name space*.  Nothing is cached: every 9P request becomes system calls of the process that
runs ``serve`` (``lp49fs.lib``), so the importer sees exactly what that process sees, mounts
and unions included:

* Tattach ``aname`` / Twalk: the new File's path is computed lexically and ``stat``-ed; the
  stat's qid (mapped, below) is the Rwalk qid.
* Topen: ``open(path, mode)``, and the fd is kept in the File until clunk; Tread/Twrite are
  ``pread``/``pwrite`` on it; a directory read re-reads the directory from the start.
* Tcreate: ``create(path/name, mode|OEXCL, perm)`` (an existing name fails with ``file
  already exists``, as Tcreate must, never truncates); the File becomes the new, open file.
* Tremove: ``remove(path)``; Tstat/Twstat: ``fstat``/``fwstat`` when open, else by path.

Rules:

1. Confinement.  A File's path is always ``root`` plus a list of checked names: a name is
   refused (``bad character in file name``) if it is empty, ``.``, contains ``/`` or a
   control character, or starts with ``#`` (no device paths).  ``..`` pops one name and at
   the root stays there (walk(5)); the root is the attach tree (aname, below ``root``), so
   no 9P request reaches above the exported root, nor above the tree a client attached.
2. Read-only (``-R``): open for writing, OTRUNC, ORCLOSE, create, remove and wstat answer
   ``permission denied`` before any system call is made.
3. Qids.  Files of different servants and servers may share a qid.path, so each distinct
   (stat type, dev, qid.path) gets its own small qid.path (Plan 9 exportfs ``uniqueqid``);
   the map lives as long as the ExportFs (one per connection).  Stat entries going out
   carry the mapped qid.
4. Every File may block (a read of /dev/cons, of a pipe, of a remote file), so
   ``mayblock`` is True: each request runs in its own task and Tflush cancels it.
5. Identity.  The serving process already runs as the client's user (``lp49fs.cmd.exportfs``
   makes it so), so every system call is checked as that user.  When the link was
   authenticated (``user`` set), an attach by another uname is refused; on an
   unauthenticated link the process is ``none`` whatever uname says.  ``denied`` (a
   certificate the node's ``[users]`` table does not name) refuses every attach
   (``not_a_user``); the process is ``none`` meanwhile.

What lives elsewhere: the import handshake (``hs``), network glue
(``net``), the program (``lp49fs.cmd.exportfs``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import ClassVar

from lp49fs import lib
from lp49fs.auth.tls import check_attach
from lp49fs.errors import Ebadchar, Eperm, Error
from lp49fs.lib9p import File, NotImplementedFile
from lp49fs.ninep import OEXCL, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, Dir, Qid

log = logging.getLogger(__name__)


def checkname(name: str) -> str:
    """``name`` if it may be walked to or created (Rule 1); else ``Error(Ebadchar)``."""
    if (
        not name
        or name == "."
        or "/" in name
        or name.startswith("#")
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    ):
        raise Error(Ebadchar)
    return name


def cleanroot(root: str) -> str:
    """The exported root as an absolute, lexically clean path ('.' and '..' resolved)."""
    if not root.startswith("/"):
        raise Error(f"exportfs: root must be absolute: {root}")
    parts: list[str] = []
    for name in root.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if parts:
                parts.pop()
            continue
        parts.append(name)
    return "/" + "/".join(parts)


def treenames(tree: str) -> list[str]:
    """A tree (attach name, handshake tree) as checked names below the root ('..' stays)."""
    names: list[str] = []
    for name in tree.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if names:
                names.pop()
            continue
        names.append(checkname(name))
    return names


class QidMap:
    """Rule 3: (type, dev, qid.path) -> a qid.path unique within this export."""

    def __init__(self) -> None:
        self.paths: dict[tuple[int, int, int], int] = {}

    def qid(self, d: Dir) -> Qid:
        key = (d.type, d.dev, d.qid.path)
        path = self.paths.get(key)
        if path is None:
            path = self.paths[key] = len(self.paths) + 1
        return Qid(d.qid.type, d.qid.vers, path)

    def dir(self, d: Dir) -> Dir:
        return dataclasses.replace(d, qid=self.qid(d))


def not_a_user(cert: str) -> Error:
    """The refusal of certificate ``cert``, which the node's ``[users]`` does not name."""
    return Error(f"{Eperm}: certificate {cert} is not a user of this node")


class ExportFs:
    """The tree under ``root`` of the calling process's name space, over 9P."""

    mayblock: ClassVar[bool] = True

    def __init__(self, root: str = "/", *, readonly: bool = False, user: str = "",
                 denied: str = "") -> None:  # fmt: skip
        self.root = cleanroot(root)  # absolute path in the exporter's name space
        self.readonly = readonly  # Rule 2
        self.user = user  # Rule 5: the authenticated user ("" = not authenticated)
        self.denied = denied  # Rule 5: a certificate not served ("" = none)
        self.qids = QidMap()  # Rule 3

    def path(self, names: Sequence[str]) -> str:
        if not names:
            return self.root
        return self.root.rstrip("/") + "/" + "/".join(names)

    async def attach(self, uname: str, aname: str) -> File:
        if self.denied:
            raise not_a_user(self.denied)
        check_attach(self.user, uname)
        names = treenames(aname)
        d = await lib.stat(self.path(names))
        return XFile(self, names, self.qids.qid(d), floor=len(names))

    def refuse_writes(self) -> None:
        if self.readonly:
            raise Error(Eperm)


class XFile(NotImplementedFile):
    """One fid: a path below the export root, and the fd once opened."""

    mayblock: ClassVar[bool] = True

    def __init__(
        self, fs: ExportFs, names: list[str], qid: Qid, fd: int = -1, floor: int = 0
    ) -> None:
        self.fs = fs
        self.names = names  # checked names below fs.root (Rule 1)
        self.floor = floor  # names[:floor] is the attach tree: '..' never pops it
        self._qid = qid  # mapped qid
        self.fd = fd  # open fd in the serving process, or -1

    @property
    def qid(self) -> Qid:
        return self._qid

    @property
    def path(self) -> str:
        return self.fs.path(self.names)

    async def walk1(self, name: str) -> File:
        if name == "..":
            names = self.names[:-1] if len(self.names) > self.floor else self.names
        else:
            names = [*self.names, checkname(name)]
        d = await lib.stat(self.fs.path(names))
        return XFile(self.fs, names, self.fs.qids.qid(d), floor=self.floor)

    async def clone(self) -> File:
        return XFile(self.fs, list(self.names), self._qid, floor=self.floor)

    async def open(self, mode: int) -> None:
        if mode & 3 in (OWRITE, ORDWR) or mode & (OTRUNC | ORCLOSE):
            self.fs.refuse_writes()
        self.fd = await lib.open(self.path, mode)

    async def create(self, name: str, perm: int, mode: int) -> File:
        self.fs.refuse_writes()
        names = [*self.names, checkname(name)]
        fd = await lib.create(self.fs.path(names), mode | OEXCL, perm)  # never truncates
        try:
            qid = self.fs.qids.qid(await lib.fstat(fd))
        except Error:
            await lib.close(fd)
            raise
        return XFile(self.fs, names, qid, fd, floor=self.floor)

    async def read(self, offset: int, count: int) -> bytes:
        return await lib.pread(self.fd, count, offset)

    async def readdir(self) -> list[Dir]:
        """The whole directory, read again from its start (the framework asks at offset 0)."""
        try:
            await lib.seek(self.fd, 0, 0)
        except Error:  # a directory that cannot seek: read it through a fresh fd
            fd = await lib.open(self.path, OREAD)
            try:
                return [self.fs.qids.dir(d) for d in await lib.dirreadall(fd)]
            finally:
                await lib.close(fd)
        return [self.fs.qids.dir(d) for d in await lib.dirreadall(self.fd)]

    async def write(self, offset: int, data: bytes) -> int:
        self.fs.refuse_writes()
        return await lib.pwrite(self.fd, data, offset)

    async def stat(self) -> Dir:
        d = await (lib.fstat(self.fd) if self.fd >= 0 else lib.stat(self.path))
        return self.fs.qids.dir(d)

    async def wstat(self, d: Dir) -> None:
        self.fs.refuse_writes()
        if self.fd >= 0:
            await lib.fwstat(self.fd, d)
        else:
            await lib.wstat(self.path, d)

    async def remove(self) -> None:
        self.fs.refuse_writes()
        if not self.names:
            raise Error(Eperm)  # the export root itself stays
        await lib.remove(self.path)

    async def clunk(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                await lib.close(fd)
            except Error as e:
                log.debug("exportfs: close %s: %s", self.path, e)
