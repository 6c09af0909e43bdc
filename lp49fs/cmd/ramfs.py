"""ramfs: the in-memory file server as an LP49 program, posted in /srv (Plan 9 ramfs -S).

``ramfs [-S srvname] [-r size|N%]`` (default name ``ramfs``) makes a pipe, posts one end as
``/srv/srvname`` and serves 9P on the other end with ``lp49fs.lib9p.serve`` through system
calls only (``lp49fs.lib.FdLink``), until every client end is gone.  Mount it with
``mount -c /srv/ramfs /tmp``.  The server's owner (its root directory's, and the user who
may change owners: ``servers/ramfs`` Rule 4) is the LP49 user who started it.

``-r`` keeps the tree in the retained region ``ramfs.srvname`` (``lp49fs.lib.segattach``;
made of ``size`` bytes, or of N percent of the node's free memory, the first time): every
change is logged there before it is answered (``lp49fs.servers.ramlog``), and a ramfs started
again with the same name (after a crash or a kill) serves the tree it finds there.

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
from lp49fs.servers.ramdata import size as parsesize
from lp49fs.servers.ramfs import MSIZE, Ramfs
from lp49fs.servers.ramlog import Journal

USAGE = "usage: ramfs [-S srvname] [-r size|N%]"


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
    opts = dict(zip(args[::2], args[1::2], strict=False))
    if len(args) % 2 or set(opts) - {"-S", "-r"}:
        raise Error(USAGE)
    name = opts.get("-S", "ramfs")
    fs = Ramfs(await lib.whoami())  # its owner: who started it
    if "-r" in opts:
        await retain(fs, f"ramfs.{name}", opts["-r"])
    await serveposted(name, fs)


async def retain(fs: Ramfs, region: str, size: str) -> None:
    """Keep ``fs`` in retained region ``region`` (``-r``), loading the tree it holds."""
    try:
        pct = int(size[:-1]) if size.endswith("%") else 0
        nbytes = 0 if pct else parsesize(size)
    except ValueError:
        raise Error(USAGE) from None
    seg = await lib.segattach(region, nbytes, pct)
    j = Journal(seg)
    if await fs.retain(j):
        await lib.fprint(2, f"ramfs: {region}: {len(fs.nodes)} files back, "
                            f"{j.records} changes replayed\n")  # fmt: skip
