"""cat [file ...]: copy each file (or fd 0 when there are none) to fd 1.

A file that cannot be opened ends cat with ``can't open NAME: ERROR`` (Plan 9's sysfatal).
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import copyfd, fatal
from lp49fs.errors import Error
from lp49fs.ninep import OREAD


async def main(argv: list[str]) -> None:
    if len(argv) == 1:
        await copyfd(0, 1)
        return
    for name in argv[1:]:
        try:
            fd = await lib.open(name, OREAD)
        except Error as e:
            await fatal("cat", f"can't open {name}: {e.ename}")
        try:
            await copyfd(fd, 1)
        except Error as e:
            await fatal("cat", f"error reading {name}: {e.ename}")
        finally:
            await lib.close(fd)
