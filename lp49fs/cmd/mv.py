"""mv from ... to: rename or move files.

Within one directory a move is a ``wstat`` that changes only the name (all other fields
"don't touch"), so it is atomic and keeps the qid.  Across directories (or servers), or when
the server refuses the rename, it is ``cp`` then ``remove``.  A directory ``to`` receives
the sources under their own names.
"""

from __future__ import annotations

from dataclasses import replace

from lp49fs import lib
from lp49fs.cmd._util import basename, dirname, eprint, usage
from lp49fs.cmd.cp import copy, isdir
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
    args = argv[1:]
    if len(args) < 2:
        await usage("mv from ... to")
    *srcs, to = args
    todir = await isdir(to)
    if len(srcs) > 1 and not todir:
        await usage("mv from ... to  (to must be a directory)")
    failed = False
    for src in srcs:
        dst = to.rstrip("/") + "/" + basename(src) if todir else to
        try:
            await move(src, dst)
        except Error as e:
            await eprint(f"mv: {src}: {e.ename}\n")
            failed = True
    if failed:
        raise Error("errors")
