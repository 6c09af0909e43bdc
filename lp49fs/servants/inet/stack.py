"""The own IP stack's network layer: interfaces, ARP, routes, IPv4 in and out (Plan 9 ip/).

Theory of operation
-------------------
An ``Ipifc`` is ``/net/ipifc/N``: ``bind ether /net/ether0`` opens two connections of that
``#l`` controller through its servant methods, as Plan 9's ethermedium does with namec: one
of type 0x800 (IPv4) and one of type 0x806 (ARP); a reader task per connection (a kproc)
feeds ``input``.  ``add IP MASK`` gives it an address and installs the route of its subnet.

Output (``ipoput``): the route table gives the interface and the next hop; ARP resolves the
next hop's MAC; a datagram waiting for an ARP reply is queued (at most ``ARPQ`` per
address) and sent when the reply arrives; the request is repeated every ``ARPRETRY``
seconds up to ``ARPTRIES`` times, then the queue is dropped.

Input: ARP requests for one of our addresses are answered and every ARP packet teaches the
sender's address; IPv4 datagrams for us go to the protocol by number (``protos``), a
fragment once ``reasm.Reasm`` has the whole datagram; anything else is counted in
``stats`` and dropped.

Rules
  1. Nothing a frame contains can raise out of ``input``: a parser returns None, the caller
     counts (``stats``: InHdrErrors, InAddrErrors, InUnknownProtos, ArpErrors ...).
  2. The route for a destination is the longest-prefix match of ``routes``; none is
     ``no route`` (Plan 9's error text).
  3. The stack's tasks run in one system-task nursery, cancelled by ``shutdown``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from lp49fs.errors import Enoroute, Error
from lp49fs.ninep import ORDWR
from lp49fs.servants.inet import pkt
from lp49fs.servants.inet.reasm import Reasm

if TYPE_CHECKING:
    from lp49fs.core.core import Core
    from lp49fs.servants.inet.tcp import Tcp

log = logging.getLogger(__name__)

ARPQ = 16  # datagrams waiting per unresolved address
ARPRETRY = 1.0  # seconds between ARP requests
ARPTRIES = 3

Handler = Callable[["Ipifc", pkt.Ip], None]


@dataclass(eq=False)
class Ipifc:
    """One IP interface (ip.h Ipifc) on an ether controller."""

    x: int  # /net/ipifc/N
    stack: Stack
    dev: str = ""  # the bound device, e.g. /net/ether0
    mac: bytes = b""
    addr: bytes = pkt.ZERO4
    mask: bytes = pkt.ZERO4
    mtu: int = 1500
    chans: list[Any] = field(default_factory=list)  # the #l data Chans (ip, arp)
    cancel: trio.CancelScope = field(default_factory=trio.CancelScope)
    inpackets: int = 0
    outpackets: int = 0

    async def send(self, dst: bytes, etype: int, payload: bytes) -> None:
        ether = self.stack.ether()
        frame = pkt.ether(dst, self.mac, etype, payload)
        self.outpackets += 1
        await ether.write(self.chans[0 if etype == pkt.ETHER_IP else 1], frame, 0)


@dataclass
class Route:
    target: bytes
    mask: bytes
    gate: bytes  # ZERO4: directly connected
    ifc: Ipifc

    def prefix(self) -> int:
        return bin(int.from_bytes(self.mask, "big")).count("1")

    def matches(self, a: bytes) -> bool:
        m = int.from_bytes(self.mask, "big")
        return int.from_bytes(a, "big") & m == int.from_bytes(self.target, "big") & m


@dataclass
class ArpEntry:
    mac: bytes | None  # None while resolving
    q: deque[tuple[Ipifc, bytes]] = field(default_factory=deque)  # (ifc, IP datagram)
    resolved: trio.Event = field(default_factory=trio.Event)


class Stack:
    """The network layer of one node (see the module docstring)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.ifcs: list[Ipifc] = []
        self.routes: list[Route] = []
        self.arp: dict[bytes, ArpEntry] = {}
        self.protos: dict[int, Handler] = {}  # IP protocol number -> input handler
        self.tcp: Tcp | None = None  # set by Tcp (its conversations find it here)
        self.stats: Counter[str] = Counter()
        self.reasm = Reasm(self.stats)  # fragments waiting for the rest of their datagram
        self.ident = 1
        self.nursery: trio.Nursery | None = None
        self._stop = trio.CancelScope()

    # ---- kprocs (Rule 3) --------------------------------------------------------------------

    async def _host(self, started: trio.Event) -> None:
        with self._stop:
            async with trio.open_nursery() as n:
                self.nursery = n
                started.set()
                await trio.sleep_forever()

    async def start(self) -> None:
        if self.nursery is None:
            started = trio.Event()
            trio.lowlevel.spawn_system_task(self._host, started, name="inet kprocs")
            await started.wait()

    def spawn(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(self._guard, fn, *args)

    async def _guard(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        try:
            await fn(*args)
        except Exception:
            log.exception("inet kproc %s died", getattr(fn, "__name__", fn))

    def shutdown(self) -> None:
        self._stop.cancel()

    def ether(self) -> Any:
        return self.core.devtab["l"]

    # ---- ipifc ctl --------------------------------------------------------------------------

    async def bind(self, ifc: Ipifc, medium: str, dev: str) -> None:
        """``bind ether /net/etherN``: open the IP and ARP connections, start the readers."""
        if medium != "ether" or not dev.rstrip("/").split("/")[-1].startswith("ether"):
            raise Error("unknown interface type")
        if ifc.dev:
            raise Error("interface already bound")
        ctlr = dev.rstrip("/").split("/")[-1][len("ether") :]
        ether = self.ether()
        root = await ether.attach(ctlr)
        for etype in (pkt.ETHER_IP, pkt.ETHER_ARP):
            wq = await ether.walk(root, [f"ether{ctlr}", "clone"])
            if wq.clone is None:
                raise Error(f"{dev}: no clone file")
            c = await ether.open(wq.clone, ORDWR)
            await ether.write(c, f"connect {etype}".encode(), 0)
            n = (await ether.read(c, 16, 0)).decode()
            wq = await ether.walk(root, [f"ether{ctlr}", n, "data"])
            ifc.chans.append(await ether.open(wq.clone, ORDWR))
            ifc.chans.append(c)  # keep the ctl open too
        ifc.chans = [ifc.chans[0], ifc.chans[2], ifc.chans[1], ifc.chans[3]]
        wq = await ether.walk(root, [f"ether{ctlr}", "addr"])
        ifc.mac = bytes.fromhex((await ether.read(wq.clone, 12, 0)).decode())
        ifc.dev = dev
        await self.start()
        self.spawn(self._readers, ifc)

    async def _readers(self, ifc: Ipifc) -> None:
        with ifc.cancel:
            async with trio.open_nursery() as n:
                n.start_soon(self._reader, ifc, ifc.chans[0])
                n.start_soon(self._reader, ifc, ifc.chans[1])

    async def _reader(self, ifc: Ipifc, c: Any) -> None:
        ether = self.ether()
        while True:
            frame = await ether.read(c, 2048, 0)
            ifc.inpackets += 1
            self.input(ifc, frame)

    async def unbind(self, ifc: Ipifc) -> None:
        ifc.cancel.cancel()
        for c in ifc.chans:
            await self.ether().close(c)
        ifc.chans.clear()
        self.routes = [r for r in self.routes if r.ifc is not ifc]
        ifc.dev, ifc.addr, ifc.mask, ifc.cancel = "", pkt.ZERO4, pkt.ZERO4, trio.CancelScope()

    def add(self, ifc: Ipifc, addr: str, mask: str) -> None:
        """``add IP MASK``: the interface's address and the route of its subnet."""
        try:
            a = pkt.ipbytes(addr)
            m = pkt.ipbytes(mask) if "." in mask else _lenmask(mask)
        except ValueError:
            raise Error("bad address") from None
        if not ifc.dev:
            raise Error("interface not bound")
        ifc.addr, ifc.mask = a, m
        net = bytes(x & y for x, y in zip(a, m, strict=True))
        self.routes.append(Route(net, m, pkt.ZERO4, ifc))

    # ---- routes -----------------------------------------------------------------------------

    def route(self, dst: bytes) -> Route:
        best = [r for r in self.routes if r.matches(dst)]
        if not best:
            raise Error(Enoroute)
        return max(best, key=Route.prefix)

    def addroute(self, target: str, mask: str, gate: str) -> None:
        t, m, g = pkt.ipbytes(target), pkt.ipbytes(mask), pkt.ipbytes(gate)
        r = self.route(g)  # the gateway must be directly reachable
        self.routes.append(Route(t, m, g, r.ifc))

    def ours(self, a: bytes) -> Ipifc | None:
        return next((i for i in self.ifcs if i.dev and i.addr == a), None)

    def source(self, dst: bytes) -> bytes:
        """Our address on the interface that reaches ``dst`` (Rule 2)."""
        return self.route(dst).ifc.addr

    # ---- output -----------------------------------------------------------------------------

    async def ipoput(self, src: bytes, dst: bytes, proto: int, payload: bytes) -> None:
        """Send one datagram (see "Output" in the module docstring)."""
        if self.ours(dst) is not None or dst[0] == 127:
            self.ident += 1
            self.deliver_local(pkt.Ip(src, dst, proto, 64, self.ident, payload))
            return
        r = self.route(dst)
        hop = dst if r.gate == pkt.ZERO4 else r.gate
        self.ident += 1
        dgram = pkt.ip_build(src or r.ifc.addr, dst, proto, payload, self.ident)
        self.stats["OutRequests"] += 1
        e = self.arp.get(hop)
        if e is not None and e.mac is not None:
            await r.ifc.send(e.mac, pkt.ETHER_IP, dgram)
            return
        if e is None:
            e = self.arp[hop] = ArpEntry(None)
            self.spawn(self._resolve, r.ifc, hop, e)
        if len(e.q) < ARPQ:
            e.q.append((r.ifc, dgram))
        else:
            self.stats["OutDiscards"] += 1

    async def _resolve(self, ifc: Ipifc, hop: bytes, e: ArpEntry) -> None:
        for _ in range(ARPTRIES):
            req = pkt.Arp(1, ifc.mac, ifc.addr, bytes(6), hop)
            await ifc.send(pkt.BCAST, pkt.ETHER_ARP, pkt.arp_build(req))
            with trio.move_on_after(ARPRETRY):
                await e.resolved.wait()
            if e.mac is not None:
                return
        self.stats["ArpFailures"] += len(e.q) or 1
        del self.arp[hop]

    def deliver_local(self, d: pkt.Ip) -> None:
        h = self.protos.get(d.proto)
        if h is None:
            self.stats["InUnknownProtos"] += 1
            return
        h(self.ifcs[0] if self.ifcs else Ipifc(-1, self), d)

    # ---- input (Rule 1) ---------------------------------------------------------------------

    def input(self, ifc: Ipifc, frame: bytes) -> None:
        etype = int.from_bytes(frame[12:14], "big")
        body = frame[pkt.ETHERHDR :]
        if etype == pkt.ETHER_ARP:
            self.arpinput(ifc, body)
            return
        d = pkt.ip_parse(body)
        if d is None:
            self.stats["InHdrErrors"] += 1
            return
        self.stats["InReceives"] += 1
        if d.dst != ifc.addr and d.dst != b"\xff" * 4:
            self.stats["InAddrErrors"] += 1
            return
        if d.frag:
            whole = self.reasm.add(d, trio.current_time())
            if whole is None:
                return  # more fragments to come (or dropped: reasm's rules)
            d = whole
        self.deliver_local(d)

    def arpinput(self, ifc: Ipifc, body: bytes) -> None:
        a = pkt.arp_parse(body)
        if a is None:
            self.stats["ArpErrors"] += 1
            return
        e = self.arp.get(a.spa)
        if e is None:
            if a.tpa != ifc.addr:
                return  # not about us: do not learn (RFC 826 "merge" only for known entries)
            e = self.arp[a.spa] = ArpEntry(a.sha)
        e.mac = a.sha
        while e.q:
            qifc, dgram = e.q.popleft()
            self.spawn(qifc.send, a.sha, pkt.ETHER_IP, dgram)
        e.resolved.set()
        if a.op == 1 and a.tpa == ifc.addr and ifc.addr != pkt.ZERO4:
            rep = pkt.Arp(2, ifc.mac, ifc.addr, a.sha, a.spa)
            self.spawn(ifc.send, a.sha, pkt.ETHER_ARP, pkt.arp_build(rep))

    # ---- the text files ---------------------------------------------------------------------

    def arptext(self) -> str:
        rows = []
        for ip, e in self.arp.items():
            state, mac = ("OK", e.mac.hex()) if e.mac else ("WAIT", "000000000000")
            rows.append(f"ether  {state:<4} {pkt.ipstr(ip):<15} {mac}\n")
        return "".join(rows)

    def arpctl(self, f: list[str]) -> None:
        if f == ["flush"]:
            self.arp.clear()
        elif len(f) == 4 and f[0] == "add" and f[1] == "ether":
            try:
                mac = bytes.fromhex(f[3])
                self.arp[pkt.ipbytes(f[2])] = ArpEntry(mac if len(mac) == 6 else None)
            except ValueError:
                raise Error("bad arp request") from None
        elif len(f) == 2 and f[0] == "del":
            self.arp.pop(pkt.ipbytes(f[1]), None)
        else:
            raise Error("bad arp request")

    def routetext(self) -> str:
        return "".join(
            f"{pkt.ipstr(r.target):<15} {pkt.ipstr(r.mask):<15} {pkt.ipstr(r.gate):<15} "
            f"{'4i' if r.gate == pkt.ZERO4 else '4'}   {r.ifc.x}\n"
            for r in self.routes
        )

    def routectl(self, f: list[str]) -> None:
        try:
            if f == ["flush"]:
                self.routes = [r for r in self.routes if r.gate == pkt.ZERO4]
            elif len(f) == 4 and f[0] == "add":
                self.addroute(f[1], f[2], f[3])
            elif len(f) == 3 and f[0] == "remove":
                t, m = pkt.ipbytes(f[1]), pkt.ipbytes(f[2])
                self.routes = [r for r in self.routes if (r.target, r.mask) != (t, m)]
            else:
                raise Error("bad route request")
        except ValueError:
            raise Error("bad address") from None


def _lenmask(s: str) -> bytes:
    """``/24`` or ``24`` -> 255.255.255.0 bytes."""
    return ipaddress.IPv4Network(f"0.0.0.0/{s.lstrip('/')}").netmask.packed
