"""Helpers shared by the LP49 programs: Plan 9 ARGBEGIN-style flags, fatal errors, copying.

A program ends in one of three ways, as in Plan 9: it returns (exit string ""), it raises
``Error(msg)`` (the runtime turns that into ``exits(msg)``), or it calls ``lib.exits``.
``fatal`` is ``sysfatal``: one line ``prog: message`` on fd 2, then the message as the exit
string.  Everything here goes through ``lp49fs.lib``; nothing touches the core directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import QTDIR

IOUNIT = 8192  # bytes per read when copying


def splitflags(argv: list[str], letters: str) -> tuple[set[str], list[str]] | None:
    """Split ``argv[1:]`` into the set of flag letters and the operands (ARGBEGIN rules).

    Flags come first, may be grouped (``-lq``), end at ``--`` or the first operand; ``-``
    alone is an operand.  None if a letter is not in ``letters``.
    """
    flags: set[str] = set()
    args = argv[1:]
    while args and args[0].startswith("-") and args[0] != "-":
        a = args.pop(0)
        if a == "--":
            break
        for ch in a[1:]:
            if ch not in letters:
                return None
            flags.add(ch)
    return flags, args


async def getflags(argv: list[str], letters: str, text: str) -> tuple[set[str], list[str]]:
    """``splitflags``, or the usage line ``text`` on fd 2 and exit ``usage``."""
    r = splitflags(argv, letters)
    if r is None:
        await usage(text)
    return r


async def eprint(text: str) -> None:
    """Write ``text`` to fd 2, ignoring a missing or broken fd 2."""
    try:
        await lib.fprint(2, text)
    except Error:
        pass


async def fatal(prog: str, msg: str) -> NoReturn:
    """Plan 9 ``sysfatal``: print ``prog: msg`` on fd 2 and exit with ``msg``."""
    await eprint(f"{prog}: {msg}\n")
    raise Error(msg)


async def usage(text: str) -> NoReturn:
    await eprint(f"usage: {text}\n")
    raise Error("usage")


async def each(prog: str, names: list[str], act: Callable[[str], Awaitable[None]],
               quiet: bool = False, exits: str = "errors") -> None:
    """Run ``act`` on every operand in turn, as rm, mkdir, cp and mv do.

    An operand that fails prints ``prog: name: error`` on fd 2 and the rest still run; after
    the last, the program ends with ``exits`` if any failed.  ``quiet`` (rm -f) neither
    prints nor counts the failures.
    """
    failed = False
    for name in names:
        try:
            await act(name)
        except Error as e:
            if not quiet:
                await eprint(f"{prog}: {name}: {e.ename}\n")
                failed = True
    if failed:
        raise Error(exits)


async def isdir(path: str) -> bool:
    """True if ``path`` names a directory; False if it is a file or cannot be stat'ed."""
    try:
        return bool((await lib.stat(path)).qid.type & QTDIR)
    except Error:
        return False


async def fromto(prog: str, argv: list[str]) -> tuple[list[str], Callable[[str], str]]:
    """The operands of ``prog from ... to``: the sources and the target of each.

    A directory ``to`` receives every source under its own name; several sources need one.
    """
    if len(argv) < 3:
        await usage(f"{prog} from ... to")
    *srcs, to = argv[1:]
    if not await isdir(to):
        if len(srcs) > 1:
            await usage(f"{prog} from ... to  (to must be a directory)")
        return srcs, lambda src: to
    return srcs, lambda src: to.rstrip("/") + "/" + basename(src)


async def copyfd(src: int, dst: int) -> int:
    """Copy ``src`` to ``dst`` until end of file; returns the byte count."""
    total = 0
    while data := await lib.read(src, IOUNIT):
        await lib.write(dst, data)
        total += len(data)
    return total


async def readfile(path: str) -> bytes:
    fd = await lib.open(path, 0)
    try:
        return await lib.readall(fd)
    finally:
        await lib.close(fd)


def basename(path: str) -> str:
    path = path.rstrip("/")
    return path.rsplit("/", 1)[-1] if path else "/"


def dirname(path: str) -> str:
    if path.startswith("/") and not path.strip("/"):
        return "/"
    path = path.rstrip("/")
    if "/" not in path:
        return "."
    head = path.rsplit("/", 1)[0]
    return head or "/"
