"""kill pid|name ...: end processes by writing ``kill`` to /proc/N/ctl.

A numeric operand is a pid; any other operand names every process whose status line says
that program name (the first field of /proc/N/status), as Plan 9's slay does.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint, readfile, usage
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE


async def pidsnamed(name: str) -> list[int]:
    fd = await lib.open("/proc", OREAD)
    try:
        dirs = await lib.dirreadall(fd)
    finally:
        await lib.close(fd)
    me = await lib.getpid()
    found = []
    for d in dirs:
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            fields = (await readfile(f"/proc/{d.name}/status")).split()
        except Error:
            continue
        if fields and fields[0].decode(errors="replace") == name:
            found.append(int(d.name))
    return sorted(found)


async def kill(pid: int) -> None:
    fd = await lib.open(f"/proc/{pid}/ctl", OWRITE)
    try:
        await lib.write(fd, b"kill")
    finally:
        await lib.close(fd)


async def main(argv: list[str]) -> None:
    if len(argv) < 2:
        await usage("kill pid|name ...")
    failed = False
    for arg in argv[1:]:
        try:
            pids = [int(arg)] if arg.isdigit() else await pidsnamed(arg)
            if not pids:
                raise Error("no such process")
            for pid in pids:
                await kill(pid)
        except Error as e:
            await eprint(f"kill: {arg}: {e.ename}\n")
            failed = True
    if failed:
        raise Error("errors")
