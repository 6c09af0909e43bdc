"""Host TCP for import and exportfs until ``#I`` exists: a user-mode network driver.

LP49 runs its drivers in user mode; until the ``#I`` servant gives programs ``/net/tcp``,
this module is the driver: an LP49 process that holds a host socket (``lp49fs.transport``)
and **relays** its bytes to and from one end of a ``#|`` pipe.  The other pipe end is an
ordinary fd, the same thing a ``/net/tcp/N/data`` file will be, so everything above
(handshake, ``lib9p.serve`` on an ``FdLink``, ``mount``) already uses only system calls.

* ``dialfd(addr)``: an fd connected to ``addr``.  It makes a pipe and spawns
  ``import -D addr`` (``lp49fs.cmd.import``), whose ``dialrelay`` dials, answers the first
  pipe message with ``OK`` or the error text, then relays.  Used by ``import`` and ``srv``.
* ``importfs(host, tree, mtpt, flag)``: import as a library call (the ``import`` program,
  the namespace-file ``import`` op): dialfd, the handshake, then ``mount`` on ``mtpt``.
* ``listen(addr, argv)``: announce ``addr``; for each connection, a pipe and a new
  ``exportfs`` process (``argv``; its own copy of the name space, fd 0 = the pipe end),
  while this process relays the socket.  Used by ``exportfs -l`` (the node's listener).

Rules:
1. A relay ends when either side ends: TCP EOF or reset, or the pipe hung up.  It then
   closes both, so the process on the pipe sees ``i/o on hungup channel`` (a mount of it
   fails every pending call) and the TCP peer sees EOF.
2. Every socket gets TCP keepalive tuned so a silently broken link is noticed within
   ``keepalive`` seconds (default 30): idle ``k/2``, then probes ``k/6`` apart, and
   ``TCP_USER_TIMEOUT`` ``k`` for unacknowledged data.
"""

from __future__ import annotations

import logging
import socket

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import RFCFDG, RFNAMEG, RFNOWAIT, RFPROC
from lp49fs.transport import SocketLink, announce, dial, parse

from . import exportfs_hs

log = logging.getLogger(__name__)

EXPORTFS_PORT = 17007
KEEPALIVE = 30.0  # seconds until a silently broken link is declared dead (Rule 2)
CHUNK = 65536 + 24


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


def keepalive(sock: socket.socket, period: float) -> None:
    """Rule 2 on a TCP socket (no-op for unix sockets)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    k = max(1, int(period))
    idle = max(1, k // 2)
    intvl = max(1, k // 6)
    cnt = max(1, (k - idle) // intvl)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, k * 1000)


async def relay(sock: SocketLink, fd: int) -> None:
    """Copy bytes both ways between ``sock`` and pipe ``fd`` until one ends (Rule 1)."""
    link = lib.FdLink(fd)

    async def copy(src: object, dst: object, scope: trio.CancelScope) -> None:
        try:
            while data := await src.receive_some(CHUNK):  # type: ignore[attr-defined]
                await dst.send_all(data)  # type: ignore[attr-defined]
        except (Error, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as e:
            log.info("relay %s: %s", sock.peer(), e)
        finally:
            scope.cancel()

    try:
        async with trio.open_nursery() as n:
            n.start_soon(copy, sock, link, n.cancel_scope)
            n.start_soon(copy, link, sock, n.cancel_scope)
    finally:
        with trio.CancelScope(shield=True):
            await sock.aclose()
            await link.aclose()


async def dialrelay(addr: str, period: float = KEEPALIVE) -> None:
    """``import -D``: on fd 0, answer ``OK`` or the dial error, then relay (see dialfd)."""
    try:
        sock = await dial(addr)
    except Error as e:
        await lib.write(0, e.ename.encode())
        return
    keepalive(sock.socket, period)
    await lib.write(0, b"OK")
    await relay(sock, 0)


async def _have_net() -> bool:
    """True if this name space has a /net/tcp to dial with (#I, or one imported over it)."""
    try:
        await lib.stat("/net/tcp/clone")
    except Error:
        return False
    return True


async def _netdial(addr: str, period: float) -> int:
    """Dial through the name space's /net (the gateway trick: an imported /net dials from
    the remote stack); the data fd, with TCP keepalive asked for on the ctl file."""
    data, ctl, _ = await lib.dialctl(addr)
    try:
        await lib.write(ctl, f"keepalive {int(period * 1000)}".encode())
    except Error as e:
        log.info("dial %s: keepalive: %s", addr, e)
    finally:
        await lib.close(ctl)
    return data


async def dialfd(addr: str, period: float = KEEPALIVE) -> int:
    """An fd connected to dial string ``addr``; raises ``Error`` with one clear line."""
    parse(addr)  # a bad dial string fails here, before any process is made
    if addr.startswith("tcp!") and await _have_net():
        return await _netdial(addr, period)
    mine, theirs = await lib.pipe()
    try:
        argv = ["import", "-D", addr, "-k", str(period)]
        await lib.spawn("import", argv, RFPROC | RFCFDG | RFNOWAIT, fds={0: theirs})
        await lib.close(theirs)
        answer = await lib.read(mine, 256)
    except Error:
        await lib.close(mine)
        raise
    if answer != b"OK":
        await lib.close(mine)
        raise Error(answer.decode("utf-8", "replace") or f"{addr}: dial failed")
    return mine


async def importfs(
    host: str, tree: str, mtpt: str, flag: int, period: float = KEEPALIVE
) -> str:
    """Mount ``tree`` of the exporter at ``host`` on ``mtpt``; returns the dial string used."""
    addr = netaddr(host)
    fd = await dialfd(addr, period)
    try:
        await exportfs_hs.request(lib.FdLink(fd), tree)
        await lib.mount(fd, -1, mtpt, flag, "")
    finally:
        try:
            await lib.close(fd)
        except Error:
            pass  # the mount may have consumed the fd
    return addr


async def listen(
    addr: str,
    argv: list[str],
    period: float = KEEPALIVE,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Announce ``addr`` and run ``argv`` (an exportfs) per connection, relaying each."""
    listener = await announce(addr)
    bound = str(listener.addr)
    log.info("exportfs: listening on %s", bound)
    try:
        async with trio.open_nursery() as n:
            task_status.started(bound)
            while True:
                sock = await listener.accept()
                keepalive(sock.socket, period)
                n.start_soon(_connection, sock, argv)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()


async def _connection(sock: SocketLink, argv: list[str]) -> None:
    peer = sock.peer()
    try:
        mine, theirs = await lib.pipe()
        flags = RFPROC | RFCFDG | RFNAMEG | RFNOWAIT
        pid = await lib.spawn(argv[0], argv, flags, fds={0: theirs})
        await lib.close(theirs)
    except Error as e:
        log.warning("exportfs: %s: cannot start exportfs: %s", peer, e)
        await sock.aclose()
        return
    log.info("exportfs: %s: served by pid %d", peer, pid)
    await relay(sock, mine)
    log.info("exportfs: %s: connection ended", peer)
