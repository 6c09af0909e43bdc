"""Helpers shared by the LP49 programs: Plan 9 ARGBEGIN-style flags, fatal errors, copying.

A program ends in one of three ways, as in Plan 9: it returns (exit string ""), it raises
``Error(msg)`` (the runtime turns that into ``exits(msg)``), or it calls ``lib.exits``.
``fatal`` is ``sysfatal``: one line ``prog: message`` on fd 2, then the message as the exit
string.  Everything here goes through ``lp49fs.lib``; nothing touches the core directly.
"""

from __future__ import annotations

from typing import NoReturn

from lp49fs import lib
from lp49fs.errors import Error

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
