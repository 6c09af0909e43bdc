"""ramfs: the in-memory file server as an LP49 program, posted in /srv (Plan 9 ramfs -S).

``ramfs [-S srvname]`` (default name ``ramfs``) makes a pipe, posts one end as
``/srv/srvname`` and serves 9P on the other end with ``lp49fs.lib9p.serve`` through system
calls only (``lp49fs.lib.FdLink``), until every client end is gone.  Mount it with
``mount -c /srv/ramfs /tmp``.  The server's owner (its root directory's, and the user who
may change owners: ``servers/ramfs`` Rule 4) is the LP49 user who started it.

``serveposted(name, fs)`` is the part every such server shares: pipe, post, close the posted
end in this process (the /srv entry holds it now), serve the other end.  A name that is
taken is refused (``ramfs: /srv/ramfs: file already exists``), as in Plan 9: a running
server is never replaced; ``rm /srv/name`` first (the node's server supervisor removes the
stale entry of a server it restarts itself).
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import fatal
from lp49fs.errors import Error
from lp49fs.lib9p import FileServer, serve
from lp49fs.ninep import OWRITE
from lp49fs.servers.ramfs import MSIZE, Ramfs

USAGE = "usage: ramfs [-S srvname]"


async def post(name: str, fd: int, prog: str = "ramfs") -> None:
    """Post ``fd`` as ``/srv/name`` (create + write of the fd number, as srv(3) says)."""
    path = f"/srv/{name}"
    try:
        sfd = await lib.create(path, OWRITE, 0o666)
    except Error as e:
        await fatal(prog, f"{path}: {e.ename}")
    try:
        await lib.write(sfd, str(fd).encode())
    finally:
        await lib.close(sfd)


async def serveposted(name: str, fs: FileServer, msize: int = MSIZE, prog: str = "ramfs") -> None:
    """Serve ``fs`` on a pipe whose other end is posted as ``/srv/name``; returns at EOF.

    ``msize`` is the largest message size the server agrees to (the client may ask less);
    ``prog`` names the server in its one-line refusal of a taken name.
    """
    client, server = await lib.pipe()
    await post(name, client, prog)
    await lib.close(client)
    link = lib.FdLink(server)
    try:
        await serve(link, fs, msize=msize)
    finally:
        await link.aclose()


async def main(argv: list[str]) -> None:
    args = argv[1:]
    name = "ramfs"
    if args[:1] == ["-S"] and len(args) == 2:
        name = args[1]
    elif args:
        raise Error(USAGE)
    await serveposted(name, Ramfs(await lib.whoami()))  # its owner: who started it
