"""servers: the node's supervised servers, from /dev/servers, as a table.

Each line of ``/dev/servers`` (``lp49fs.node.monitor``) is ``name kind state pid starts
restarts 'last exit'``; ``servers`` prints them under a header, the last exit unquoted.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import fatal, readfile, usage
from lp49fs.errors import Error

HEADER = ("NAME", "KIND", "STATE", "PID", "STARTS", "RESTARTS", "LAST EXIT")


async def main(argv: list[str]) -> None:
    if argv[1:]:
        await usage("servers")
    try:
        text = (await readfile("/dev/servers")).decode()
    except Error as e:
        await fatal("servers", f"/dev/servers: {e.ename}")
    rows = [HEADER] + [row(line) for line in text.splitlines()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    out = "".join(" ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " " + r[-1]
                  + "\n" for r in rows)  # fmt: skip
    await lib.print(out)


def row(line: str) -> tuple[str, ...]:
    """The fields of one line; only the last may be quoted (``%q``: quotes doubled)."""
    f = line.split(" ", len(HEADER) - 1)
    f += [""] * (len(HEADER) - len(f))
    last = f[-1]
    if len(last) >= 2 and last[0] == last[-1] == "'":
        f[-1] = last[1:-1].replace("''", "'")
    return tuple(f)
