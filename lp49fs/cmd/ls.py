"""ls [-dlnqt] [name ...]: list files and directory contents (Plan 9 ls(1)).

For each operand ls stats it; a directory (without ``-d``) is read whole with
``dirreadall`` and its entries are listed as ``operand/entry`` (bare names when there are
no operands, which means ``.``).  Entries are sorted by name (``-t``: newest first; ``-n``:
not at all); union directories list every member's entries, duplicates kept, as the kernel
returns them.  ``-l`` and ``-q`` add the columns of ``_fmt.lslines``.  An operand that
cannot be stated or read prints ``ls: name: error`` and the exit string becomes ``errors``.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._fmt import Entry, lslines
from lp49fs.cmd._util import eprint, getflags, readfile
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, QTDIR, Dir

USAGE = "ls [-dlnqt] [file ...]"


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "dlnqt", USAGE)
    now = await _now() if "l" in flags else 0
    errors = False
    files: list[Entry] = []
    for name in args or ["."]:
        multi = bool(args)
        try:
            d = await lib.stat(name)
            if d.qid.type & QTDIR and "d" not in flags:
                await _output(files, flags, now)
                files = []
                entries = await _readdir(name)
                prefix = _clean(name) if multi else ""
                await _output([Entry(e, _join(prefix, e.name)) for e in entries], flags, now)
            else:
                files.append(Entry(d, _clean(name)))
        except Error as e:
            await eprint(f"ls: {name}: {e.ename}\n")
            errors = True
    await _output(files, flags, now)
    if errors:
        raise Error("errors")


async def _readdir(name: str) -> list[Dir]:
    fd = await lib.open(name, OREAD)
    try:
        return await lib.dirreadall(fd)
    finally:
        await lib.close(fd)


async def _output(entries: list[Entry], flags: set[str], now: int) -> None:
    if not entries:
        return
    if "t" in flags:
        entries = sorted(entries, key=lambda e: -e.d.mtime)
    elif "n" not in flags:
        entries = sorted(entries, key=lambda e: e.name)
    lines = lslines(entries, "l" in flags, "q" in flags, now)
    await lib.print("".join(line + "\n" for line in lines))


async def _now() -> int:
    try:
        return int((await readfile("/dev/time")).split()[0])
    except (Error, IndexError, ValueError):
        return 0


def _clean(name: str) -> str:
    """Compress slashes and drop a trailing one (ls's xcleanname)."""
    while "//" in name:
        name = name.replace("//", "/")
    return name.rstrip("/") or name


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return ("" if prefix == "/" else prefix) + "/" + name
