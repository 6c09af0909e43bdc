"""ns [pid]: print the name space of process ``pid`` (default: this one) as rc commands.

The lines come from ``/proc/pid/ns`` (one mount per read, ``cd dir`` last) and are
re-quoted rc-style so that the output can be fed back to ``sh`` or, saved in a file, to
``newns -n file`` / ``addns -n file``, which rebuild the same tree: ``bind  '#c' /dev``.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._fmt import nsline
from lp49fs.cmd._util import fatal, readfile, usage
from lp49fs.errors import Error


async def main(argv: list[str]) -> None:
    if len(argv) > 2:
        await usage("ns [pid]")
    pid = argv[1] if len(argv) == 2 else str(await lib.getpid())
    try:
        text = (await readfile(f"/proc/{pid}/ns")).decode()
    except Error as e:
        await fatal("ns", f"/proc/{pid}/ns: {e.ename}")
    out = [nsline(line) for line in text.splitlines() if line.strip()]
    await lib.print("".join(line + "\n" for line in out))
