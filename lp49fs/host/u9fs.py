"""``lp49 u9fs [--listen ADDR] [--readonly] [--devices] [-u USER] [--owner NAME] [-v] DIR``:
serve a Linux directory.

The host side of Plan 9's u9fs(4): it announces ADDR (a dial string, default
``tcp!127.0.0.1!5640``; ``tcp!*!564`` is the classic 9fs port), logs one line
``u9fs: serving DIR on ADDR`` with the address actually bound (so port 0 shows the port
picked), and serves every connection until interrupted.  A bad client costs one log line
and its own connection, never the server.  An LP49 node reaches it with
``srv tcp!HOST!PORT unix; mount /srv/unix /n/unix``.

Run as root it serves each attach as the Linux user of the attach name (``none`` as
nobody; unknown names and root are refused ``unknown user``); ``-u USER`` serves every
attach as USER, and ``--owner NAME`` serves attaches by NAME as the server's own user (the
node passes its host owner).  Run as anyone else it serves only attaches by that user's
name (``u9fs.ident``).
"""

from __future__ import annotations

import logging

from lp49fs.errors import Error
from lp49fs.host.serve import parse, parser, serve_main
from lp49fs.servers.u9fs import U9fs

log = logging.getLogger("u9fs")


def main(argv: list[str]) -> int:
    p = parser("u9fs", __doc__)
    p.add_argument("--readonly", "-R", action="store_true", help="refuse every change")
    p.add_argument("--devices", action="store_true", help="serve FIFOs, sockets, devices")
    p.add_argument("-u", dest="user", metavar="USER", help="serve every attach as USER")
    p.add_argument("--owner", metavar="NAME", help="serve attaches by NAME as this process")
    p.add_argument("dir", metavar="DIR", help="the Linux directory to serve")
    args = parse(p, argv)
    try:
        fs = U9fs(args.dir, readonly=args.readonly, devices=args.devices, user=args.user,
                  owner=args.owner)  # fmt: skip
    except OSError as e:
        log.error("u9fs: %s: %s", args.dir, e.strerror)
        return 1
    except Error as e:
        log.error("u9fs: %s: %s", args.dir, e.ename)
        return 1
    return serve_main("u9fs", args, fs, what=str(fs.root))
