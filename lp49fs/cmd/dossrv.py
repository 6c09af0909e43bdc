"""dossrv [-f file] [srvname]: serve FAT partitions, posted as /srv/srvname (Plan 9 dossrv(4)).

``srvname`` defaults to ``dos``.  Clients name the partition in the mount's attach spec:
``mount -c /srv/dos /n/c /dev/sdC0/dos``; one dossrv serves any number of partitions (up to
``fs.MAXVOLS``), each opened on its first attach.  ``-f file`` is the partition used by an
attach with an empty spec.  The server (``lp49fs.servers.dos``) reads and writes the
partition file only with system calls, and serves 9P on a pipe like every LP49 server.
"""

from __future__ import annotations

from lp49fs.cmd._util import usage
from lp49fs.cmd.ramfs import serveposted
from lp49fs.servers.dos.disk import opendisk
from lp49fs.servers.dos.fs import Dossrv

USAGE = "dossrv [-f file] [srvname]"


async def main(argv: list[str]) -> None:
    args = argv[1:]
    default = ""
    if args[:1] == ["-f"]:
        if len(args) < 2:
            await usage(USAGE)
        default, args = args[1], args[2:]
    if len(args) > 1 or (args and args[0].startswith("-")):
        await usage(USAGE)
    await serveposted(args[0] if args else "dos", Dossrv(opendisk, default), prog="dossrv")
