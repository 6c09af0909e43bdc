"""mount [-abcCq] srvfile old [spec]: attach the 9P server on ``srvfile`` at ``old``.

``srvfile`` (usually ``/srv/name``) is opened ORDWR and handed to the ``mount`` system call,
which speaks Tversion/Tattach(spec) on it; flags as for bind.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint, getflags, usage
from lp49fs.cmd.bind import mountflag
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR

USAGE = "mount [-abcCq] srvfile old [spec]"


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "abcCq", USAGE)
    flag = mountflag(flags)
    if len(args) not in (2, 3) or flag is None:
        await usage(USAGE)
    spec = args[2] if len(args) == 3 else ""
    try:
        fd = await lib.open(args[0], ORDWR)
        try:
            await lib.mount(fd, -1, args[1], flag, spec)
        finally:
            await _close(fd)
    except Error as e:
        if "q" not in flags:
            await eprint(f"mount: {args[0]} {args[1]}: {e.ename}\n")
        raise


async def _close(fd: int) -> None:
    try:
        await lib.close(fd)
    except Error:
        pass  # a successful mount may already have consumed the fd
