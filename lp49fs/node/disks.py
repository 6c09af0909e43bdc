"""Disks at boot: partition each unit with ``fdisk -p``, start the file servers, mount them.

Theory of operation (Plan 9's boot and ``/rc/bin/termrc`` do the same with ``fdisk -p
/dev/sdC0/data >/dev/sdC0/ctl`` and ``dossrv``):

1. For every unit the ``#S`` servant probed (``sdC0``, ``sdC1`` ...) the boot process opens
   ``/dev/sdC0/ctl`` and spawns ``fdisk -p /dev/sdC0/data`` with that as its fd 1, so each
   ``part`` line fdisk prints becomes a partition file beside ``data``; complaints go to
   fd 2, the console.  The ctl is then read back for the partitions made.
2. A partition's family is its name without the trailing digits (``dos1`` is ``dos``).
   ``PARTSERVERS`` maps a family to the server program and its ``/srv`` name; one server
   per family serves every partition of it (the attach spec names the partition file).  A
   family whose program is not in the program table is left alone, so ext2 support is one
   line in that table and a program.  The contract for such a program: it is started with
   the table's arguments (``dossrv dos``, ``ext2srv -S ext2``), posts ``/srv/SRVNAME``, and
   takes the partition file as the attach spec.  Servers are supervised
   (``servers.supervise``).
3. Mount points: ``/n`` of the root is a fixed skeleton directory, so a ramfs posted as
   ``/srv/n`` is mounted on it first, and ``/n/<unit><part>`` (``/n/sdC0dos``) is made in it
   for every served partition; the first ``dos`` partition is also ``/n/c`` when asked
   (the default node's custom).  Every mount goes into the boot name space (the FUSE view
   shows it), and ``start`` returns the same mounts as namespace-file lines for init.

A floppy drive's ``#f`` gets ``bind -a #f /dev`` in init's name space (the boot name space
has it from ``boot``).

Rules: the boot glue uses core system calls on the boot process only (``servers`` Rule 1);
a unit whose fdisk fails keeps only ``data`` (logged); a server that cannot be mounted is
logged and the boot goes on.  The mounts belong to the server's supervisor
(``ServerSpec.more``), so a server that crashed and was restarted is mounted again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import trio

from lp49fs.cmd import PROGRAMS
from lp49fs.core import sysfile
from lp49fs.core.proc import RFFDG, RFPROC
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, OREAD, OWRITE
from lp49fs.node.boot import Node
from lp49fs.node.servers import ServerSpec, Supervised, start_servers

log = logging.getLogger(__name__)

PARTSERVERS: dict[str, tuple[str, str, tuple[str, ...]]] = {  # family -> (program, /srv
    "dos": ("dossrv", "dos", ("dos",)),  # name, its arguments) (Rule 2)
    "linux": ("ext2srv", "ext2", ("-S", "ext2")),
}
MNTSRV = ServerSpec("n", "ramfs", ("ramfs", "-S", "n"), "/n")  # the mount points (Rule 3)


@dataclass(frozen=True)
class Partition:
    """A partition file the boot served."""

    unit: str  # "sdC0"
    name: str  # "dos", "linux1"
    family: str  # "dos"

    @property
    def file(self) -> str:
        return f"/dev/{self.unit}/{self.name}"


async def fdisk(node: Node, unit: str) -> list[Partition]:
    """Step 1 for one unit: its partitions after ``fdisk -p`` wrote them to its ctl."""
    p = node.bootproc
    ctl = await sysfile.open(p, f"/dev/{unit}/ctl", OWRITE)
    try:
        argv = ["fdisk", "-p", f"/dev/{unit}/data"]
        status = await node.wait(await node.spawn("fdisk", argv, RFFDG | RFPROC, {1: ctl, 2: 2}))
    finally:
        await sysfile.close(p, ctl)
    if status:
        log.warning("fdisk -p /dev/%s/data: %s", unit, status)
    ctl = await sysfile.open(p, f"/dev/{unit}/ctl", OREAD)
    try:
        text = (await sysfile.read(p, ctl, 65536)).decode()
    finally:
        await sysfile.close(p, ctl)
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "part" and f[1] != "data":
            out.append(Partition(unit, f[1], re.sub(r"\d+$", "", f[1])))
    return out


def units(node: Node) -> list[str]:
    sd = node.core.devtab.get("S")
    return [u.name for u in getattr(sd, "units", [])]


def runnable(node: Node, prog: str) -> bool:
    return prog in PROGRAMS or prog in node.programs


async def start(
    node: Node, nursery: trio.Nursery, *, cdrive: bool = True
) -> tuple[list[Supervised], str]:
    """Steps 1-3 for every unit: the supervised servers, and init's namespace lines."""
    fd = node.core.devtab.get("f")
    floppy = "bind -a #f /dev\n" if fd is not None and getattr(fd, "ctlr", None) else ""
    parts = [part for u in units(node) for part in await fdisk(node, u)]
    served = [x for x in parts if x.family in PARTSERVERS
              and runnable(node, PARTSERVERS[x.family][0])]  # fmt: skip
    if not served:
        return [], floppy
    svs = await start_servers(node, nursery, (MNTSRV,))
    mounts: dict[str, list[tuple[str, str]]] = {}  # family -> its (old, spec) mounts
    dos = [x for x in served if x.family == "dos"]
    if cdrive and dos:
        mounts["dos"] = [("/n/c", dos[0].file)]
    for x in served:
        mounts.setdefault(x.family, []).append((f"/n/{x.unit}{x.name}", x.file))
    lines = [f"mount -c /srv/{MNTSRV.srvname} /n"]
    for family, pairs in mounts.items():
        prog, srv, args = PARTSERVERS[family]
        made = []
        for old, spec in pairs:
            try:  # the mount point, in the ramfs on /n
                await sysfile.close(node.bootproc, await sysfile.create(
                    node.bootproc, old, OREAD, DMDIR | 0o777))  # fmt: skip
            except Error as e:
                log.warning("mount point %s: %s", old, e.ename)
                continue
            made.append((old, spec))
            lines.append(f"mount -c /srv/{srv} {old} {spec}")
        # the supervisor mounts them, and mounts them again after a restart
        svs += await start_servers(node, nursery, (ServerSpec(srv, prog, (prog, *args),
                                                              more=tuple(made)),))  # fmt: skip
    return svs, floppy + "".join(line + "\n" for line in lines)
