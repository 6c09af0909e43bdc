"""init [-n nstext]: the first program of a node.

The node daemon boots the core, starts and posts the configured servers
(``lp49fs.node.servers``), then starts ``init`` as a child of the boot process with fds 0, 1,
2 on the console.  Init, in order:

1. copies ``#c/sysname`` into ``$sysname`` (namespace files and scripts use it);
2. builds its name space with ``newns`` (clean name space, private environment, ``$user`` and
   ``$home``) from ``-n``'s text, or ``newns.DEFAULT_NAMESPACE``; failing lines are skipped,
   so a server that is missing costs only its ``mount`` line;
3. runs ``sh -i`` with fds 0, 1, 2 on ``/dev/cons`` (``#c/cons`` if the name space has no
   /dev/cons), in a note group of its own (the console's DEL interrupts that group, never
   init), and starts a new one whenever it exits -- after ``RESPAWN`` seconds if it
   lived less than that, so a shell that dies at once does not spin.

Init never returns while the node runs.  Everything goes through ``lp49fs.lib``: init is an
LP49 program like any other, and the shell shares init's name space.
"""

from __future__ import annotations

import logging

import trio

from lp49fs import lib
from lp49fs.cmd.newns import DEFAULT_NAMESPACE, newns, putenv
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD

log = logging.getLogger(__name__)

USAGE = "init [-n nstext]"
RESPAWN = 1.0  # a shell that lived less than this is restarted after this long
CONS = ("/dev/cons", "#c/cons")


def parseargs(argv: list[str]) -> str:
    """The namespace text init's argv names; Error on bad usage."""
    match argv[1:]:
        case []:
            return DEFAULT_NAMESPACE
        case ["-n", text]:
            return text
    raise Error(f"usage: {USAGE}")


async def readstr(path: str) -> str:
    fd = await lib.open(path, OREAD)
    try:
        return (await lib.readall(fd)).decode(errors="replace")
    finally:
        await lib.close(fd)


async def opencons() -> int:
    for path in CONS:
        try:
            return await lib.open(path, ORDWR)
        except Error:
            continue
    raise Error("init: no console")


async def shloop() -> None:
    """Step 3: ``sh -i`` on the console, forever."""
    while True:
        fd = await opencons()
        try:
            pid = await lib.spawn("sh", ["sh", "-i"], lib.RFCFDG | lib.RFPROC | lib.RFNOTEG,
                                  {0: fd, 1: fd, 2: fd})  # fmt: skip
        finally:
            await lib.close(fd)
        started = trio.current_time()
        while (w := await lib.wait()).pid != pid:
            pass
        log.info("init: sh (pid %d) exited %r", pid, w.msg)
        if trio.current_time() - started < RESPAWN:
            await lib.sleep(int(RESPAWN * 1000))


async def main(argv: list[str]) -> None:
    text = parseargs(argv)
    try:
        await putenv("sysname", await readstr("#c/sysname"))
    except Error as e:
        log.debug("init: no sysname: %s", e.ename)
    user = await _user()
    failed = await newns(user, text)
    if failed:
        log.debug("init: %d namespace lines failed", failed)
    await shloop()


async def _user() -> str:
    try:
        return await readstr("#c/user")
    except Error:
        return "none"
