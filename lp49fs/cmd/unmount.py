"""unmount [new] old: undo binds and mounts on ``old`` (all of them, or only ``new``)."""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint, usage
from lp49fs.errors import Error


async def main(argv: list[str]) -> None:
    args = argv[1:]
    if len(args) not in (1, 2):
        await usage("unmount [new] old")
    new, old = (None, args[0]) if len(args) == 1 else (args[0], args[1])
    try:
        await lib.unmount(new, old)
    except Error as e:
        await eprint(f"unmount: {' '.join(args)}: {e.ename}\n")
        raise
