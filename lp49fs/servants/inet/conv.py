"""Conversations of the own stack: the common part, ICMP echo and UDP (Plan 9 ip/icmp.c, udp.c).

A conversation is ``/net/PROTO/N``.  ``Conv`` holds what every protocol shares: the owner,
the open count, the addresses, the ``err`` text, a queue of what arrived for reading, and
the ctl verbs ``connect``, ``announce``, ``bind``; protocols add their own (``IcmpConv``,
``UdpConv`` here, ``TcpConv`` in ``tcp.py``).  The servant (``devip.py``) owns the table;
the protocol objects (``Icmp``, ``Udp``) own the demultiplexing by port.

Rules
  1. Ports: ``connect`` without a local port and ``announce *`` take the next free port
     from ``AUTOPORT`` upwards (Plan 9 starts at 5000); a port in use is ``address in use``.
  2. ICMP: data written is one ICMP message (type, code, checksum, identifier, sequence,
     data); the stack puts the conversation's local port in the identifier and computes the
     checksum.  A read returns one echo reply whose identifier is that port.  Echo requests
     to any of our addresses are answered by the stack itself.
  3. UDP: one write is one datagram, one read returns one datagram (cut to the count).  With
     ``headers`` every datagram carries the 52-byte header of ``ipconv`` Rule 5.  An
     announced conversation without headers answers the sender of the last datagram read.
  4. A conversation queues at most ``QMAX`` datagrams; later ones are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import trio

from lp49fs.errors import Eaddrinuse, Ebadctl, Econinuse, Enotconn, Error
from lp49fs.servants.inet import pkt
from lp49fs.servants.ip.conv import UDPHDRSIZE, parseaddr

if TYPE_CHECKING:
    from lp49fs.servants.inet.stack import Stack

AUTOPORT = 5000
QMAX = 256
Addr = tuple[bytes, int]
NOADDR: Addr = (pkt.ZERO4, 0)


def addr4(s: str, *, announce: bool = False) -> Addr:
    """``ip!port`` (or an announce form) -> (4-byte address, port)."""
    ip, port = parseaddr(s, announce=announce)
    try:
        return (pkt.ipbytes(ip) if ip else pkt.ZERO4), port
    except ValueError:
        raise Error("bad address") from None


def fmt(a: Addr) -> str:
    return f"{pkt.ipstr(a[0])}!{a[1]}\n"


class Conv:
    """What every conversation has (see the module docstring)."""

    proto = ""

    def __init__(self, x: int, stack: Stack, ports: dict[int, Conv]) -> None:
        self.x = x  # the N of /net/PROTO/N
        self.stack = stack
        self.ports = ports  # the protocol's local port -> conversation table
        self.owner = ""
        self.inuse = 0
        self.reset()

    def reset(self) -> None:
        self.state = "Closed"
        self.err = ""
        self.laddr: Addr = NOADDR
        self.raddr: Addr = NOADDR
        self.rq: deque[bytes] = deque()
        self.readable = trio.Event()
        self.hungup = False
        self.drops = 0

    def closeconv(self) -> None:
        if self.ports.get(self.laddr[1]) is self:
            del self.ports[self.laddr[1]]
        self.reset()
        self.owner = ""

    def free(self) -> bool:
        return self.inuse == 0 and self.state == "Closed"

    def fail(self, text: str) -> Error:
        self.err = text
        return Error(text)

    # ---- ports (Rule 1) ---------------------------------------------------------------------

    def setport(self, port: int) -> None:
        if port == 0:
            port = AUTOPORT
            while port in self.ports:
                port += 1
        elif port in self.ports and self.ports[port] is not self:
            raise self.fail(Eaddrinuse)
        if self.ports.get(self.laddr[1]) is self:
            del self.ports[self.laddr[1]]
        self.laddr = (self.laddr[0], port)
        self.ports[port] = self

    # ---- text files -------------------------------------------------------------------------

    def local(self) -> str:
        return fmt(self.laddr)

    def remote(self) -> str:
        return fmt(self.raddr)

    def status(self) -> str:
        return f"{self.state} qin {len(self.rq)} qout 0\n"

    # ---- ctl ----------------------------------------------------------------------------------

    async def ctl(self, msg: str) -> str:
        f = msg.split()
        if not f:
            raise Error(Ebadctl)
        if f[0] == "connect" and len(f) in (2, 3):
            if self.state != "Closed":
                raise Error(Econinuse)
            r = addr4(f[1] if "!" in f[1] or self.proto != "icmp" else f[1] + "!0")
            port = addr4(f[2], announce=True)[1] if len(f) == 3 else self.laddr[1]
            self.laddr = (self.stack.source(r[0]), self.laddr[1])
            self.setport(port)
            self.raddr = r
            await self.connect()
        elif f[0] == "announce" and len(f) == 2:
            if self.state != "Closed":
                raise Error(Econinuse)
            a, port = addr4(f[1], announce=True)
            self.laddr = (a, self.laddr[1])
            self.setport(port)
            self.announce()
        elif f[0] == "bind" and len(f) == 2:
            a, port = addr4(f[1], announce=True)
            self.laddr = (a, self.laddr[1])
            self.setport(port)
        else:
            self.protoctl(f)
        return f[0]

    async def connect(self) -> None:
        self.state = "Open"

    def announce(self) -> None:
        self.state = "Open"

    def protoctl(self, f: list[str]) -> None:
        if f[0] in ("ttl", "tos") and len(f) == 2:
            return
        raise Error(Ebadctl)

    # ---- data ---------------------------------------------------------------------------------

    def queue(self, data: bytes) -> None:
        """A datagram arrived for this conversation (Rule 4)."""
        if len(self.rq) >= QMAX:
            self.drops += 1
            return
        self.rq.append(data)
        self.readable.set()

    async def read(self, count: int) -> bytes:
        while not self.rq:
            if self.hungup:
                return b""
            self.readable = trio.Event()
            await self.readable.wait()
        return self.rq.popleft()[:count]

    async def write(self, data: bytes) -> int:
        raise Error(Enotconn)


class IcmpConv(Conv):
    """``/net/icmp/N``: echo requests out, echo replies in (Rule 2)."""

    proto = "icmp"

    async def write(self, data: bytes) -> int:
        if self.state == "Closed" or self.raddr == NOADDR:
            raise Error(Enotconn)
        if len(data) < 8:
            raise Error("short icmp message")
        msg = pkt.icmp_build(data[0], data[1], self.laddr[1].to_bytes(2, "big") + data[6:])
        await self.stack.ipoput(self.laddr[0], self.raddr[0], pkt.PROTO_ICMP, msg)
        return len(data)


class Icmp:
    """ICMP input: answer echo requests, hand echo replies to their conversation."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ports: dict[int, Conv] = {}
        stack.protos[pkt.PROTO_ICMP] = self.input

    def input(self, ifc: object, d: pkt.Ip) -> None:
        b = d.payload
        if not pkt.icmp_ok(b):
            self.stack.stats["IcmpInErrors"] += 1
            return
        self.stack.stats["IcmpInMsgs"] += 1
        if b[0] == pkt.ECHO:
            self.stack.stats["IcmpOutEchoReps"] += 1
            reply = pkt.icmp_build(pkt.ECHOREPLY, 0, b[4:])
            self.stack.spawn(self.stack.ipoput, d.dst, d.src, pkt.PROTO_ICMP, reply)
        elif b[0] == pkt.ECHOREPLY:
            cv = self.ports.get(int.from_bytes(b[4:6], "big"))
            if cv is not None:
                cv.queue(b)


