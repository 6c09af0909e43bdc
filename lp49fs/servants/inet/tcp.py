"""TCP for the own stack: demultiplexing, listeners, and ``/net/tcp/N`` (Plan 9 ip/tcp.c).

``Tcp`` is the protocol: its input finds the connection of a segment by (local port,
remote address, remote port); a SYN for a port with a listener makes a new ``Tcb`` in
Syn_received; anything else for nobody gets a reset (RFC 9293 §3.10.7.1).  Its one sender
task takes segments from every connection in order and hands them to ``Stack.ipoput``.
Each Tcb gets a timer task (``Tcb.timer``) for as long as it lives.

``TcpConv`` is the conversation: ``connect`` is an active open that returns once the
connection is Established (or raises ``connection refused`` / ``connection timed out``),
``announce`` makes a listener, ``accept`` (the listen file) takes the next established
call.  The last close sends a FIN and leaves the Tcb to finish the close and TIME_WAIT on
its own; the conversation keeps its port until then and gives it back the moment the Tcb is
Closed (``_closed``), so a port is never reused while an old incarnation of its connection
may still have segments in flight, and is free again right after.

Rules
  1. Reads return the bytes received so far (at most count), block while there are none,
     and return 0 bytes after the peer's FIN.  A reset makes reads and writes fail with
     ``connection reset by peer``.
  2. Writes queue at most ``SNDBUF`` unacknowledged bytes and block beyond that.
  3. ``hangup`` resets the connection (Plan 9 tcp hangup).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import trio

from lp49fs.errors import Ehungup, Enotannounced, Error
from lp49fs.servants.inet import pkt
from lp49fs.servants.inet import tcpseg as ts
from lp49fs.servants.inet.conv import Addr, Conv
from lp49fs.servants.inet.tcb import SNDBUF, Tcb
from lp49fs.servants.inet.tcbbase import TcbBase

if TYPE_CHECKING:
    from lp49fs.servants.inet.stack import Stack

Key = tuple[int, bytes, int]  # local port, remote ip, remote port
ACCEPTQ = 16  # established calls waiting for a listen (the backlog)


class Listener:
    """An announced port: calls that completed the handshake wait in ``q``."""

    def __init__(self) -> None:
        self.q: deque[Tcb] = deque()
        self.ready = trio.Event()
        self.closed = False

    def accepted(self, tcb: Tcb) -> None:
        if len(self.q) >= ACCEPTQ or self.closed:
            tcb.abort()
            return
        self.q.append(tcb)
        self.ready.set()


class Tcp:
    """The protocol (see the module docstring)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ports: dict[int, Conv] = {}  # local port -> conversation (listeners, active opens)
        self.conns: dict[Key, Tcb] = {}
        self.listeners: dict[int, Listener] = {}
        self.send_ch, self.recv_ch = trio.open_memory_channel[tuple[bytes, bytes, bytes]](math.inf)
        self.started = False
        stack.protos[pkt.PROTO_TCP] = self.input
        stack.tcp = self

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.stack.spawn(self._sender)

    async def _sender(self) -> None:
        """Send queued segments in order; a burst goes out in one wake-up of this task."""
        async for item in self.recv_ch:
            while True:
                src, dst, seg = item
                try:
                    await self.stack.ipoput(src, dst, pkt.PROTO_TCP, seg)
                except Error:
                    self.stack.stats["TcpOutErrors"] += 1  # no route, say: a lost segment
                try:
                    item = self.recv_ch.receive_nowait()
                except trio.WouldBlock:
                    break

    def emit(self, tcb: TcbBase, s: ts.Seg) -> None:
        self.stack.stats["TcpOutSegs"] += 1
        src, dst = tcb.laddr[0], tcb.raddr[0]
        self.send_ch.send_nowait((src, dst, ts.build(src, dst, s)))

    def newtcb(self, laddr: Addr, raddr: Addr) -> Tcb:
        self.start()
        tcb = Tcb(laddr, raddr, self.emit)
        key = (laddr[1], raddr[0], raddr[1])
        self.conns[key] = tcb

        def closed(t: TcbBase) -> None:
            if self.conns.get(key) is t:
                del self.conns[key]

        tcb.onclosed = closed
        self.stack.spawn(tcb.timer)
        return tcb

    def input(self, ifc: object, d: pkt.Ip) -> None:
        s = ts.parse(d.src, d.dst, d.payload)
        st = self.stack.stats
        if s is None:
            st["TcpInErrs"] += 1
            return
        st["TcpInSegs"] += 1
        tcb = self.conns.get((s.dport, d.src, s.sport))
        if tcb is not None:
            tcb.arrive(s)
            return
        lis = self.listeners.get(s.dport)
        if lis is not None and not s.flags & (ts.RST | ts.ACK) and s.flags & ts.SYN:
            child = self.newtcb((d.dst, s.dport), (d.src, s.sport))
            child.listener = lis
            child.open_passive(s)
            return
        if s.flags & ts.RST:
            return
        st["TcpOutRsts"] += 1
        if s.flags & ts.ACK:
            r = ts.Seg(s.dport, s.sport, s.ack, 0, ts.RST, 0, 0, b"")
        else:
            r = ts.Seg(s.dport, s.sport, 0, s.seq + s.seglen(), ts.RST | ts.ACK, 0, 0, b"")
        self.start()
        self.send_ch.send_nowait((d.dst, d.src, ts.build(d.dst, d.src, r)))


