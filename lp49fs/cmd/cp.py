"""cp from ... to: copy files; with several sources (or a directory ``to``) into ``to/``.

The target is made with ``create`` (which truncates an existing file) with the source's
permission bits; data moves in IOUNIT pieces through the caller's buffer.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import copyfd, each, fromto
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE, QTDIR


async def copy(src: str, dst: str) -> None:
    """Copy file ``src`` onto ``dst`` (created or truncated)."""
    d = await lib.stat(src)
    if d.qid.type & QTDIR:
        raise Error(f"{src}: is a directory")
    fd = await lib.open(src, OREAD)
    try:
        out = await lib.create(dst, OWRITE, d.mode & 0o777)
        try:
            await copyfd(fd, out)
        finally:
            await lib.close(out)
    finally:
        await lib.close(fd)


async def main(argv: list[str]) -> None:
    srcs, target = await fromto("cp", argv)
    await each("cp", srcs, lambda src: copy(src, target(src)))
