"""sleep secs: pause for ``secs`` seconds (a decimal fraction is allowed), in the core.

The wait is the ``sleep`` system call, so a note (``kill``) ends it early.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import usage


async def main(argv: list[str]) -> None:
    if len(argv) != 2:
        await usage("sleep secs")
    try:
        secs = float(argv[1])
    except ValueError:
        await usage("sleep secs")
    await lib.sleep(int(secs * 1000))