class TcpConv(Conv):
    """``/net/tcp/N`` (see the module Rules)."""

    proto = "tcp"

    def reset(self) -> None:
        super().reset()
        self.tcb: Tcb | None = None
        self.listener: Listener | None = None

    @property
    def tcp(self) -> Tcp:
        assert self.stack.tcp is not None
        return self.stack.tcp

    def free(self) -> bool:
        return self.inuse == 0 and (self.tcb is None or self.tcb.state == "Closed")

    def status(self) -> str:
        state = self.tcb.state if self.tcb is not None else self.state
        return f"{state} qin {len(self.tcb.rcvq) if self.tcb else 0} qout 0\n"

    def _watch(self, tcb: Tcb) -> None:
        """Give the port back once ``tcb`` is Closed after our last close (module docstring)."""
        prev = tcb.onclosed

        def closed(t: TcbBase) -> None:
            if prev is not None:
                prev(t)
            if self.tcb is t and self.inuse == 0:
                self.closeconv()

        tcb.onclosed = closed

    async def connect(self) -> None:
        tcb = self.tcb = self.tcp.newtcb(self.laddr, self.raddr)
        self._watch(tcb)
        self.state = "Syn_sent"
        tcb.open_active()
        while tcb.state in ("Syn_sent", "Syn_received"):
            await tcb.changed.wait()
        if tcb.state == "Closed":
            self.state = "Closed"
            raise self.fail(tcb.err or "connection refused")
        self.state = "Established"

    def announce(self) -> None:
        self.listener = self.tcp.listeners[self.laddr[1]] = Listener()
        self.state = "Listen"

    async def accept(self) -> Tcb:
        lis = self.listener
        if lis is None:
            raise Error(Enotannounced)
        while not lis.q:
            if lis.closed:
                raise Error(Ehungup)
            lis.ready = trio.Event()
            await lis.ready.wait()
        return lis.q.popleft()

    def adopt(self, tcb: Tcb) -> None:
        self.tcb, self.state = tcb, "Established"
        self._watch(tcb)
        self.laddr, self.raddr = tcb.laddr, tcb.raddr

    def protoctl(self, f: list[str]) -> None:
        if f[0] == "hangup" and self.tcb is not None:
            self.tcb.abort()
            self.hungup = True
        elif f[0] in ("keepalive", "accept", "hangup") or f[0] == "reject":
            pass  # keepalive: not sent (idle connections stay up); accept: nothing to do
        else:
            super().protoctl(f)

    def closeconv(self) -> None:
        """Last close: FIN the connection (it finishes alone), stop listening."""
        tcb = self.tcb
        if tcb is not None and tcb.state != "Closed":
            tcb.close()
            if tcb.state != "Closed" or self.tcb is not tcb:
                return  # still closing (``_watch`` finishes), or closed and given back already
        if self.listener is not None:
            self.listener.closed = True
            self.listener.ready.set()
            for t in self.listener.q:
                t.abort()
            if self.tcp.listeners.get(self.laddr[1]) is self.listener:
                del self.tcp.listeners[self.laddr[1]]
        super().closeconv()

    async def read(self, count: int) -> bytes:
        tcb = self.tcb
        if tcb is None:
            return b"" if self.hungup else await super().read(count)
        while not tcb.rcvq:
            if tcb.rcvfin or tcb.state == "Closed":
                if tcb.err and tcb.err != "hungup":
                    raise self.fail(tcb.err)
                return b""
            await tcb.changed.wait()
        return tcb.take(count)

    async def write(self, data: bytes) -> int:
        tcb = self.tcb
        view = memoryview(data)
        while view:
            if tcb is None or tcb.state not in ("Established", "Close_wait") or tcb.fin_queued:
                why = tcb.err if tcb is not None and tcb.err not in ("", "hungup") else Ehungup
                raise self.fail(why)
            room = SNDBUF - len(tcb.sndq)
            if room <= 0:
                await tcb.changed.wait()
                continue
            tcb.sndq += view[:room]
            view = view[room:]
            tcb.output()
        return len(data)
