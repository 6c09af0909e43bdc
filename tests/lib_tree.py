"""The conformance ``Tree`` protocol over ``lp49fs.lib`` system calls of the calling process.

``LibTree(prefix)`` is ``servant_tree.SysTree`` one layer up: every operation is a system
call of the LP49 process running the test body (L4 IPC to the Mngr, a clerk, namec, the
servant or ``#M``), so running ``check_tree``/``check_rw`` through it exercises the path a
real program takes.  Use it inside ``lib_helpers.run_as``.  ``create`` is create(2) with
OEXCL, as in SysTree.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.ninep import OEXCL, OREAD, OTRUNC, OWRITE, Dir, Qid


class LibTree:
    """The Tree protocol for the subtree at ``prefix`` of the caller's name space."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")

    def _path(self, path: str) -> str:
        path = path.strip("/")
        return f"{self.prefix}/{path}" if path else self.prefix or "/"

    async def stat(self, path: str) -> Dir:
        return await lib.stat(self._path(path))

    async def listdir(self, path: str) -> list[Dir]:
        fd = await lib.open(self._path(path), OREAD)
        try:
            return await lib.dirreadall(fd)
        finally:
            await lib.close(fd)

    async def read(self, path: str, offset: int = 0, count: int = 8192) -> bytes:
        fd = await lib.open(self._path(path), OREAD)
        try:
            return await lib.pread(fd, count, offset)
        finally:
            await lib.close(fd)

    async def write(self, path: str, data: bytes, offset: int = 0, trunc: bool = False) -> int:
        fd = await lib.open(self._path(path), OWRITE | (OTRUNC if trunc else 0))
        try:
            return await lib.pwrite(fd, data, offset)
        finally:
            await lib.close(fd)

    async def create(self, path: str, perm: int, mode: int = OREAD) -> Qid:
        fd = await lib.create(self._path(path), mode | OEXCL, perm)
        try:
            return (await lib.fstat(fd)).qid
        finally:
            await lib.close(fd)

    async def remove(self, path: str) -> None:
        await lib.remove(self._path(path))

    async def wstat(self, path: str, d: Dir) -> None:
        await lib.wstat(self._path(path), d)

    async def open_close(self, path: str, mode: int) -> None:
        await lib.close(await lib.open(self._path(path), mode))
