"""ps [-a]: one line per process, from /proc/N/status (Plan 9 ps(1) columns).

Processes are listed in pid order; ``-a`` replaces the program name by the arguments in
``/proc/N/args``.  A process that exits while ps runs is skipped.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._fmt import psline
from lp49fs.cmd._util import fatal, getflags, readfile, usage
from lp49fs.errors import Error
from lp49fs.ninep import OREAD


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "a", "ps [-a]")
    if args:
        await usage("ps [-a]")
    try:
        fd = await lib.open("/proc", OREAD)
        try:
            dirs = await lib.dirreadall(fd)
        finally:
            await lib.close(fd)
    except Error as e:
        await fatal("ps", f"/proc: {e.ename}")
    pids = sorted((d.name for d in dirs if d.name.isdigit()), key=int)
    out = []
    for pid in pids:
        try:
            line = psline(pid, (await readfile(f"/proc/{pid}/status")).decode())
            if line is not None and "a" in flags:
                args_text = (await readfile(f"/proc/{pid}/args")).decode().replace("\n", " ")
                if args_text:
                    line = line.rsplit(" ", 1)[0] + " " + args_text
        except Error:
            continue
        if line is not None:
            out.append(line)
    await lib.print("".join(line + "\n" for line in out))
