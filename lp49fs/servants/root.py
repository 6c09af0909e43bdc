"""``#R`` root: the read-only skeleton every name space starts from (Plan 9 devroot).

The tree is one level of empty directories (``/dev /env /net ...``) that exist only to be
mount points: ``bind '#c' /dev`` replaces ``/dev`` with cons's directory, ``bind -a`` adds to
it.  Nothing can be created, removed or written here; reading a skeleton directory gives no
entries.  Qid paths: the root is 0, the directories follow in DIRTAB order.
"""

from __future__ import annotations

from enum import IntEnum

from lp49fs.core.chan import Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.errors import Eisdir, Eperm, Error
from lp49fs.ninep import DMDIR, QTDIR, Qid

SKELETON = ("dev", "env", "net", "proc", "srv", "n", "mnt", "tmp", "bin", "fd", "boot", "root")


class Q(IntEnum):
    ROOT = 0  # "/", the first Dirtab entry; skeleton dirs are 1..len(SKELETON)


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.ROOT), 0, DMDIR | 0o555),
    *(Dirtab(n, Qid(QTDIR, 0, i), 0, DMDIR | 0o555) for i, n in enumerate(SKELETON, 1)),
)


class Root(Servant):
    """``#R``: the skeleton directories; everything but walk/stat/open/read refuses."""

    dc = "R"
    name = "root"
    dirtab = DIRTAB

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if not c.isdir():
            raise Error(Eisdir)
        return self.devdirread(c, count, offset)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        raise Error(Eisdir if c.isdir() else Eperm)
