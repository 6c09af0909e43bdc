"""rm [-fr] file ...: remove files; ``-r`` removes directories with their contents first.

``-f`` keeps quiet about files that cannot be removed (and does not change the exit string).
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import each, getflags, usage
from lp49fs.ninep import OREAD, QTDIR


async def rmtree(path: str) -> None:
    """Remove ``path``; a directory's entries go first (depth first)."""
    d = await lib.stat(path)
    if d.qid.type & QTDIR:
        fd = await lib.open(path, OREAD)
        try:
            entries = await lib.dirreadall(fd)
        finally:
            await lib.close(fd)
        for e in entries:
            await rmtree(path.rstrip("/") + "/" + e.name)
    await lib.remove(path)


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "fr", "rm [-fr] file ...")
    if not args:
        await usage("rm [-fr] file ...")
    await each("rm", args, rmtree if "r" in flags else lib.remove, quiet="f" in flags)
