"""pwd: print the current directory (``getwd``) and a newline."""

from __future__ import annotations

from lp49fs import lib


async def main(argv: list[str]) -> None:
    await lib.print(await lib.getwd() + "\n")
