"""Host-side servers of a node: ``lp49 u9fs`` (or ``ramfs``) as Linux processes, posted in /srv.

Theory of operation.  A ``[[hostservers]]`` entry (``lp49fs.node.config.HostServerConf``)
names an lp49 subcommand that serves 9P2000 on ``--listen ADDR``.  It is not an LP49 program,
so the node daemon runs it as a host subprocess: ``python -m lp49fs.host.cli CMD --listen
tcp!127.0.0.1!0 ARGS...``.  The server picks a free port and its first stderr line is
``CMD: serving [WHAT ]on ADDR`` with the address it bound.  The node then reaches it the way
a user at the console would: it spawns the LP49 program ``srv -c ADDR NAME [MTPT]`` as a
child of the boot process (sharing the boot name space), which dials ADDR through ``#I``
(``/net/tcp``), posts the connection as ``/srv/NAME`` and, given MTPT, mounts it there with
create permission.  There is no shortcut around ``#I`` and ``#s``.

Authentication (docs/security.md).  A loopback port is open to every local user, so the
node makes a private authority for its host servers (``HostAuth``: a 0700 directory made at
start and removed at the end, or by the next node to start when the node was killed first;
with a CA, a node certificate ``hostservers`` for 127.0.0.1 and a user certificate for the
host owner): each server is started with ``--auth DIR``
(every connection mutual TLS 1.3 with those certificates) and ``srv -A DIR -u EVE`` dials it
with TLS, so only a holder of the private keys, the node, is served.

Supervision (one task per entry, like ``lp49fs.node.servers``): the rest of the server's
stderr is copied to the node's log; when the process exits, the supervisor removes the stale
``/srv`` entry and starts the process again when its ``Budget`` allows (``budget.py``), posts
and mounts the new one; every mount of the old connection walks its fids again on the new
one (``#M`` recovery, docs/recovery.md).  A process that
does not print its address within ``start_timeout`` seconds (or exits first) is killed and
counts as a crash.

Rules:
1. Every host process this module starts is ended by it: when the supervisor is cancelled
   (the node stops) the process gets SIGTERM, then SIGKILL after ``STOP_GRACE`` seconds, and
   is reaped.  Nothing outlives the node, even one killed with SIGKILL: each server is given
   ``--parent-fd`` with the read end of a pipe whose write end only the node holds, and
   stops at its end of file.  (``PR_SET_PDEATHSIG`` would not do: it fires when the
   *thread* that forked exits, and trio starts processes from worker threads.)
2. The address comes only from the server's own first line; nothing is guessed.
3. ``started`` is reported once the first run is posted (or has failed), so the node starts
   init after its host servers are in /srv.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.node import monitor
from lp49fs.node.boot import Node
from lp49fs.node.budget import Budget
from lp49fs.node.config import HostServerConf
from lp49fs.node.servers import once, withdraw

log = logging.getLogger(__name__)

LISTEN = "tcp!127.0.0.1!0"  # loopback, a port the kernel picks
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
SERVING = re.compile(r": serving (?:.* )?on (\S+)$")  # the server's first line
NODECERT = "hostservers"  # the name on the host servers' certificate
AUTHDIR = "lp49-hostauth-"  # + the node's pid + "-": the private authority's directory


@dataclass(frozen=True)
class HostAuth:
    """The private authority between a node and its host servers (module docstring)."""

    dir: str
    user: str  # the host owner: the certificate srv presents

    @classmethod
    def make(cls, eve: str) -> HostAuth:
        sweep()
        d = tempfile.mkdtemp(prefix=f"{AUTHDIR}{os.getpid()}-")  # 0700
        a = Authority(d)
        a.init()
        a.issue(NODES, NODECERT, ("127.0.0.1",))
        a.issue(USERS, eve)
        return cls(d, eve)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def sweep(tmp: str | None = None) -> None:
    """Remove the private authorities (ours only) left by nodes that died without removing
    them (SIGKILL): the directory name carries the node's pid."""
    tmp = tmp or tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name.removeprefix(AUTHDIR).split("-")[0]
        if not name.startswith(AUTHDIR) or not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        path = os.path.join(tmp, name)
        try:
            if os.lstat(path).st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
        except FileNotFoundError:
            pass  # another node swept it first


@dataclass(frozen=True)
class HostSpec:
    """One host server: its /srv name, the host argv, where to mount it."""

    name: str
    argv: tuple[str, ...]
    mount: str | None = None
    auth: HostAuth | None = None  # how srv dials it

    @classmethod
    def of(cls, conf: HostServerConf, eve: str = "", auth: HostAuth | None = None) -> HostSpec:
        """u9fs serves the node's host owner (``eve``) as the user running the node, and
        every other attach name as its own Linux user (``u9fs.ident``); with ``auth``
        every connection is TLS with the private authority, whose host owner certificate
        speaks for the node's users (``--speaker``: a FUSE caller's process attaches the
        posted connection again as itself)."""
        owner = ("--owner", eve) if conf.cmd == "u9fs" and eve else ()
        tls: tuple[str, ...] = ()
        if auth is not None:
            tls = ("--auth", auth.dir, "--node", NODECERT, "--speaker", auth.user)
        argv = (sys.executable, "-m", "lp49fs.host.cli", conf.cmd, "--listen", LISTEN, *owner,
                *tls, *conf.args)  # fmt: skip
        return cls(conf.name, argv, conf.mount, auth)


