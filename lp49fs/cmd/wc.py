"""wc [-lwc] [file ...]: count lines, words and bytes (all three by default).

Each line is the counts, 7 wide, then the file name; with several files a ``total`` line
follows, as in Plan 9 wc(1).  Words are runs of non-blank characters.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import IOUNIT, eprint, getflags
from lp49fs.errors import Error
from lp49fs.ninep import OREAD


def wcline(counts: tuple[int, int, int], flags: set[str], name: str) -> str:
    sel = [c for c, f in zip(counts, "lwc", strict=True) if f in flags]
    return "".join(f"{n:7d} " for n in sel).rstrip(" ") + (f" {name}" if name else "")


async def _countfd(fd: int) -> tuple[int, int, int]:
    lines = words = chars = 0
    inword = False
    while data := await lib.read(fd, IOUNIT):
        lines += data.count(b"\n")
        chars += len(data)
        for b in data:
            blank = b in b" \t\n\r\v\f"
            if not blank and not inword:
                words += 1
            inword = not blank
    return lines, words, chars


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "lwc", "wc [-lwc] [file ...]")
    flags = flags or {"l", "w", "c"}
    out: list[str] = []
    if not args:
        out.append(wcline(await _countfd(0), flags, ""))
    total = (0, 0, 0)
    failed = False
    for name in args:
        try:
            fd = await lib.open(name, OREAD)
            try:
                c = await _countfd(fd)
            finally:
                await lib.close(fd)
        except Error as e:
            await eprint(f"wc: {name}: {e.ename}\n")
            failed = True
            continue
        total = (total[0] + c[0], total[1] + c[1], total[2] + c[2])
        out.append(wcline(c, flags, name))
    if len(args) > 1:
        out.append(wcline(total, flags, "total"))
    await lib.print("".join(line + "\n" for line in out))
    if failed:
        raise Error("errors")
