"""``lp49 ramfs [--listen ADDR] [--msize N] [-v]``: serve a fresh in-memory tree over 9P2000.

It announces ADDR (a dial string: ``tcp!127.0.0.1!5640`` by default, ``tcp!*!564``,
``unix!/path``), logs one line ``ramfs: serving on ADDR`` with the address actually bound
(so ``tcp!127.0.0.1!0`` shows the port picked), and serves every connection until
interrupted.  A bad client costs one log line and its own connection, never the server.
"""

from __future__ import annotations

import argparse
import functools
import logging

import trio

from lp49fs.errors import Error
from lp49fs.lib9p import DEFAULT_MSIZE, serve_forever
from lp49fs.transport import announce

from .ramfs import Ramfs

log = logging.getLogger("ramfs")


async def run(addr: str, msize: int, owner: str | None) -> None:
    listener = await announce(addr)
    log.warning("ramfs: serving on %s", listener.addr)
    try:
        await serve_forever(listener, Ramfs(owner), msize=msize)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lp49 ramfs", description=__doc__.split("\n")[0])
    p.add_argument("--listen", "-l", default="tcp!127.0.0.1!5640", metavar="ADDR",
                   help="dial string to announce (default %(default)s)")
    p.add_argument("--msize", type=int, default=DEFAULT_MSIZE, help="largest msize offered")
    p.add_argument("--owner", default=None, help="owner of the root (default: this user)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    try:
        trio.run(functools.partial(run, args.listen, args.msize, args.owner))
    except Error as e:
        log.error("ramfs: %s", e.ename)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
