"""``lp49 ramfs [--listen ADDR] [--msize N] [-v]``: serve a fresh in-memory tree over 9P2000.

It announces ADDR (a dial string: ``tcp!127.0.0.1!5640`` by default, ``tcp!*!564``,
``unix!/path``), logs one line ``ramfs: serving on ADDR`` with the address actually bound
(so ``tcp!127.0.0.1!0`` shows the port picked), and serves every connection until
interrupted.  A bad client costs one log line and its own connection, never the server.
"""

from __future__ import annotations

from ._main import parse, parser, serve_main
from .ramfs import Ramfs


def main(argv: list[str]) -> int:
    p = parser("ramfs", __doc__)
    p.add_argument("--owner", default=None, help="owner of the root (default: this user)")
    args = parse(p, argv)
    return serve_main("ramfs", args, Ramfs(args.owner))
