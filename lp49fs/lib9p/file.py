"""What a 9P server implements: a ``FileServer`` that attaches, and ``File`` objects per fid.

The framework (``srv.py``) owns fids, tags, version, msize, flush and validation; a backend
only answers file operations.  The shape follows hugelgupf/p9 (a File per fid, returned by
walk) and go-p9p (the session verbs), without fid numbers or bytes anywhere:

* ``FileServer.attach(uname, aname) -> File``: the root of the tree, for a new fid.
* ``File``: one fid's view of one file.  ``walk`` returns *new* File objects (a fid
  cloned by walk must not share open state with its source); ``create`` returns the new,
  opened file, which replaces the directory in that fid.  ``clunk`` is called exactly once
  per File the framework holds, when the fid goes away for any reason: Tclunk, Tremove
  (after ``remove``, whether it succeeded or not), a new Tversion, or the connection
  closing.  So per-fid cleanup (ORCLOSE, DMEXCL locks) belongs in ``clunk``.
* Directories answer ``readdir() -> list[Dir]``; the framework snapshots it at offset 0 and
  packs whole stat entries into each Tread, so backends never see directory offsets.
* A failure is ``raise Error(ename)``; the client receives that text in an Rerror.
* ``mayblock``: False promises that no method waits for anything (a RAM tree); the framework
  then answers the request in its reader task, which is cheaper than a task per request
  (``bench/lib9p_dispatch.py``).  A File that may block (a pipe, a proxy, a device) keeps
  True, and each of its requests runs in its own task and cancel scope, so Tflush can
  cancel it.

``NotImplementedFile`` refuses everything with ``Error(Eperm)`` (as Plan 9's dev.c does);
``ReadOnlyFile`` allows opening for reading only.  Subclass one and override what you serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from lp49fs.errors import Enotfound, Eperm, Error
from lp49fs.ninep import (
    OEXEC,
    ORCLOSE,
    ORDWR,
    OTRUNC,
    OWRITE,
    Dir,
    Qid,
)


class File(Protocol):
    """One fid's view of one file (see the module docstring for the contract)."""

    mayblock: ClassVar[bool]

    @property
    def qid(self) -> Qid: ...

    async def walk(self, names: Sequence[str]) -> tuple[list[Qid], File | None]:
        """Walk ``names`` from here: qids of the steps made, and a new File if all were."""
        ...

    async def open(self, mode: int) -> None: ...

    async def create(self, name: str, perm: int, mode: int) -> File: ...

    async def read(self, offset: int, count: int) -> bytes: ...

    async def readdir(self) -> list[Dir]: ...

    async def write(self, offset: int, data: bytes) -> int: ...

    async def stat(self) -> Dir: ...

    async def wstat(self, d: Dir) -> None: ...

    async def remove(self) -> None: ...

    async def clunk(self) -> None: ...


class FileServer(Protocol):
    """A served tree (go-p9p's Session, minus fids): attach gives a root File."""

    mayblock: ClassVar[bool]

    async def attach(self, uname: str, aname: str) -> File: ...


class NotImplementedFile:
    """Refusing defaults for every File method (``Error(Eperm)``); clunk does nothing.

    Subclasses provide ``qid`` and override what they serve.  ``walk`` is built on
    ``walk1(name) -> File`` (one step, a new File) and ``clone() -> File`` (for nwname 0).
    """

    mayblock: ClassVar[bool] = True

    @property
    def qid(self) -> Qid:
        raise NotImplementedError

    async def walk1(self, name: str) -> File:
        """The child ``name`` (or the parent for ``..``) as a new File."""
        raise Error(Enotfound)

    async def clone(self) -> File:
        """A new File naming the same file, not open."""
        raise Error(Eperm)

    async def walk(self, names: Sequence[str]) -> tuple[list[Qid], File | None]:
        if not names:
            return [], await self.clone()
        qids: list[Qid] = []
        cur: Any = self  # each step is a File of the same backend, with walk1
        for i, name in enumerate(names):
            try:
                cur = await cur.walk1(name)
            except Error:
                if i == 0:
                    raise
                return qids, None
            qids.append(cur.qid)
        file: File = cur
        return qids, file

    async def open(self, mode: int) -> None:
        raise Error(Eperm)

    async def create(self, name: str, perm: int, mode: int) -> File:
        raise Error(Eperm)

    async def read(self, offset: int, count: int) -> bytes:
        raise Error(Eperm)

    async def readdir(self) -> list[Dir]:
        raise Error(Eperm)

    async def write(self, offset: int, data: bytes) -> int:
        raise Error(Eperm)

    async def stat(self) -> Dir:
        raise Error(Eperm)

    async def wstat(self, d: Dir) -> None:
        raise Error(Eperm)

    async def remove(self) -> None:
        raise Error(Eperm)

    async def clunk(self) -> None:
        return None


class ReadOnlyFile(NotImplementedFile):
    """A file that may be opened for reading (OREAD, OEXEC) and nothing else."""

    async def open(self, mode: int) -> None:
        if mode & 3 in (OWRITE, ORDWR) or mode & (OTRUNC | ORCLOSE) or mode & 3 > OEXEC:
            raise Error(Eperm)
