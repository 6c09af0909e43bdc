"""``lp49 u9fs [--listen ADDR] [--msize N] [--readonly] [-v] DIR``: serve a Linux directory.

The host side of Plan 9's u9fs(4): it announces ADDR (a dial string, default
``tcp!127.0.0.1!5640``; ``tcp!*!564`` is the classic 9fs port), logs one line
``u9fs: serving DIR on ADDR`` with the address actually bound (so port 0 shows the port
picked), and serves every connection until interrupted.  A bad client costs one log line
and its own connection, never the server.  An LP49 node reaches it with
``srv tcp!HOST!PORT unix; mount /srv/unix /n/unix``.
"""

from __future__ import annotations

import argparse
import functools
import logging

import trio

from lp49fs.errors import Error
from lp49fs.lib9p import DEFAULT_MSIZE, serve_forever
from lp49fs.transport import announce

from .u9fs import U9fs

log = logging.getLogger("u9fs")


async def run(addr: str, msize: int, fs: U9fs) -> None:
    listener = await announce(addr)
    log.warning("u9fs: serving %s on %s", fs.root, listener.addr)
    try:
        await serve_forever(listener, fs, msize=msize)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lp49 u9fs", description=__doc__.split("\n")[0])
    p.add_argument("--listen", "-l", default="tcp!127.0.0.1!5640", metavar="ADDR",
                   help="dial string to announce (default %(default)s)")
    p.add_argument("--msize", type=int, default=DEFAULT_MSIZE, help="largest msize offered")
    p.add_argument("--readonly", "-R", action="store_true", help="refuse every change")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    p.add_argument("dir", metavar="DIR", help="the Linux directory to serve")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    try:
        fs = U9fs(args.dir, readonly=args.readonly)
    except OSError as e:
        log.error("u9fs: %s: %s", args.dir, e.strerror)
        return 1
    except Error as e:
        log.error("u9fs: %s: %s", args.dir, e.ename)
        return 1
    try:
        trio.run(functools.partial(run, args.listen, args.msize, fs))
    except Error as e:
        log.error("u9fs: %s", e.ename)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
