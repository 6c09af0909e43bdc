"""echo [-n] [arg ...]: write the arguments, blank-separated, with a newline unless -n.

As in Plan 9 the line goes out in one ``write``, so a reader of a pipe sees one message.
"""

from __future__ import annotations

from lp49fs import lib


async def main(argv: list[str]) -> None:
    args = argv[1:]
    nl = "\n"
    if args and args[0] == "-n":
        args, nl = args[1:], ""
    text = " ".join(args) + nl
    if text:
        await lib.write(1, text.encode())
