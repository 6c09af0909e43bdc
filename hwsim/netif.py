"""The node's network "hardware": host TCP and UDP sockets behind a small device API.

In LP49 terms the host's socket layer is emulated hardware and the ``#I`` servant
(``lp49fs.servants.ip``) is its driver.  This module is the only place that touches the
``socket`` module for ``#I``; the servant speaks to it through ``HostSock`` and never sees a
socket object, the way ``sd`` sees a disk only through ``read_block``/``write_block``.

Theory of operation
-------------------
A ``HostSock`` wraps one non-blocking host socket.  Every verb that may block waits with
``trio.lowlevel.wait_readable``/``wait_writable`` only when the kernel says EAGAIN, so:

1. Blocking verbs (``connect``, ``accept``, ``recv``, ``recvfrom``, ``send``, ``sendto``)
   are trio checkpoints and cancellable: a cancelled ``recv``/``accept`` took nothing; a
   cancelled ``connect`` leaves the socket unusable (the caller closes it).
2. ``close()`` wakes every task blocked on the socket; they raise ``NetClosed``.
3. Errors are ``OSError`` with the host errno (``NetClosed`` is one, errno EBADF); the driver
   turns them into Plan 9 error strings.  ``recv`` returns ``b""`` when the peer closed.
4. Addresses are ``(ip, port)`` with ``ip`` a literal (IPv4 or IPv6); no name lookup here.
5. At most one task receives and one sends on a socket at a time (the driver serializes
   ``accept`` with a lock, as trio allows one waiter per direction).
6. ``keepalive(ms)`` makes a silently broken TCP link (no FIN, no reset ever arrives) fail
   ``s + 2 * max(1, s // 4)`` seconds after it went quiet (``s`` = ms in whole seconds;
   about 1.5 ms for long periods, 2 ms for 2 s): blocked and later ``recv``/``send`` then
   raise ETIMEDOUT.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

import trio

TCP = socket.SOCK_STREAM
UDP = socket.SOCK_DGRAM
MAXDGRAM = 65535  # largest UDP payload read at once
KEEPCNT = 2  # unanswered keepalive probes before a silent link is dead (Rule 6)


class NetClosed(OSError):
    """The HostSock was closed (possibly while a task waited on it)."""

    def __init__(self) -> None:
        super().__init__(errno.EBADF, "socket closed")


def family(ip: str) -> socket.AddressFamily:
    """The address family of literal ``ip`` ("" means IPv4 any)."""
    if not ip:
        return socket.AF_INET
    return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET


class HostSock:
    """One host socket (see the module Rules)."""

    def __init__(self, kind: int, fam: socket.AddressFamily = socket.AF_INET,
                 sock: socket.socket | None = None) -> None:  # fmt: skip
        self.sock = sock if sock is not None else socket.socket(fam, kind)
        self.sock.setblocking(False)
        self.kind = kind  # TCP or UDP
        self.closed = False
        if kind == TCP:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if sock is not None:
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __repr__(self) -> str:
        return f"<HostSock fd={self.sock.fileno()} {self.local()} -> {self.remote()}>"

    # ---- set up ---------------------------------------------------------------------------

    def bind(self, ip: str, port: int) -> None:
        self.sock.bind((ip, port))

    def listen(self, backlog: int = 64) -> None:
        self.sock.listen(backlog)

    async def connect(self, ip: str, port: int) -> None:
        """Connect to (ip, port); raises OSError (e.g. ECONNREFUSED) on failure."""
        err = self.sock.connect_ex((ip, port))
        if err in (errno.EINPROGRESS, errno.EAGAIN):
            await self._wait(trio.lowlevel.wait_writable)
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        else:
            await trio.lowlevel.checkpoint()
        if err:
            raise OSError(err, os.strerror(err))
        if self.kind == TCP:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def accept(self) -> HostSock:
        """The next incoming TCP connection."""
        while True:
            self._check()
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_readable)
                continue
            except OSError as e:
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the caller gave up first: take the next one
                raise
            await trio.lowlevel.checkpoint()
            return HostSock(TCP, sock=conn)

    def keepalive(self, ms: int | None) -> None:
        """Turn on TCP keepalive (Rule 6): probe after ``ms`` of silence, give up soon after.

        ``ms`` (rounded up to seconds for the probe timers) is the idle time before the first
        probe; probes follow every ``max(1, s // 4)`` seconds, and a link that answered
        none of two is dead: ``TCP_USER_TIMEOUT`` ends it ``s + 2 * intvl`` seconds after
        the last byte received, and also bounds how long sent data may stay unacknowledged.
        Without ``ms`` only SO_KEEPALIVE is set (the host's default timers).
        """
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if ms is None:
            return
        secs = max(1, (ms + 999) // 1000)
        intvl = max(1, secs // 4)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, secs)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPCNT)
        timeout = (secs + KEEPCNT * intvl) * 1000
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout)

    def keepalive_state(self) -> tuple[bool, int]:
        """(SO_KEEPALIVE on?, TCP_KEEPIDLE seconds) as the host reports them."""
        on = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        idle = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        return bool(on), idle

    def keepalive_timers(self) -> tuple[int, int, int, int]:
        """(idle s, interval s, probe count, user timeout ms) as the host reports them."""
        g = self.sock.getsockopt
        return (g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                g(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))  # fmt: skip

    def setopt_ip(self, name: str, value: int) -> None:
        """Set IP_TTL ("ttl") or IP_TOS ("tos") on an IPv4 socket (ignored on IPv6)."""
        if self.sock.family == socket.AF_INET:
            opt = socket.IP_TTL if name == "ttl" else socket.IP_TOS
            self.sock.setsockopt(socket.IPPROTO_IP, opt, value)

    # ---- addresses --------------------------------------------------------------------------

    def local(self) -> tuple[str, int]:
        return _addr(self.sock.getsockname())

    def remote(self) -> tuple[str, int] | None:
        try:
            return _addr(self.sock.getpeername())
        except OSError:
            return None

    # ---- data -----------------------------------------------------------------------------

    async def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` when the peer closed."""
        return (await self._recv(n, False))[0]

    async def recvfrom(self, n: int = MAXDGRAM) -> tuple[bytes, tuple[str, int]]:
        """One datagram (cut to ``n`` bytes) and its sender."""
        data, addr = await self._recv(n, True)
        assert addr is not None
        return data, addr

    async def _recv(self, n: int, dgram: bool) -> tuple[bytes, tuple[str, int] | None]:
        waited = False
        while True:
            self._check()
            try:
                if dgram:
                    data, a = self.sock.recvfrom(n)
                    addr: tuple[str, int] | None = _addr(a)
                else:
                    data, addr = self.sock.recv(n), None
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_readable)
                waited = True
                continue
            if not waited:
                await trio.lowlevel.checkpoint()
            return data, addr

    async def send(self, data: bytes, to: tuple[str, int] | None = None) -> int:
        """Send all of ``data`` (one datagram for UDP, to ``to`` if given)."""
        view = memoryview(data)
        waited = False
        while True:
            self._check()
            try:
                n = self.sock.sendto(view, to) if to is not None else self.sock.send(view)
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_writable)
                waited = True
                continue
            view = view[n:]
            if not view or self.kind == UDP:
                break
        if not waited:
            await trio.lowlevel.checkpoint()
        return len(data)

    # ---- teardown ---------------------------------------------------------------------------

    def shutdown_write(self) -> None:
        """Send FIN: the peer reads end of file; we may still read."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        """Close the socket; tasks blocked on it raise NetClosed (Rule 2)."""
        if not self.closed:
            self.closed = True
            trio.lowlevel.notify_closing(self.sock)
            self.sock.close()

    def _check(self) -> None:
        if self.closed:
            raise NetClosed()

    async def _wait(self, waiter: object) -> None:
        try:
            await waiter(self.sock)  # type: ignore[operator]
        except trio.ClosedResourceError:
            raise NetClosed() from None


def _addr(a: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    ip = a[0]
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[7:]  # v4-mapped: show it as Plan 9 does, dotted
    return ip, a[1]
