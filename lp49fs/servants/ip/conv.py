"""#I conversations: the state of one ``/net/tcp/N`` or ``/net/udp/N`` and its ctl verbs.

Theory of operation
-------------------
A ``Conv`` is Plan 9's ``Conv`` (ip.h) reduced to what a host socket needs.  The servant
(``servants/ip``) owns the table of conversations and the file tree; this module owns what one
conversation does: parse and run a ctl message, move data, and describe itself in
``local``, ``remote``, ``status`` and ``err``.  The host socket is the device
(``hwsim.netif.HostSock``); this is its driver half.

Rules
  1. ``inuse`` counts the open ctl, data, err and listen-made Chans.  When it drops to 0
     the conversation is closed (``closeconv``): sockets closed, state ``Closed``, fields
     reset, and its number may be handed out again by the next clone.
  2. TCP states follow Plan 9's names: ``Closed`` -> ``Syn_sent`` (connect in progress)
     -> ``Established`` -> ``Close_wait`` (the peer closed; reads give 0 bytes); ``Listen``
     after ``announce``.  UDP is ``Open`` or ``Closed``.
  3. A failure is recorded in ``err`` (the ``err`` file) and raised as ``Error`` with the
     same text.  A write after ``hangup`` (or after the peer reset) raises ``Ehungup``; a
     read then returns 0 bytes.
  4. Ctl messages: ``connect addr!port[!r] [local]``, ``announce port|*|addr!port``,
     ``bind port|addr!port``, ``hangup``, ``keepalive [ms]`` (a silent link then fails
     reads with ``connection timed out``: ``hwsim.netif`` Rule 6), ``ttl n``, ``tos n``, UDP
     ``headers``, and libc's ``accept N`` (a no-op) and ``reject N cause`` (hang up).
     ``!r`` (a privileged local port) is accepted and ignored.  Port ``*`` or 0 asks the
     host for a port.  Anything else is ``unknown control request``.
  5. UDP with ``headers``: every read is prefixed and every write must be prefixed by
     Plan 9's 52-byte header raddr[16] laddr[16] ifcaddr[16] rport[2] lport[2] (addresses
     IPv6 or v4-mapped, ports big-endian).  Without headers an announced (unconnected) UDP
     conversation answers the sender of the last datagram it read (Plan 9 would instead make
     a new conversation per sender; not done here).
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass, field

import trio

from hwsim.netif import TCP, UDP, HostSock, family
from lp49fs.errors import (
    Ebadctl,
    Econinuse,
    Econrefused,
    Econreset,
    Ehungup,
    Enetaddr,
    Enotannounced,
    Enotconn,
    Error,
    Etimedout,
)
from lp49fs.transport import RUNOUT, AcceptBackoff

TCPREAD = 1 << 18  # most bytes one data read takes from the host socket: a 64 KiB Rread in
# TLS records (65,547 bytes of 9P plus record overhead) arrives in one read, not two
UDPHDRSIZE = 52  # raddr[16] laddr[16] ifcaddr[16] rport[2] lport[2]
NOADDR = ("::", 0)

_ERRNO = {errno.ECONNREFUSED: Econrefused, errno.ETIMEDOUT: Etimedout,
          errno.ECONNRESET: Econreset, errno.EPIPE: Ehungup,
          errno.EADDRINUSE: "address in use", errno.ENETUNREACH: "network unreachable",
          errno.EHOSTUNREACH: "host unreachable", errno.EACCES: "permission denied"}  # fmt: skip


def oserror_text(e: OSError) -> str:
    """The Plan 9-style text for a host socket error."""
    return _ERRNO.get(e.errno or 0, e.strerror or str(e))


def parseaddr(s: str, *, announce: bool = False) -> tuple[str, int]:
    """``addr!port[!r]``, ``port``, ``*`` or ``*!port`` -> (ip literal or "", port).

    Announce forms may omit the address or use ``*`` (any); dialling needs both.
    """
    parts = s.split("!")
    if parts[-1] == "r" and len(parts) > 1:
        parts.pop()
    if len(parts) == 1:
        if not announce:
            raise Error(Enetaddr)
        host, port = "*", parts[0]
    elif len(parts) == 2:
        host, port = parts
    else:
        raise Error(Enetaddr)
    if port == "*":
        port = "0"
    if not port.isdigit() or int(port) > 65535:
        raise Error(Enetaddr)
    if host == "*":
        if not announce:
            raise Error(Enetaddr)
        return "", int(port)
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        raise Error(Enetaddr) from None
    return ip, int(port)


def fmtaddr(a: tuple[str, int] | None) -> str:
    ip, port = a or NOADDR
    return f"{ip or '0.0.0.0'}!{port}\n"


def _v6(ip: str) -> bytes:
    a = ipaddress.ip_address(ip or "0.0.0.0")
    if isinstance(a, ipaddress.IPv4Address):
        return bytes(10) + b"\xff\xff" + a.packed
    return a.packed


def _unv6(b: bytes) -> str:
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped is not None else str(a)


@dataclass
class Conv:
    """One conversation of a protocol (see the module Rules)."""

    proto: str  # "tcp" or "udp"
    x: int  # conversation number: the N of /net/tcp/N
    owner: str = ""  # user that cloned it; owns its files
    inuse: int = 0  # open ctl/data/err Chans (Rule 1)
    state: str = "Closed"  # Rule 2
    sock: HostSock | None = None  # connected (TCP) or bound (UDP) host socket
    lsock: HostSock | None = None  # TCP listening socket after announce
    lbind: tuple[str, int] | None = None  # local address from "bind", used by connect/announce
    err: str = ""  # last failure (the err file)
    hungup: bool = False  # hangup or reset: writes fail (Rule 3)
    headers: bool = False  # UDP headers mode (Rule 5)
    lastfrom: tuple[str, int] | None = None  # UDP: sender of the last datagram read
    acceptlock: trio.Lock = field(default_factory=trio.Lock)  # one accept at a time

    # ---- life cycle ---------------------------------------------------------------------

    def closeconv(self) -> None:
        """Last close (Rule 1): drop the sockets and forget everything."""
        for s in (self.sock, self.lsock):
            if s is not None:
                s.close()
        self.sock = self.lsock = self.lbind = self.lastfrom = None
        self.state, self.err, self.hungup, self.headers, self.owner = "Closed", "", False, False, ""

    def fail(self, text: str) -> Error:
        self.err = text
        return Error(text)

    # ---- text files ----------------------------------------------------------------------

    def local(self) -> str:
        s = self.sock or self.lsock
        return fmtaddr(s.local() if s is not None else self.lbind)

    def remote(self) -> str:
        if self.sock is not None and (r := self.sock.remote()) is not None:
            return fmtaddr(r)
        return fmtaddr(self.lastfrom)

    def status(self) -> str:
        return f"{self.state} qin 0 qout 0\n"

    # ---- ctl (Rule 4) ---------------------------------------------------------------------

    async def ctl(self, msg: str) -> str | None:
        """Run one ctl message; returns the verb (for the servant's counters)."""
        f = msg.split()
        if not f:
            raise Error(Ebadctl)
        verb = f[0]
        if verb == "connect" and len(f) in (2, 3):
            local = parseaddr(f[2], announce=True) if len(f) > 2 else None
            await self.connect(parseaddr(f[1]), local)
        elif verb == "announce" and len(f) == 2:
            self.announce(parseaddr(f[1], announce=True))
        elif verb == "bind" and len(f) == 2:
            self.lbind = parseaddr(f[1], announce=True)
            if self.proto == "udp" and self.sock is None:
                self.announce(self.lbind)
        elif verb in ("hangup", "reject") and (verb == "hangup" or len(f) >= 2):
            self.hangup(" ".join(f[2:]) if verb == "reject" else "")
        elif verb == "accept" and len(f) == 2:
            pass  # libc accept(2): nothing to do for TCP
        elif verb == "keepalive" and self.proto == "tcp" and len(f) in (1, 2):
            self.keepalive(int(f[1]) if len(f) == 2 and f[1].isdigit() else None)
        elif verb in ("ttl", "tos") and len(f) == 2 and f[1].isdigit():
            if s := self.sock or self.lsock:
                s.setopt_ip(verb, int(f[1]))
        elif verb == "headers" and self.proto == "udp" and len(f) == 1:
            self.headers = True
        else:
            raise Error(Ebadctl)
        return verb

    async def connect(self, raddr: tuple[str, int], laddr: tuple[str, int] | None) -> None:
        if self.sock is not None or self.lsock is not None or self.state == "Syn_sent":
            raise Error(Econinuse)
        laddr = laddr or self.lbind
        s = HostSock(TCP if self.proto == "tcp" else UDP, family(raddr[0]))
        self.state, self.err = ("Syn_sent" if self.proto == "tcp" else "Open"), ""
        try:
            if laddr is not None:
                s.bind(laddr[0], laddr[1])
            await s.connect(*raddr)
        except OSError as e:
            s.close()
            self.state = "Closed"
            raise self.fail(oserror_text(e)) from None
        except BaseException:
            s.close()
            self.state = "Closed"
            raise
        self.sock = s
        self.state = "Established" if self.proto == "tcp" else "Open"

    def announce(self, laddr: tuple[str, int]) -> None:
        if self.sock is not None or self.lsock is not None:
            raise Error(Econinuse)
        if laddr[0] == "" and self.lbind is not None:
            laddr = (self.lbind[0], laddr[1] or self.lbind[1])
        s = HostSock(TCP if self.proto == "tcp" else UDP, family(laddr[0]))
        try:
            s.bind(laddr[0], laddr[1])
            if self.proto == "tcp":
                s.listen()
        except OSError as e:
            s.close()
            raise self.fail(oserror_text(e)) from None
        if self.proto == "tcp":
            self.lsock, self.state = s, "Listen"
        else:
            self.sock, self.state = s, "Open"

    def hangup(self, why: str = "") -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.lsock is not None:
            self.lsock.close()
            self.lsock = None
        self.hungup, self.state = True, "Closed"
        if why:
            self.err = why

    def keepalive(self, ms: int | None) -> None:
        if self.sock is None:
            raise Error(Enotconn)
        self.sock.keepalive(ms)

    async def accept(self) -> HostSock:
        """Wait for the next call on an announced TCP conversation (one waiter at a time)."""
        async with self.acceptlock:
            if self.lsock is None:
                raise Error(Enotannounced)
            runout = AcceptBackoff(f"#I announce {self.lbind}")
            while True:
                try:
                    return await self.lsock.accept()
                except OSError as e:
                    if self.lsock is not None and e.errno in RUNOUT:
                        await runout.wait(e)  # out of descriptors: wait, never fail the listen
                        continue
                    raise Error(Ehungup if self.lsock is None else oserror_text(e)) from None

    def adopt(self, s: HostSock, owner: str) -> None:
        """Become the conversation of an accepted call."""
        self.sock, self.owner, self.state, self.inuse = s, owner, "Established", 1

    # ---- data (Rule 3, Rule 5) -------------------------------------------------------------

    async def read(self, count: int) -> bytes:
        s = self.sock
        if s is None:
            if self.hungup:
                return b""
            raise Error(Enotconn)
        try:
            if self.proto == "tcp":
                data = await s.recv(min(count, TCPREAD))
                if not data and self.state == "Established":
                    self.state = "Close_wait"
                return data
            data, frm = await s.recvfrom()
        except OSError as e:
            if s.closed:
                return b""
            self.hungup = True
            raise self.fail(oserror_text(e)) from None
        if self.headers:
            lip, lport = s.local()
            hdr = _v6(frm[0]) + _v6(lip) + _v6(lip) + frm[1].to_bytes(2, "big")
            data = hdr + lport.to_bytes(2, "big") + data
        elif s.remote() is None:
            self.lastfrom = frm
        return data[:count]

    async def write(self, data: bytes) -> int:
        s = self.sock
        if s is None or self.hungup:
            raise Error(Ehungup if self.hungup or self.state == "Closed" else Enotconn)
        to: tuple[str, int] | None = None
        if self.proto == "udp":
            if self.headers:
                if len(data) < UDPHDRSIZE:
                    raise Error("short udp header")
                to = (_unv6(data[:16]), int.from_bytes(data[48:50], "big"))
                payload = data[UDPHDRSIZE:]
                await self._send(s, payload, to)
                return len(data)
            if s.remote() is None:
                if self.lastfrom is None:
                    raise Error(Enotconn)
                to = self.lastfrom
        await self._send(s, data, to)
        return len(data)

    async def _send(self, s: HostSock, data: bytes, to: tuple[str, int] | None) -> None:
        try:
            await s.send(data, to)
        except OSError as e:
            if s.closed or e.errno in (errno.EPIPE, errno.ECONNRESET):
                self.hungup = True
                if not s.closed:
                    self.err = oserror_text(e)
                raise Error(Ehungup) from None
            raise self.fail(oserror_text(e)) from None
