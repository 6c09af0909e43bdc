"""echo [-n] [arg ...]: write the arguments, blank-separated, with a newline unless -n.

As in Plan 9 the line goes out in one ``write``, so a reader of a pipe sees one message;
a failed write is reported (``echo: write error: ...``) and is the exit string.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint
from lp49fs.errors import Error


async def main(argv: list[str]) -> None:
    args = argv[1:]
    nl = "\n"
    if args and args[0] == "-n":
        args, nl = args[1:], ""
    text = " ".join(args) + nl
    if text:
        try:
            await lib.write(1, text.encode())
        except Error as e:
            await eprint(f"echo: write error: {e.ename}\n")
            raise Error("write error") from None
