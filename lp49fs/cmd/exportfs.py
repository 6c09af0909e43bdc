"""exportfs [-R] [-N] [-a authdir [-U users]] [-X path] [-r root] [-m msize] [-l addr]: serve 9P.

Without ``-l`` (one connection, Plan 9 exportfs): fd 0 is the link.  The import handshake
(``lp49fs.servers.exportfs.hs``) comes first: the tree name, answered ``OK`` once it is a
directory under ``root``, then the ``impo`` line; or, if the first bytes are plain 9P2000,
none at all (the attach name is then the tree).  Then every 9P request is relayed to this
process's name space (``lp49fs.servers.exportfs.ExportFs``) until the link ends.
``-R`` refuses every change; ``-r root`` (default ``/``) is the top the importer can reach.

With ``-l addr`` (the node's export listener): announce ``addr`` (``tcp!*!17007``) on
``/net`` (``#I``), and for each call accepted run ``exportfs [-R] [-r root]`` as a new
process, with its own copy of this name space and the call's data fd as fd 0
(``exportfs_net.listen``); ``-k`` sets the keepalive period written to each call's ctl;
``-c n`` caps the exportfs processes at once (``lib9p.limits.MAXCONNS`` by default: the next
caller waits in the backlog).

Bounds on one connection (the host servers' ``lib9p.limits``): ``-t secs`` ends a link
silent that long (``IdleLink``, default ``IDLE``), and the TLS plus import handshake must be
over within ``HANDSHAKE`` seconds, so a caller that connects and says nothing holds its
exportfs process (and the listener's slot) only that long.

Identity (docs/security.md).  ``-a authdir``: the link is first made mutual TLS 1.3 with the
certificates of that authority (``lp49fs.auth.tls``; this node's certificate is
``nodes/SYSNAME``), the handshake and 9P run inside it, and the process becomes the user
named by the client's certificate (``lib.become``: cap(3)) before it reads a byte of the
handshake.  ``-U cert=user,...`` (the node's ``[users]`` table) names the certificates
served and the user each acts as; a certificate not named becomes ``none`` and every attach
it makes is refused ``permission denied: certificate NAME is not a user of this node``.
``-N``: the process becomes ``none`` first (an unauthenticated listener).  Without either,
the process keeps its user (exportfs on a pipe, Plan 9's behaviour).  An attach whose uname
differs from the certificate's name is refused (``ExportFs`` Rule 5).
A TLS connection is ended, with a log line, once its certificate is revoked
(``ServerAuth.until_revoked``: ``lp49 auth revoke`` reaches connections already open).
``-X path``: unmount everything on ``path`` in the connection's own copy of the name space
before serving it, so the importer does not get it (the node passes ``-X /net`` unless its
config exports the network: an exported ``/net`` lets a client dial from this node).
"""

from __future__ import annotations

import logging

import trio

from lp49fs import lib
from lp49fs.auth.authority import NOBODY
from lp49fs.auth.tls import ServerAuth, TlsLink
from lp49fs.cmd._util import fatal
from lp49fs.errors import Enotdir, Error
from lp49fs.lib9p import LINK_MSIZE, serve
from lp49fs.lib9p.limits import HANDSHAKE, IDLE, MAXCONNS, IdleLink
from lp49fs.ninep import DMDIR, Link
from lp49fs.servers.exportfs import ExportFs, not_a_user, treenames
from lp49fs.servers.exportfs import hs as exportfs_hs
from lp49fs.servers.exportfs import net as exportfs_net

USAGE = ("usage: exportfs [-R] [-N] [-a authdir [-U users]] [-X path] [-r root] [-m msize]"
         " [-t idle]"
         " [-l addr [-k secs] [-c maxconns]]")
log = logging.getLogger("exportfs")


def parse(argv: list[str]) -> dict[str, str]:
    """Options as {letter: value} ('R' -> ''); raises Error(USAGE) on anything else."""
    opts: dict[str, str] = {}
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a in ("-R", "-N"):
            opts[a[1]] = ""
        elif a in ("-r", "-l", "-k", "-m", "-a", "-X", "-t", "-c", "-U") and args:
            opts[a[1]] = args.pop(0)
        else:
            raise Error(USAGE)
    return opts


