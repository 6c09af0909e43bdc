"""Servers inside the node: start them as LP49 processes, mount them, restart them.

Theory of operation (DESIGN.md §5): a server is an LP49 program that posts its end of a pipe
in ``/srv`` and serves 9P on the other end (``lp49fs.cmd.ramfs.serveposted``).  At boot,
``start_servers`` spawns each configured server as a child of the boot process, waits until
its ``/srv`` entry appears, and mounts it in the boot name space (the default name space:
``mount -c /srv/ramfs /tmp``), so processes spawned afterwards inherit the mount.

Supervision: one task per server waits for the server process to exit.  When it does (crash,
``kill``), its pipe end is closed, so every client of the old mount gets ``i/o on hungup
channel`` on its pending and later calls (``#M`` Rule 5), never a hang.  The supervisor then
removes the stale ``/srv`` entry and the old mount of the boot name space, and starts the
server again when its ``Budget`` allows (``budget.py``: backoff, at most 5 restarts a minute,
then a pause, never given up), posts and mounts it anew.  Name spaces copied before the crash
keep the dead mount until they remount.

Rules:
1. The supervisor uses only core system calls on the boot process (it is boot glue, like
   Plan 9's boot(8)); the servers themselves use only ``lp49fs.lib``.
2. A server that never posts its name within ``post_timeout`` is killed and counts as a
   crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from lp49fs.core import sysfile
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR
from lp49fs.node.boot import Node
from lp49fs.node.budget import Budget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSpec:
    """One configured server."""

    srvname: str  # the /srv entry it posts
    prog: str  # program table name
    argv: tuple[str, ...]  # its arguments, argv[0] included
    old: str | None = None  # where the boot name space mounts it (None: not mounted)
    flag: int = MREPL | MCREATE  # mount flags
    spec: str = ""  # attach name


DEFAULT_SERVERS = (ServerSpec("ramfs", "ramfs", ("ramfs", "-S", "ramfs"), "/tmp"),)


@dataclass(eq=False)
class Supervised:
    """The state of one supervised server, for tests and status output."""

    spec: ServerSpec
    pid: int = 0  # the running server process, 0 between runs
    starts: int = 0  # how many times it was started
    up: trio.Event = field(default_factory=trio.Event)  # posted and mounted (this run)
    stopping: bool = False  # set by stop_servers: no more restarts
    budget: Budget | None = None  # its restart policy and state (made by supervise)


async def _posted(node: Node, name: str, timeout: float) -> bool:
    """True once ``/srv/name`` opens: posting is create then write of the fd, and an entry
    seen between the two (a plain stat) would open as 'device shut down'."""
    p = node.bootproc
    with trio.move_on_after(timeout):
        while True:
            try:
                await sysfile.close(p, await sysfile.open(p, f"/srv/{name}", ORDWR))
                return True
            except Error:
                await trio.sleep(0.005)
    return False


async def _mount(node: Node, s: ServerSpec) -> None:
    if s.old is None:
        return
    p = node.bootproc
    fd = await sysfile.open(p, f"/srv/{s.srvname}", ORDWR)
    try:
        await sysfile.mount(p, fd, -1, s.old, s.flag, s.spec)
    finally:
        await sysfile.close(p, fd)


async def withdraw(node: Node, srvname: str, old: str | None) -> None:
    """Drop the stale ``/srv/srvname`` entry and the boot name space's mount on ``old`` (if
    any) of a dead server; either may already be gone.  Shared with ``hostservers``."""
    p = node.bootproc
    if old is not None:
        try:
            await sysfile.unmount(p, None, old)
        except Error:
            pass
    try:
        await sysfile.remove(p, f"/srv/{srvname}")
    except Error:
        pass


def once(task_status: trio.TaskStatus[None]) -> Callable[[], None]:
    """A callable that reports ``task_status.started()`` on its first call only."""
    reported = False

    def report() -> None:
        nonlocal reported
        if not reported:
            reported = True
            task_status.started()

    return report


async def supervise(
    node: Node,
    sv: Supervised,
    *,
    budget: Budget | None = None,
    post_timeout: float = 10.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``sv``'s server, restarting it when it exits (see the module docstring)."""
    s = sv.spec
    sv.budget = b = budget or Budget(s.srvname)
    report = once(task_status)
    while True:
        sv.starts += 1
        sv.pid = await node.spawn(s.prog, list(s.argv))
        if await _posted(node, s.srvname, post_timeout):
            try:
                await _mount(node, s)
                sv.up.set()
                b.started()
            except Error as e:
                log.warning("server %s: mount on %s failed: %s", s.prog, s.old, e)
        else:
            log.warning("server %s never posted /srv/%s: killing it", s.prog, s.srvname)
            node.procmgr.note(node.procmgr.bypid[sv.pid].proc, "kill")
        report()
        msg = await node.wait(sv.pid)
        if sv.stopping:
            sv.pid = 0
            b.state = "stopped"
            await withdraw(node, s.srvname, s.old)
            return
        why = f"pid {sv.pid} exited {msg!r}"
        sv.pid = 0
        sv.up = trio.Event()
        await withdraw(node, s.srvname, s.old)
        await b.restart(why)


async def start_servers(
    node: Node, nursery: trio.Nursery, specs: tuple[ServerSpec, ...] = DEFAULT_SERVERS
) -> list[Supervised]:
    """Start, post and mount every server in ``specs``; supervisors run in ``nursery``."""
    out = []
    for s in specs:
        sv = Supervised(s)
        await nursery.start(supervise, node, sv)
        out.append(sv)
    return out


async def stop_servers(node: Node, svs: list[Supervised]) -> None:
    """Kill every supervised server without restarting it, and wait for each to exit."""
    for sv in svs:
        sv.stopping = True
        pi = node.procmgr.bypid.get(sv.pid) if sv.pid else None
        if pi is not None:
            node.procmgr.note(pi.proc, "kill")
    for sv in svs:
        if sv.pid:
            await node.wait(sv.pid)
