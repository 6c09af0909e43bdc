"""date [-nu]: print the time read from /dev/time.

/dev/time holds four numbers (seconds, nanoseconds, ticks, tick frequency); date uses the
first.  ``-n`` prints the seconds, ``-u`` the time in GMT, otherwise the local time in
Plan 9's ``ctime`` form: ``Wed Nov 26 10:11:12 GMT 2008``.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._fmt import ctime
from lp49fs.cmd._util import fatal, getflags, readfile, usage
from lp49fs.errors import Error


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "nu", "date [-nu]")
    if args:
        await usage("date [-nu]")
    try:
        secs = int((await readfile("/dev/time")).split()[0])
    except Error as e:
        await fatal("date", f"/dev/time: {e.ename}")
    except (IndexError, ValueError):
        await fatal("date", "/dev/time: bad format")
    await lib.print((str(secs) if "n" in flags else ctime(secs, "u" in flags)) + "\n")
