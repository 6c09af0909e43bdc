"""bind [-abcCq] new old: make ``old`` refer to ``new`` in this process's name space.

Flags (bind(1)): none = MREPL, ``-b`` MBEFORE, ``-a`` MAFTER, ``-c`` adds MCREATE, ``-C``
MCACHE; ``-q`` suppresses the error line.  The change is made in the name space group
of the calling process, which ``sh`` shares with the programs it spawns.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint, getflags, usage
from lp49fs.errors import Error
from lp49fs.lib import MAFTER, MBEFORE, MCACHE, MCREATE, MREPL

USAGE = "bind [-abcCq] new old"


def mountflag(flags: set[str]) -> int | None:
    """The MORDER|MCREATE|MCACHE word for bind/mount letters; None for both -a and -b."""
    if "a" in flags and "b" in flags:
        return None
    flag = MAFTER if "a" in flags else MBEFORE if "b" in flags else MREPL
    if "c" in flags:
        flag |= MCREATE
    if "C" in flags:
        flag |= MCACHE
    return flag


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "abcCq", USAGE)
    flag = mountflag(flags)
    if len(args) != 2 or flag is None:
        await usage(USAGE)
    try:
        await lib.bind(args[0], args[1], flag)
    except Error as e:
        if "q" not in flags:
            await eprint(f"bind: {args[0]} {args[1]}: {e.ename}\n")
        raise
