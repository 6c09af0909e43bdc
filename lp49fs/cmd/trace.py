"""trace pid | trace -c cmd [arg ...]: watch system calls travel through the layers.

After Plan 9's ratrace(1), on ``/proc/N/ctl`` ``trace`` and ``/proc/N/trace``
(``lp49fs.servants.proc.trace``).  ``trace pid`` turns tracing on for process ``pid`` and
prints, on fd 2, each of its system calls as it finishes: every arrow between the layers
(lib, the L4 message, Mngr, clerk, namec, the servant or ``#M`` and its 9P messages, the
server) with the time since the call began, then the time spent in each layer.  It ends when
the process exits.

``trace -c cmd [arg ...]`` runs ``cmd`` traced from its first call: it spawns a stub
(``trace -x cmd ...``) that waits on fd 3 until tracing is on, then spawns ``cmd`` (which
inherits the trace) and waits for it; the stub's own ``close``, ``spawn`` and ``wait`` are
traced too.  The exit string is the command's.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import fatal, usage
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE

USAGE = "trace pid | trace -c cmd [arg ...]"
CHUNK = 65536


async def follow(pid: int) -> None:
    """Turn tracing on for ``pid`` and copy its trace text to fd 2 until end of file."""
    try:
        ctl = await lib.open(f"/proc/{pid}/ctl", OWRITE)
        await lib.write(ctl, b"trace 1")
        await lib.close(ctl)
        fd = await lib.open(f"/proc/{pid}/trace", OREAD)
    except Error as e:
        await fatal("trace", f"{pid}: {e}")
    await copy(fd)


async def copy(fd: int) -> None:
    """Trace text from ``fd`` to fd 2 until end of file."""
    while data := await lib.read(fd, CHUNK):
        await lib.write(2, data)
    await lib.close(fd)


async def stub(argv: list[str]) -> None:
    """``trace -x cmd ...``: wait for the go on fd 3, then run ``cmd`` and wait for it."""
    await lib.read(3, 1)
    await lib.close(3)
    pid = await lib.spawn(argv[0], argv, lib.RFFDG | lib.RFPROC, {0: 0, 1: 1, 2: 2})
    while (w := await lib.wait()).pid != pid:
        pass
    if w.msg:
        raise Error(w.msg)


async def main(argv: list[str]) -> None:
    args = argv[1:]
    if len(args) >= 2 and args[0] == "-x":
        return await stub(args[1:])
    if len(args) >= 2 and args[0] == "-c":
        r, w = await lib.pipe()
        spid = await lib.spawn("trace", ["trace", "-x", *args[1:]], lib.RFFDG | lib.RFPROC,
                               {0: 0, 1: 1, 2: 2, 3: r})  # fmt: skip
        await lib.close(r)
        try:
            ctl = await lib.open(f"/proc/{spid}/ctl", OWRITE)
            await lib.write(ctl, b"trace 1")
            await lib.close(ctl)
            fd = await lib.open(f"/proc/{spid}/trace", OREAD)
        finally:
            await lib.write(w, b"g")  # go, traced or not
            await lib.close(w)
        await copy(fd)
        while (st := await lib.wait()).pid != spid:
            pass
        if st.msg:
            raise Error(st.msg)
        return None
    if len(args) != 1 or not args[0].isdigit():
        await usage(USAGE)
    return await follow(int(args[0]))
