"""srv [-A authdir [-u user]] [-abcCq] [fd | net!host[!port]] name [mtpt]: post a channel.

With a dial string (it contains ``!``; the port defaults to 9fs, 564) srv dials it first
through ``/net`` (``#I``; ``lp49fs.servers.exportfs.net.dialfd``) and posts the plain 9P
connection, as Plan 9 does.  With ``$auth`` set (an authority directory) the connection is
mutual TLS 1.3 first, as the caller's user (``exportfs_net.tlsfd``), and the TLS
conversation's plaintext ``data`` file (``#a``) is posted; ``-A authdir`` (and ``-u user``,
the certificate to present) say so for this dial alone (the node dials its own host servers
so, with a private authority).

Otherwise the channel is already open, as fd ``fd`` (default 0, so ``srv name <file``
works).  Posting is #s's protocol:
``create("/srv/name", OWRITE, 0600)`` then write the fd number as text.  With ``mtpt`` the
posted channel is then mounted there with the bind flags given.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint, getflags, usage
from lp49fs.cmd.bind import mountflag
from lp49fs.cmd.newns import getenv
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OWRITE
from lp49fs.servers.exportfs.net import NINEP_PORT, dialfd, netaddr, tlsfd

USAGE = "srv [-A authdir [-u user]] [-abcCq] [fd | net!host[!port]] name [mtpt]"


async def post(fd: int, name: str) -> str:
    """Post ``fd`` as /srv/``name`` (a bare name) and return the path."""
    path = name if name.startswith("/") or name.startswith("#") else "/srv/" + name
    sfd = await lib.create(path, OWRITE, 0o600)
    try:
        await lib.write(sfd, str(fd).encode())
    finally:
        await lib.close(sfd)
    return path


def authopts(argv: list[str]) -> tuple[list[str], str | None, str | None]:
    """``-A dir`` and ``-u user`` taken off the front of ``argv`` (after its name)."""
    rest, opts = argv[1:], dict[str, str | None]({"-A": None, "-u": None})
    while rest[:1] and rest[0] in opts and len(rest) > 1:
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    return [argv[0], *rest], opts["-A"], opts["-u"]


async def main(argv: list[str]) -> None:
    argv, authopt, useropt = authopts(argv)
    flags, args = await getflags(argv, "abcCq", USAGE)
    flag = mountflag(flags)
    fd, dialled = 0, False
    if args and args[0].isdigit():
        fd = int(args.pop(0))
    elif len(args) in (2, 3) and "!" in args[0]:  # srv [net!]host[!port] name [mtpt]
        addr = netaddr(args.pop(0), NINEP_PORT)
        try:
            fd, dialled = await dialfd(addr), True
            authdir = authopt or await getenv("auth")
            if authdir:  # mutual TLS first, as import does (docs/security.md)
                user = useropt or await getenv("authuser") or await lib.whoami()
                fd = await tlsfd(fd, addr, authdir, user)
        except Error as e:
            if "q" not in flags:
                await eprint(f"srv: {addr}: {e.ename}\n")
            raise
    if len(args) not in (1, 2) or flag is None:
        await usage(USAGE)
    try:
        path = await post(fd, args[0])
        if dialled:
            await lib.close(fd)  # the /srv entry holds the connection now
        if len(args) == 2:
            mfd = await lib.open(path, ORDWR)
            try:
                await lib.mount(mfd, -1, args[1], flag, "")
            finally:
                try:
                    await lib.close(mfd)
                except Error:
                    pass
    except Error as e:
        if "q" not in flags:
            await eprint(f"srv: {args[0]}: {e.ename}\n")
        raise
