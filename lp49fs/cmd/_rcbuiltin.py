"""The builtins of ``sh``: commands that must run in the shell process itself.

``cd`` changes the shell's own dot, ``exit`` ends it, ``.`` runs a file in it, ``eval``
runs its arguments as rc text, ``shift`` drops elements of ``$*``, ``rfork`` changes its
own groups (``rfork n`` gives it a private name space from then on), ``wait`` collects its
children.  Each takes the shell and argv and returns the new ``$status``; its messages go
to the shell's current fd 2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lp49fs import lib
from lp49fs.cmd._rcproc import Interrupted, takenotes
from lp49fs.errors import Eintr, Error
from lp49fs.ninep import OREAD

if TYPE_CHECKING:
    from lp49fs.cmd._rcexec import Shell

RFORK_LETTERS = {"n": lib.RFNAMEG, "N": lib.RFCNAMEG, "e": lib.RFENVG, "E": lib.RFCENVG,
                 "s": lib.RFNOTEG, "f": lib.RFFDG, "F": lib.RFCFDG, "m": lib.RFNOMNT}


class Exit(Exception):
    """``exit``: unwind to the shell's main with the exit string."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def b_cd(sh: Shell, argv: list[str]) -> str:
    if len(argv) > 2:
        await sh.complain("usage: cd [directory]")
        return "usage"
    if len(argv) == 2:
        target = argv[1]
    else:
        home = await sh.getvar("home")
        target = home[0] if home else "/"
    try:
        await lib.chdir(target)
    except Error as e:
        await sh.complain(f"cd: {target}: {e.ename}")
        return "can't cd"
    return ""

async def b_exit(sh: Shell, argv: list[str]) -> str:
    raise Exit(" ".join(argv[1:]) if len(argv) > 1 else sh.status)

async def b_dot(sh: Shell, argv: list[str]) -> str:
    if len(argv) < 2:
        await sh.complain("usage: . file")
        return "usage"
    try:
        fd = await lib.open(argv[1], OREAD)
        try:
            text = (await lib.readall(fd)).decode()
        finally:
            await lib.close(fd)
    except Error as e:
        await sh.complain(f"{argv[1]}: {e.ename}")
        return e.ename
    await sh.run_text(text)
    return sh.status

async def b_eval(sh: Shell, argv: list[str]) -> str:
    await sh.run_text(" ".join(argv[1:]))
    return sh.status

async def b_shift(sh: Shell, argv: list[str]) -> str:
    """shift [n]: drop the first n (1) elements of $*."""
    if len(argv) > 2 or (len(argv) == 2 and not argv[1].isdigit()):
        await sh.complain("usage: shift [n]")
        return "usage"
    n = int(argv[1]) if len(argv) == 2 else 1
    args = sh.vars["*"]
    if n > len(args):
        await sh.complain("shift: empty list")
        return "shift"
    sh.vars["*"] = args[n:]
    return ""

async def b_rfork(sh: Shell, argv: list[str]) -> str:
    letters = argv[1] if len(argv) > 1 else "ens"
    flags = 0
    for ch in letters:
        if ch not in RFORK_LETTERS:
            await sh.complain(f"rfork: bad flag {ch!r}")
            return "rfork flag"
        flags |= RFORK_LETTERS[ch]
    try:
        await lib.rfork(flags)
    except Error as e:
        await sh.complain(f"rfork: {e.ename}")
        return e.ename
    return ""

async def b_wait(sh: Shell, argv: list[str]) -> str:
    """wait [pid]: wait for that child, or for every child."""
    if len(argv) > 1 and argv[1].isdigit():
        (msg,) = await sh.collect([int(argv[1])], foreground=False)
        return msg
    while True:
        try:
            w = await lib.wait()
        except Error as e:
            if e.ename == Eintr:  # DEL: the jobs run on in their own note groups
                await takenotes()
                raise Interrupted from None
            return ""
        sh.exited.pop(w.pid, None)


Builtin = Callable[["Shell", list[str]], Awaitable[str]]
BUILTINS: dict[str, Builtin] = {"cd": b_cd, "exit": b_exit, ".": b_dot, "eval": b_eval,
                                "rfork": b_rfork, "shift": b_shift, "wait": b_wait}
