"""exportfs and import on the network: everything through ``#I`` (``/net``), by system calls.

exportfs and import are LP49 programs, so the network is the ``#I`` servant bound on
``/net`` of their name space, used through Plan 9's dial(2) (``lp49fs.lib.dial``); no host
socket is held here.  A connection is a ``/net/tcp/N/data`` fd, the same kind of fd as a
pipe end, so the handshake, ``lib9p.serve`` on an ``FdLink`` and ``mount`` need nothing
else.

* ``dialfd(addr, period)``: ``dialctl`` (cs, clone, ``connect``), then ``keepalive <ms>``
  on the conversation's ctl, ctl closed; returns the data fd.  Used by ``import``, the
  namespace-file ``import`` op and ``srv net!host``.  Because the dial goes through the
  name space, an imported ``/net`` dials from the remote node's stack (the gateway trick).
* ``importfs(host, tree, mtpt, flag, auth=)``: import as a library call: dialfd, with
  ``auth`` mutual TLS pushed on the connection by ``#a`` (``tlsfd``), the importer's
  handshake (``exportfs_hs.request``), ``mount`` on ``mtpt`` through a ``/srv`` entry, and a
  re-dialler process that dials again when the link breaks (``redial.py``).
* ``listen(addr, argv, period, maxconns=)``: ``announce``; then forever ``listen`` (blocks
  on ``N/listen``), ``accept`` (the call's data fd), ``keepalive`` on the call's ctl, and a
  new process running ``argv`` (an exportfs) with its own copy of the name space and the
  data fd as its fd 0.  The listener then closes its copies of the call's fds: the
  conversation lives while the exportfs holds fd 0 and ends (TCP FIN) when it exits.

Rules:
1. A connection ends at either side: the peer's FIN or reset reads as end of file (the
   exportfs ends; on an import mount the pending call fails ``i/o on hungup channel`` and
   the re-dialler dials again: ``redial.py``); closing the data fd sends FIN.
2. Every conversation asks ``#I`` for keepalive with the period in milliseconds, so a
   silently broken link (no FIN, no reset: a cable pulled, a link down) is noticed by the
   host TCP stack in about one period (``#I`` Rule: ``keepalive ms``) and then reads fail.
3. At most ``maxconns`` exportfs processes at once (``lib9p.limits.MAXCONNS`` by default, the
   host servers' cap): each is a child the listener waits for (``wait``, in a reaper task),
   and the next ``listen`` is not issued until one has exited, so the next caller waits in
   the host's listen backlog.  The idle and handshake bounds are the exportfs's own
   (``cmd/exportfs``: ``lib9p.limits.IdleLink``).
4. Errors are ``lp49fs.errors.Error`` with the failing call's text (``connection
   refused``, ``can't translate address: ...``).
"""

from __future__ import annotations

import logging
import os

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import RFCFDG, RFNAMEG, RFPROC
from lp49fs.lib.dial import Enodial
from lp49fs.lib9p.limits import MAXCONNS
from lp49fs.ninep import ORDWR, OREAD

log = logging.getLogger(__name__)

EXPORTFS_PORT = 17007
NINEP_PORT = 564  # 9fs: the default for srv net!host
TLSDEV = "#a/tls"  # the TLS servant (Plan 9 tls(3))
KEEPALIVE = 30.0  # seconds until a silently broken link is declared dead (Rule 2)


def netaddr(host: str, port: int = EXPORTFS_PORT) -> str:
    """``host`` as a tcp dial string: ``h`` -> ``tcp!h!17007``, ``net!h`` gains the port."""
    parts = host.split("!")
    if parts[0] == "unix":
        return host
    if len(parts) == 1:
        return f"tcp!{host}!{port}"
    if len(parts) == 2:
        net = "tcp" if parts[0] == "net" else parts[0]
        return f"{net}!{parts[1]}!{port}"
    if parts[0] == "net":
        return "tcp!" + "!".join(parts[1:])
    return host


def keepalive_msg(period: float) -> bytes:
    """The ctl message of Rule 2 for a period in seconds."""
    return f"keepalive {max(1, round(period * 1000))}".encode()


async def _keepalive(ctl: int, period: float, what: str) -> None:
    try:
        await lib.write(ctl, keepalive_msg(period))
    except Error as e:  # an imported /net of an older node: go on without it
        log.info("%s: keepalive: %s", what, e)


