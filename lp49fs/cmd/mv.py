"""mv from ... to: rename or move files.

Within one directory a move is a ``wstat`` that changes only the name (all other fields
"don't touch"), so it is atomic and keeps the qid.  Across directories (or servers), or when
the server refuses the rename, it is ``cp`` then ``remove``.  A directory ``to`` receives
the sources under their own names.
"""

from __future__ import annotations

from dataclasses import replace

from lp49fs import lib
from lp49fs.cmd._util import basename, dirname, each, fromto
from lp49fs.cmd.cp import copy
from lp49fs.errors import Error
from lp49fs.ninep import Dir


def samedir(a: str, b: str) -> bool:
    return dirname(a) == dirname(b)


async def move(src: str, dst: str) -> None:
    if samedir(src, dst):
        if basename(src) == basename(dst):
            return
        try:
            await lib.remove(dst)  # wstat refuses an existing name; mv replaces it
        except Error:
            pass
        try:
            await lib.wstat(src, _rename(basename(dst)))
            return
        except Error:
            pass  # a server that cannot rename (#e): copy and remove instead
    await copy(src, dst)
    await lib.remove(src)


def _rename(name: str) -> Dir:
    """A wstat Dir that changes only the name."""
    return replace(Dir.nulldir(), name=name)


async def main(argv: list[str]) -> None:
    srcs, target = await fromto("mv", argv)
    await each("mv", srcs, lambda src: move(src, target(src)))
