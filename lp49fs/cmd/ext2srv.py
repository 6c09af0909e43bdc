"""ext2srv: serve ext2 partitions over 9P, posted in /srv (Plan 9 ext2srv(4), LP49's Ext2FS).

``ext2srv [-r] [-S srvname] [-u usersfile] [partition]`` (default name ``ext2``) posts
``/srv/srvname`` and serves every attach on it: the attach's aname is the partition file to
open through the server's name space (``mount -c /srv/ext2 /n/e /dev/sdC0/linux``); an empty
aname means ``partition``.  Each partition is opened (read and write, or read only with
``-r`` or when the file refuses writing) and checked once, then shared by later attaches.
A partition that is not a usable ext2 file system fails that attach with the reason and
nothing else; a read-only image says why on fd 2 (``ext2srv: /dev/sdC0/linux: read-only:
has_journal``).  ``-u`` names a users(6) file (``id:name:...`` lines) mapping on-disk
numbers to names.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint
from lp49fs.cmd.ramfs import serveposted
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.servers.ext2.cache import FdDisk
from lp49fs.servers.ext2.fs import Ext2
from lp49fs.servers.ext2.srv import Ext2srv, Opener

USAGE = "usage: ext2srv [-r] [-S srvname] [-u usersfile] [partition]"


def parse_users(text: str) -> dict[int, str]:
    """users(6) lines ``id:name:leader:members`` -> {id: name}; other lines are ignored."""
    out = {}
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 2 and f[0].strip().isdecimal() and f[1].strip():
            out[int(f[0])] = f[1].strip()
    return out


def opener(readonly: bool) -> Opener:
    """Attach specs -> mounted images: open the partition file, check it, say if read-only.

    Two specs naming the same file (``/dev/sdC0/linux`` and ``#S/sdC0/linux``: the same
    type, dev and qid path) get the same image, never two caches of one disk.
    """
    mounted: dict[tuple[int, int, int], Ext2] = {}

    async def mount(spec: str) -> Ext2:
        if not spec:
            raise Error(USAGE)
        ro = readonly
        try:
            fd = await lib.open(spec, OREAD if ro else ORDWR)
        except Error:
            if ro:
                raise
            fd, ro = await lib.open(spec, OREAD), True
        try:
            d = await lib.fstat(fd)
            ident = (d.type, d.dev, d.qid.path)
            if ident in mounted:
                await lib.close(fd)
                return mounted[ident]
            fs = await Ext2.mount(FdDisk(fd, d.length, ro))
        except BaseException:
            await lib.close(fd)
            raise
        if fs.readonly:
            await eprint(f"ext2srv: {spec}: read-only: {fs.why_ro}\n")
        mounted[ident] = fs
        return fs

    return mount


async def main(argv: list[str]) -> None:
    args = argv[1:]
    name, readonly = "ext2", False
    users: dict[int, str] = {}
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a == "-r":
            readonly = True
        elif a in ("-S", "-u") and args:
            v = args.pop(0)
            if a == "-S":
                name = v
            else:
                fd = await lib.open(v, OREAD)
                users = parse_users((await lib.readall(fd)).decode(errors="replace"))
                await lib.close(fd)
        else:
            raise Error(USAGE)
    if len(args) > 1:
        raise Error(USAGE)
    owner = await lib.whoami()
    await serveposted(name, Ext2srv(owner, opener(readonly), args[0] if args else "", users))