class UdpConv(Conv):
    """``/net/udp/N`` (Rule 3)."""

    proto = "udp"

    def reset(self) -> None:
        super().reset()
        self.headers = False
        self.lastfrom: Addr | None = None

    def protoctl(self, f: list[str]) -> None:
        if f == ["headers"]:
            self.headers = True
        else:
            super().protoctl(f)

    def deliver(self, src: Addr, dst: bytes, data: bytes) -> None:
        if self.raddr != NOADDR and src != self.raddr:
            return
        if self.headers:
            hdr = _v6(src[0]) + _v6(dst) + _v6(dst) + src[1].to_bytes(2, "big")
            data = hdr + self.laddr[1].to_bytes(2, "big") + data
        else:
            self.lastfrom = src
        self.queue(data)

    async def write(self, data: bytes) -> int:
        if self.state == "Closed":
            raise Error(Enotconn)
        to = self.raddr
        payload = data
        if self.headers:
            if len(data) < UDPHDRSIZE:
                raise Error("short udp header")
            to = (data[12:16], int.from_bytes(data[48:50], "big"))
            payload = data[UDPHDRSIZE:]
        elif to == NOADDR:
            if self.lastfrom is None:
                raise Error(Enotconn)
            to = self.lastfrom
        src = self.laddr[0] if self.laddr[0] != pkt.ZERO4 else self.stack.source(to[0])
        seg = pkt.udp_build(src, to[0], self.laddr[1], to[1], payload)
        await self.stack.ipoput(src, to[0], pkt.PROTO_UDP, seg)
        return len(data)


def _v6(a: bytes) -> bytes:
    return bytes(10) + b"\xff\xff" + a


class Udp:
    """UDP input: checksum, then the conversation of the destination port."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ports: dict[int, Conv] = {}
        stack.protos[pkt.PROTO_UDP] = self.input

    def input(self, ifc: object, d: pkt.Ip) -> None:
        u = pkt.udp_parse(d.src, d.dst, d.payload)
        if u is None:
            self.stack.stats["UdpInErrors"] += 1
            return
        sport, dport, data = u
        cv = self.ports.get(dport)
        if not isinstance(cv, UdpConv):
            self.stack.stats["UdpNoPorts"] += 1
            return
        self.stack.stats["UdpInDatagrams"] += 1
        cv.deliver((d.src, sport), d.dst, data)