class Authenticated:
    """What ``authenticate`` made of a link: the link to serve, the user ("" when the
    process keeps its own), and for TLS the listener's side and the TLS link."""

    def __init__(self, link: Link, user: str, sauth: ServerAuth | None = None,
                 tls: TlsLink | None = None, denied: str = "") -> None:  # fmt: skip
        self.link, self.user, self.sauth, self.tls = link, user, sauth, tls
        self.denied = denied  # the certificate, when [users] does not serve it ("" = it does)

    async def serve(self, link: Link, fs: ExportFs, msize: int) -> None:
        """9P on ``link`` until it ends, or until the TLS certificate is revoked."""
        if self.sauth is None or self.tls is None:
            await serve(link, fs, msize=msize)
            return
        sauth, tls = self.sauth, self.tls
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                await sauth.until_revoked(tls)
                log.warning("exportfs: %s's certificate was revoked: connection ended", tls.user)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            await serve(link, fs, msize=msize)
            nursery.cancel_scope.cancel()


def parse_users(text: str) -> dict[str, str]:
    """``-U``'s ``cert=user,...`` as {certificate name: user}; Error(USAGE) if malformed."""
    users: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        cert, eq, user = item.partition("=")
        if not (cert and eq and user):
            raise Error(USAGE)
        users[cert] = user
    return users


async def authenticate(
    link: Link, authdir: str | None, none: bool, users: dict[str, str] | None = None
) -> Authenticated:
    """TLS and the new identity (module docstring); ``users``: the ``-U`` table."""
    if authdir is not None:
        sauth = ServerAuth(authdir, await lib.sysname())
        tls = await sauth.accept(link)
        if users is not None and tls.user not in users:
            await lib.become(NOBODY)
            log.warning("exportfs: certificate %s is not in [users]: refused", tls.user)
            return Authenticated(tls, tls.user, sauth, tls, tls.user)
        user = tls.user if users is None else users[tls.user]
        await lib.become(user)
        log.info("exportfs: authenticated as %s, serving as %s", tls.user, user)
        return Authenticated(tls, tls.user, sauth, tls)
    if none:
        await lib.become(NOBODY)
        return Authenticated(link, NOBODY)
    return Authenticated(link, "")


async def serve_link(
    fd: int,
    root: str,
    readonly: bool,
    msize: int,
    authdir: str | None = None,
    none: bool = False,
    hide: str | None = None,
    idle: float = IDLE,
    users: dict[str, str] | None = None,
) -> None:
    """One connection on ``fd``: TLS if asked, the handshake, then 9P until the link ends."""
    if hide is not None:
        try:
            await lib.unmount(None, hide)
        except Error:
            pass  # nothing mounted there: nothing to hide
    with trio.move_on_after(HANDSHAKE) as bound:
        try:
            who = await authenticate(IdleLink(lib.FdLink(fd), idle), authdir, none, users)
            user = who.user
            fs = ExportFs(root, readonly=readonly, user=user, denied=who.denied)

            async def check(tree: str) -> None:
                if who.denied:
                    raise not_a_user(who.denied)
                d = await lib.stat(fs.path(treenames(tree)))
                if not d.mode & DMDIR:
                    raise Error(f"'{tree}' {Enotdir}")

            link, tree = await exportfs_hs.accept(who.link, check)
        except trio.BrokenResourceError as e:  # hung up, or silent past ``idle``: one line
            log.info("exportfs: before the first message: %s", e or "hung up")
            return
    if bound.cancelled_caught:
        raise Error(f"handshake not done in {HANDSHAKE:g} s")
    if tree is not None:
        fs = ExportFs(fs.path(treenames(tree)), readonly=readonly, user=user, denied=who.denied)
    await who.serve(link, fs, msize)


async def main(argv: list[str]) -> None:
    try:
        opts = parse(argv)
        msize = int(opts.get("m", LINK_MSIZE))
        period = float(opts.get("k", exportfs_net.KEEPALIVE))
        idle, maxconns = float(opts.get("t", IDLE)), int(opts.get("c", MAXCONNS))
        if idle <= 0 or maxconns < 1:
            raise ValueError(opts)
    except (Error, ValueError):
        await fatal("exportfs", USAGE)
    root, readonly, authdir = opts.get("r", "/"), "R" in opts, opts.get("a")
    if "l" in opts:
        child = ["exportfs", "-r", root, "-m", str(msize), "-t", f"{idle:g}"]
        child += ["-R"] if readonly else []
        child += ["-a", authdir] if authdir is not None else ["-N"]
        child += ["-X", opts["X"]] if "X" in opts else []
        child += ["-U", opts["U"]] if "U" in opts else []
        await exportfs_net.listen(opts["l"], child, period, maxconns=maxconns)
        return
    try:
        users = parse_users(opts["U"]) if "U" in opts else None
        await serve_link(0, root, readonly, msize, authdir, "N" in opts, opts.get("X"), idle,
                         users)  # fmt: skip
    except Error as e:
        log.info("exportfs: %s", e.ename)