async def dialfd(addr: str, period: float = KEEPALIVE) -> int:
    """An fd connected to dial string ``addr``; raises ``Error`` with one clear line."""
    if addr.startswith("unix!"):
        raise Error(f"{Enodial}: {addr} (no unix network in #I)")
    data, ctl, _ = await lib.dialctl(addr)
    try:
        await _keepalive(ctl, period, f"dial {addr}")
    finally:
        await lib.close(ctl)
    return data


async def tlsfd(fd: int, addr: str, authdir: str, user: str) -> int:
    """The plaintext fd of a TLS conversation pushed on ``fd`` (which is consumed): ``#a``
    (Plan 9 tls(3)) binds ``fd``, runs the client handshake as ``user`` and verifies the
    server is the node ``addr`` names; its ``data`` is read and written, and mounted, as
    the connection itself (``servants/tls.py``)."""
    host = addr.split("!")[1] if "!" in addr else addr
    ctl = await lib.open(f"{TLSDEV}/clone", ORDWR)
    try:
        n = (await lib.read(ctl, 16)).decode()
        await lib.write(ctl, f"fd {fd}".encode())
        await lib.close(fd)
        fd = -1
        await lib.write(ctl, f"client {os.path.abspath(authdir)} {user} {host}".encode())
        return await lib.open(f"{TLSDEV}/{n}/data", ORDWR)
    finally:
        if fd >= 0:
            await lib.close(fd)
        await lib.close(ctl)


async def importfs(
    host: str,
    tree: str,
    mtpt: str,
    flag: int,
    period: float = KEEPALIVE,
    auth: tuple[str, str] | None = None,
) -> str:
    """Mount ``tree`` of the exporter at ``host`` on ``mtpt``; returns the dial string used.
    ``auth`` = (authority dir, user): the link is mutual TLS first (``tlsfd``)."""
    from . import redial  # redial uses this module

    addr = netaddr(host)
    fd = await redial.connect(addr, tree, period, auth)
    try:
        name = await redial.mount(fd, mtpt, flag)
    finally:
        await lib.close(fd)
    await redial.start(name, addr, tree, period, auth, mtpt)  # redial Rules 1-4
    return addr


async def listen(
    addr: str,
    argv: list[str],
    period: float = KEEPALIVE,
    *,
    maxconns: int = MAXCONNS,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Announce ``addr`` and run ``argv`` (an exportfs) per incoming call (see above)."""
    actl, adir = await lib.announce(addr)
    slots = _Slots(maxconns)
    try:
        bound = await _local(adir)
        log.info("exportfs: listening on %s (%s, at most %d at once)", bound, adir, maxconns)
        task_status.started(bound)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(slots.reap)
            while True:
                await slots.sem.acquire()  # Rule 3: the next caller waits in the backlog
                lctl, ldir = await lib.listen(adir)
                try:
                    if await _connection(lctl, ldir, argv, period):
                        slots.started()
                    else:
                        slots.sem.release()
                finally:
                    await lib.close(lctl)
    finally:
        with trio.CancelScope(shield=True):
            await lib.close(actl)


class _Slots:
    """Rule 3: a semaphore of ``maxconns`` slots; ``reap`` frees one per exited exportfs."""

    def __init__(self, maxconns: int) -> None:
        self.sem = trio.Semaphore(maxconns)
        self.live = 0
        self.changed = trio.Event()

    def started(self) -> None:
        self.live += 1
        self.changed.set()

    async def reap(self) -> None:
        while True:
            while self.live == 0:
                self.changed = trio.Event()
                await self.changed.wait()
            w = await lib.wait()
            self.live -= 1
            self.sem.release()
            log.info("exportfs: pid %d done %r (%d live)", w.pid, w.msg, self.live)


async def _local(d: str) -> str:
    fd = await lib.open(f"{d}/local", OREAD)
    try:
        return (await lib.read(fd, 128)).decode().strip()
    finally:
        await lib.close(fd)


async def _connection(ctl: int, d: str, argv: list[str], period: float) -> bool:
    """One accepted call: its exportfs process (a child to wait for), fd 0 = the call's
    data; whether the process started."""
    try:
        data = await lib.accept(ctl, d)
    except Error as e:
        log.warning("exportfs: %s: accept: %s", d, e)
        return False
    try:
        await _keepalive(ctl, period, d)
        flags = RFPROC | RFCFDG | RFNAMEG
        pid = await lib.spawn(argv[0], argv, flags, fds={0: data})
        log.info("exportfs: %s: served by pid %d", d, pid)
        return True
    except Error as e:
        log.warning("exportfs: %s: cannot start exportfs: %s", d, e)
        return False
    finally:
        await lib.close(data)
