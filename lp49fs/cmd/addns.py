"""addns [-n nsfile] [command ...]: ``newns -a``, the namespace file added to this name space."""

from __future__ import annotations

from lp49fs.cmd import newns


async def main(argv: list[str]) -> None:
    await newns.main([argv[0], "-a", *argv[1:]])
