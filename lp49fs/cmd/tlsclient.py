"""tlsclient -a authdir -u user -h host: mutual TLS 1.3 between fd 0 and fd 1 (9front tlsclient).

fd 0 is a connection to a node's authenticated export listener (a ``/net/tcp/N/data`` fd);
fd 1 is one end of a pipe whose other end the caller (``import``) keeps and mounts.  The
program runs the client side of the TLS handshake on fd 0 as ``user`` (its certificate from
``authdir``), verifying that the server is node ``host`` of the same authority
(``lp49fs.auth.tls.client``), then relays: plaintext read from fd 1 is sent through TLS,
what TLS receives is written to fd 1, until either side ends.  This is the process that
Plan 9's ``import -e`` would push as a filter: the mount driver only ever sees a pipe.

Rules
  1. A refused handshake writes its one line (``tls: certificate revoked`` ...) to fd 1
     and exits with it (also when the server's refusal comes after the client finished its
     side of the TLS 1.3 handshake, before any data): the importer, waiting for the
     exporter's ``OK``, reads the line as the refusal and reports it
     (``exportfs_hs.request``).
  2. When either direction ends, both fds are closed, so the mount hangs up.
"""

from __future__ import annotations

import contextlib

import trio

from lp49fs import lib
from lp49fs.auth.tls import client
from lp49fs.errors import Error
from lp49fs.ninep import Link

USAGE = "usage: tlsclient -a authdir -u user -h host"
CHUNK = 1 << 18  # up to four 64 KiB Rreads of plaintext per pipe write (tlslink)


def parse(argv: list[str]) -> dict[str, str]:
    opts: dict[str, str] = {}
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a in ("-a", "-u", "-h") and args:
            opts[a[1]] = args.pop(0)
        else:
            raise Error(USAGE)
    if set(opts) != {"a", "u", "h"}:
        raise Error(USAGE)
    return opts


async def main(argv: list[str]) -> None:
    opts = parse(argv)
    net, plain = lib.FdLink(0), lib.FdLink(1)
    try:
        tls = await client(net, opts["a"], opts["u"], opts["h"])
    except Error as e:
        await plain.send_all(e.ename.encode())  # Rule 1
        await plain.aclose()
        await net.aclose()
        raise
    async with trio.open_nursery() as n:

        async def pump(src: Link, dst: Link) -> None:
            relayed = False
            try:
                while data := await src.receive_some(CHUNK):
                    await dst.send_all(data)
                    relayed = True
            except Error as e:  # Rule 1: a refusal after TLS 1.3 let us finish the handshake
                if src is tls and not relayed:
                    with contextlib.suppress(Error, trio.BrokenResourceError):
                        await plain.send_all(e.ename.encode())
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            n.cancel_scope.cancel()  # Rule 2

        n.start_soon(pump, tls, plain)
        n.start_soon(pump, plain, tls)
    with trio.CancelScope(shield=True):
        await plain.aclose()
        await tls.aclose()