@dataclass(eq=False)
class HostSupervised:
    """The state of one supervised host server, for tests and status output."""

    spec: HostSpec
    pid: int = 0  # the running host process, 0 between runs
    addr: str = ""  # the address it announced (this run)
    starts: int = 0  # how many times it was started
    up: trio.Event = field(default_factory=trio.Event)  # posted (and mounted) this run
    last_exit: str = ""  # how the last run ended
    budget: Budget | None = None  # its restart policy and state (made by supervise)
    killed: str = ""  # why the monitor killed this run (lp49fs.node.monitor)


async def _first_line(stream: trio.abc.ReceiveStream, buf: bytearray) -> bytes | None:
    """The first line on ``stream`` (``buf`` keeps what came after it); None at EOF."""
    while b"\n" not in buf:
        data = await stream.receive_some(4096)
        if not data:
            return None
        buf += data
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line


async def _copy_log(name: str, stream: trio.abc.ReceiveStream, buf: bytearray) -> None:
    """Copy the server's stderr, line by line, into the node's log until EOF."""
    while True:
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            log.info("hostserver %s: %s", name, line.decode(errors="replace"))
        data = await stream.receive_some(4096)
        if not data:
            return
        buf += data


async def _srv(node: Node, s: HostSpec, addr: str) -> bool:
    """Post (and mount) ``addr`` with the LP49 ``srv`` program; True if it did it all."""
    tls = ["-A", s.auth.dir, "-u", s.auth.user] if s.auth is not None else []
    argv = ["srv", *tls, "-c", addr, s.name, *([s.mount] if s.mount else [])]
    msg = await node.run("srv", argv)
    if msg:
        log.warning("hostserver %s: %s: %s", s.name, " ".join(argv), msg)
    return not msg


async def _end(proc: trio.Process) -> None:
    """SIGTERM, SIGKILL after STOP_GRACE, reap (shielded: runs while being cancelled)."""
    with trio.CancelScope(shield=True):
        if proc.returncode is None:
            proc.terminate()
            with trio.move_on_after(STOP_GRACE):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.stderr is not None:
            await proc.stderr.aclose()


async def _run_once(node: Node, hs: HostSupervised, start_timeout: float,
                    report: Callable[[], None]) -> None:  # fmt: skip
    """One run of the server: start, announce, post, copy its log until it exits."""
    s = hs.spec
    watch, held = os.pipe()  # Rule 1: held is the node's end, never inherited
    try:
        argv = [*s.argv[:4], "--parent-fd", str(watch), *s.argv[4:]]
        proc = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True, pass_fds=(watch,),
        )  # fmt: skip
    except BaseException:
        os.close(held)
        raise
    finally:
        os.close(watch)
    hs.pid = proc.pid
    try:
        assert proc.stderr is not None
        buf = bytearray()
        line = None
        with trio.move_on_after(start_timeout):
            line = await _first_line(proc.stderr, buf)
        text = (line or b"").decode(errors="replace").strip()
        m = SERVING.search(text)
        if m is None:
            log.warning("hostserver %s: no address from %s: %r", s.name, s.argv[3], text)
            return
        hs.addr = m.group(1)
        log.info("hostserver %s: pid %d serving on %s", s.name, proc.pid, hs.addr)
        if await _srv(node, s, hs.addr):
            hs.up.set()
            if hs.budget is not None:
                hs.budget.started()
        report()
        await _copy_log(s.name, proc.stderr, buf)
        status = await proc.wait()
        exited = f"pid {proc.pid} exited with status {status}"
        hs.last_exit = f"{hs.killed}: {exited}" if hs.killed else exited
        hs.killed = ""
        log.warning("hostserver %s: %s", s.name, hs.last_exit)
    finally:
        await _end(proc)
        os.close(held)
        hs.pid = 0


async def supervise(
    node: Node,
    hs: HostSupervised,
    *,
    budget: Budget | None = None,
    start_timeout: float = 20.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``hs``'s server, restarting it when it exits (see the module docstring)."""
    s = hs.spec
    hs.budget = b = budget or Budget(s.name, backoff=0.2)
    report = once(task_status)
    while True:
        hs.starts += 1
        await _run_once(node, hs, start_timeout, report)
        report()
        hs.up = trio.Event()
        hs.addr = ""
        await withdraw(node, s.name, None)  # its mounts recover (lp49fs.servants.mntrecover)
        await b.restart(hs.last_exit or "exited")


async def start_hostservers(
    node: Node, nursery: trio.Nursery, confs: tuple[HostServerConf, ...],
    health: float = monitor.HEALTH,
) -> list[HostSupervised]:
    """Start every host server at once and return when each is posted (or failed); the
    private authority lives until ``nursery`` ends; each gets a health check every
    ``health`` seconds (``monitor``; 0: none)."""
    if not confs:
        return []
    auth = HostAuth.make(node.core.eve)
    nursery.start_soon(_keep, auth)
    out = [HostSupervised(HostSpec.of(c, node.core.eve, auth)) for c in confs]
    async with trio.open_nursery() as starting:
        for hs in out:
            starting.start_soon(nursery.start, supervise, node, hs)
    for hs in out:
        monitor.register(node, hs)
        nursery.start_soon(monitor.health, node, hs, health)
    return out


async def _keep(auth: HostAuth) -> None:
    """Hold the private authority's directory until the node stops, then remove it."""
    try:
        await trio.sleep_forever()
    finally:
        auth.remove()
