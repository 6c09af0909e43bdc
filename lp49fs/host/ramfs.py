"""``lp49 ramfs [--listen ADDR] [--msize N] [--maxsize N] [--maxfile N] [-v]``: serve a tree.

It announces ADDR (a dial string: ``tcp!127.0.0.1!5640`` by default, ``tcp!*!564``,
``unix!/path``), logs one line ``ramfs: serving on ADDR`` with the address actually bound
(so ``tcp!127.0.0.1!0`` shows the port picked), and serves every connection until
interrupted.  A bad client costs one log line and its own connection, never the server.
``--maxsize`` bounds the bytes the tree holds (``file system full``), ``--maxfile`` a file's
length (``file too large``); sizes take K, M, G suffixes (``lp49fs.servers.ramdata``).
"""

from __future__ import annotations

from lp49fs.host.serve import parse, parser, serve_main
from lp49fs.servers.ramdata import MAXFILE, MAXSTORE, size
from lp49fs.servers.ramfs import Ramfs


def main(argv: list[str]) -> int:
    p = parser("ramfs", __doc__)
    p.add_argument("--owner", default=None, help="owner of the root (default: this user)")
    p.add_argument("--maxsize", type=size, default=MAXSTORE, help="bytes the tree may hold")
    p.add_argument("--maxfile", type=size, default=MAXFILE, help="longest file")
    args = parse(p, argv)
    return serve_main("ramfs", args, Ramfs(args.owner, maxsize=args.maxsize, maxfile=args.maxfile))


