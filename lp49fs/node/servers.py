"""Servers inside the node: start them as LP49 processes, mount them, restart them.

Theory of operation: a server is an LP49 program that posts its end of a pipe
in ``/srv`` and serves 9P on the other end (``lp49fs.cmd.ramfs.serveposted``).  At boot,
``start_servers`` spawns each configured server as a child of the boot process, waits until
its ``/srv`` entry appears, and mounts it in the boot name space (the default name space:
``mount -c /srv/ramfs /tmp``), so processes spawned afterwards inherit the mount.

Supervision: one task per server waits for the server process to exit.  When it does (crash,
``kill``), its pipe end is closed and the supervisor removes the stale ``/srv`` entry, then
starts the server again when its ``Budget`` allows (``budget.py``: backoff, at most 5
restarts a minute, then a pause, never given up), posts it anew and mounts it again on the
boot name space's mount point (replacing the old mount).  Every existing mount of the old
link -- in the boot name space until it is replaced, and in name spaces copied from it --
waits meanwhile and then walks its fids again on the new link (``#M`` recovery,
``lp49fs.servants.mntrecover``; docs/recovery.md), so clients carry on.  A server that
keeps its state in a retained region (``ramfs -r``: region ``prog.srvname``) comes back
with it; the region is freed by ``stop_servers``, when the server is removed for good.

Rules:
1. The supervisor uses only core system calls on the boot process (it is boot glue, like
   Plan 9's boot(8)); the servers themselves use only ``lp49fs.lib``.
2. A server that never posts its name within ``post_timeout`` is killed and counts as a
   crash.
3. A server that posts nothing (``post=False``: the node's export listener, ``exportfs -l``,
   which announces a TCP address instead) is up once started; it is restarted the same way
   and has no ``/srv`` entry or mount to withdraw.
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
from lp49fs.node import monitor
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
    more: tuple[tuple[str, str], ...] = ()  # further (old, spec) mounts of it, same flags
    post: bool = True  # False: it posts nothing (the export listener, Rule 3): up once started

    def mounts(self) -> list[tuple[str, str]]:
        """Every (old, spec) the boot name space mounts it on, made again after a restart."""
        return ([(self.old, self.spec)] if self.old is not None else []) + list(self.more)


DEFAULT_SERVERS = (ServerSpec("ramfs", "ramfs", ("ramfs", "-S", "ramfs", "-r", "50%"), "/tmp"),)


@dataclass(eq=False)
class Supervised:
    """The state of one supervised server, for tests and status output."""

    spec: ServerSpec
    pid: int = 0  # the running server process, 0 between runs
    starts: int = 0  # how many times it was started
    up: trio.Event = field(default_factory=trio.Event)  # posted and mounted (this run)
    stopping: bool = False  # set by stop_servers: no more restarts
    budget: Budget | None = None  # its restart policy and state (made by supervise)
    killed: str = ""  # why the monitor killed this run (lp49fs.node.monitor)


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
    p = node.bootproc
    for old, spec in s.mounts():
        fd = await sysfile.open(p, f"/srv/{s.srvname}", ORDWR)
        try:
            await sysfile.mount(p, fd, -1, old, s.flag, spec)
        finally:
            await sysfile.close(p, fd)


async def _withdraw_all(node: Node, s: ServerSpec) -> None:
    for old, _ in s.mounts()[1:]:
        await withdraw(node, s.srvname, old)
    await withdraw(node, s.srvname, s.mounts()[0][0] if s.mounts() else None)


async def withdraw(node: Node, srvname: str, old: str | None) -> None:
    """Drop the stale ``/srv/srvname`` entry and the boot name space's mount on ``old`` (if
    given: a server stopped for good) of a dead server; either may already be gone.  Shared
    with ``hostservers``."""
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
        if not s.post:  # Rule 3
            sv.up.set()
            b.started()
        elif await _posted(node, s.srvname, post_timeout):
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
            if s.post:
                await _withdraw_all(node, s)
            return
        why = f"pid {sv.pid} exited {msg!r}"
        why = f"{sv.killed}: {why}" if sv.killed else why
        sv.killed = ""
        sv.pid = 0
        sv.up = trio.Event()
        if s.post:
            await withdraw(node, s.srvname, None)  # the mounts recover (module docstring)
        await b.restart(why)


async def _watched(node: Node, sv: Supervised, health: float,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """``supervise`` with the server's health check beside it; both end when it does."""
    async with trio.open_nursery() as n:
        n.start_soon(monitor.health, node, sv, health)
        await supervise(node, sv, task_status=task_status)
        n.cancel_scope.cancel()


async def start_servers(
    node: Node, nursery: trio.Nursery, specs: tuple[ServerSpec, ...] = DEFAULT_SERVERS,
    health: float = monitor.HEALTH,
) -> list[Supervised]:
    """Start, post and mount every server in ``specs``; supervisors and their health checks
    (``monitor``, every ``health`` seconds; 0: none) run in ``nursery``."""
    out = []
    for s in specs:
        sv = Supervised(s)
        await nursery.start(_watched, node, sv, health)
        monitor.register(node, sv)
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
        node.hvm.segfree(region(sv.spec))


def region(s: ServerSpec) -> str:
    """The retained region a server keeps its state in (``prog.srvname``, e.g. ramfs -r)."""
    return f"{s.prog}.{s.srvname}"
