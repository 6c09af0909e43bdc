"""What ``lp49 ramfs`` and ``lp49 u9fs`` share: the serving options, logging, and the run.

A server program builds its parser with ``parser(name, doc)`` (``--listen ADDR`` with the
default ``tcp!127.0.0.1!5640``, ``--msize N``, ``--maxconns N``, ``--idle SECS``
(``lp49fs.lib9p.limits``), ``--auth DIR`` with ``--node NAME`` (every connection mutual TLS
1.3 with that authority's certificates, the server presenting node NAME's: a node's own
host servers are dialled this way; an attach must name the client's certificate, except
for a certificate named by ``--speaker``, which speaks for other users), ``--parent-fd
N`` (the read end of a pipe whose write end only the starting process holds: at its EOF
that process is gone, however it died, and the server stops; a node starts its host
servers so), ``-v``), adds its
own options, parses with ``parse`` (which also sets up logging: one bare line per message
on stderr, INFO with ``-v``), makes its ``FileServer`` and hands it to ``serve_main``.
That announces the address, logs ``NAME: serving [WHAT ]on ADDR`` with the address
actually bound (port 0 shows the port picked), serves every connection until interrupted,
and returns the exit status: 0 after ^C, 1 with one log line when the address cannot be
announced.
"""

from __future__ import annotations

import argparse
import functools
import logging

import trio

from hwsim.console import copy_input
from lp49fs.auth.tls import ServerAuth
from lp49fs.errors import Error
from lp49fs.lib9p import DEFAULT_MSIZE, FileServer, serve_forever
from lp49fs.lib9p.limits import IDLE, MAXCONNS
from lp49fs.transport import announce

DEFAULT_ADDR = "tcp!127.0.0.1!5640"


def parser(name: str, doc: str) -> argparse.ArgumentParser:
    """``lp49 NAME``'s parser with the options every server has; described by doc's line 1."""
    p = argparse.ArgumentParser(prog=f"lp49 {name}", description=doc.split("\n")[0])
    p.add_argument(
        "--listen",
        "-l",
        default=DEFAULT_ADDR,
        metavar="ADDR",
        help="dial string to announce (default %(default)s)",
    )
    p.add_argument("--msize", type=int, default=DEFAULT_MSIZE, help="largest msize offered")
    p.add_argument("--maxconns", type=int, default=MAXCONNS, help="connections served at once")
    p.add_argument("--idle", type=float, default=IDLE, help="seconds before a silent client is cut")
    p.add_argument("--auth", metavar="DIR", help="mutual TLS with this authority's certificates")
    p.add_argument("--node", default="hostservers", help="the node certificate presented")
    p.add_argument("--speaker", action="append", default=[], metavar="NAME",
                   help="a certificate that may attach as any user (with --auth)")
    p.add_argument("--parent-fd", type=int, metavar="N",
                   help="stop when this fd reaches end of file (its starter is gone)")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    return p


def parse(p: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    return args


async def run(
    name: str,
    addr: str,
    msize: int,
    fs: FileServer,
    what: str = "",
    limits: tuple[int, float] = (MAXCONNS, IDLE),
    auth: tuple[str, str] | None = None,
    speakers: frozenset[str] = frozenset(),
    parent: int | None = None,
) -> None:
    wrap = ServerAuth(*auth, speakers=speakers).accept if auth is not None else None
    listener = await announce(addr)
    serving = f"{what} on" if what else "on"
    say = logging.getLogger(name)
    say.warning("%s: serving %s %s", name, serving, listener.addr)
    try:
        async with trio.open_nursery() as n:
            n.start_soon(functools.partial(serve_forever, listener, fs, msize=msize,
                                           maxconns=limits[0], idle=limits[1],
                                           wrap=wrap))  # fmt: skip
            if parent is not None:
                await copy_input(parent, _ignore)  # returns at end of file
                say.warning("%s: the process that started it is gone: stopping", name)
                n.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()


async def _ignore(data: bytes) -> None:
    """Bytes written to the ``--parent-fd`` pipe mean nothing; only its end does."""


def serve_main(name: str, args: argparse.Namespace, fs: FileServer, what: str = "") -> int:
    """Serve ``fs`` as ``args`` say until interrupted; the exit status."""
    try:
        limits = (args.maxconns, args.idle)
        auth = (args.auth, args.node) if args.auth else None
        speakers = frozenset(args.speaker)
        trio.run(functools.partial(run, name, args.listen, args.msize, fs, what, limits, auth,
                                   speakers, args.parent_fd))  # fmt: skip
    except Error as e:
        logging.getLogger(name).error("%s: %s", name, e.ename)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
