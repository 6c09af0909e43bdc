"""#l ether: Ethernet connections on a NIC (Plan 9 devether.c over netif.c).

Theory of operation
-------------------
``#l0`` is controller 0 (``#l1`` controller 1 ...); ``bind -a '#l0' /net`` shows::

    ether0/
        clone addr stats ifstats       open clone -> the ctl of a new connection
        0/ 1/ ...                      connections: ctl data stats type ifstats

The card-specific half is ``etherdrv.EtherDriver``.  A driver thread of the node (see
``lp49fs.node.netboot``) receives the card's interrupt as IPC and calls ``interrupt(ctlr)``,
which takes the received frames off the ring and hands each to ``etheriq``: the fan-out.

Rules
  1. ``connect T`` (decimal) selects the frames of Ethernet type T; ``-1`` takes every frame,
     ``-2`` the first 64 bytes of every frame (a sniffer).  Every connection whose type
     matches gets its own copy of a frame; a connection of type 0 (not connected) gets none.
  2. One ``data`` read returns one frame (cut to the read's count); it blocks until one is
     queued.  One ``data`` write is one frame: the destination, type and payload come from
     the writer, the driver puts its own address in the source field.  Frames written are
     also given to the local ``-1``/``-2`` connections (as Plan 9's etheroq does).
  3. ``promiscuous`` on a connection puts the card in promiscuous mode while any such
     connection is open; frames not addressed to this card (nor broadcast or multicast)
     reach only the promiscuous connections.
  4. A connection queues at most ``QLIMIT`` frames; more are dropped and counted in
     ``soft overflows``.  Frames the card rejected (short, long: hwsim.nic Rule 3) are
     ``framing errs``; frames lost for lack of a receive descriptor are ``overflows``.
  5. A connection lives from the open of ``clone`` to the last close of its ctl/data files,
     and its number is then reused by the next clone.
  6. ``addr`` is 12 hex digits without newline; ``type`` the connected type in decimal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import trio

from hwsim import nic as hw
from lp49fs.core.chan import COPEN, Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.errors import Ebadarg, Ebadctl, Eisdir, Enonexist, Eperm, Error
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Dir, Qid
from lp49fs.servants.etherdrv import EtherDriver

if TYPE_CHECKING:
    from lp49fs.core.core import Core

QLIMIT = 64  # frames queued per connection (Rule 4)
MAXCONN = 64  # connections per controller


class Q(IntEnum):
    TOP = 0
    DIR = 1  # ether0
    CLONE = 2
    ADDR = 3
    STATS = 4
    IFSTATS = 5
    CONVDIR = 6
    CTL = 7
    DATA = 8
    TYPE = 9
    CSTATS = 10
    CIFSTATS = 11


def qid(x: int, q: Q) -> Qid:
    """Connection files carry x + 1 (0 means "no connection")."""
    return Qid(QTDIR if q in (Q.TOP, Q.DIR, Q.CONVDIR) else QTFILE, 0, x << 8 | q)


def qconn(q: Qid) -> int:
    return (q.path >> 8) - 1


def qtype(q: Qid) -> Q:
    return Q(q.path & 0xFF)


TOPTAB = (("clone", Q.CLONE, 0o666), ("addr", Q.ADDR, 0o444), ("stats", Q.STATS, 0o444),
          ("ifstats", Q.IFSTATS, 0o444))  # fmt: skip
CONNTAB = (("ctl", Q.CTL, 0o660), ("data", Q.DATA, 0o660), ("ifstats", Q.CIFSTATS, 0o444),
           ("stats", Q.CSTATS, 0o444), ("type", Q.TYPE, 0o444))  # fmt: skip
COUNTED = (Q.CTL, Q.DATA)


@dataclass
class Netfile:
    """One connection (netif.h Netfile)."""

    x: int  # its number: the N of ether0/N
    owner: str = ""  # who cloned it
    inuse: int = 0  # open ctl/data Chans (Rule 5)
    type: int = 0  # Ethernet type, -1 all, -2 sniff, 0 none (Rule 1)
    prom: bool = False  # promiscuous (Rule 3)
    q: deque[bytes] = field(default_factory=deque)  # received frames (Rule 4)
    ready: trio.Event = field(default_factory=trio.Event)  # set when a frame is queued

    def put(self, frame: bytes) -> bool:
        if len(self.q) >= QLIMIT:
            return False
        self.q.append(frame)
        self.ready.set()
        return True


@dataclass
class Netif:
    """One controller: its driver, connections and counters (netif.h Netif)."""

    drv: EtherDriver
    conns: list[Netfile] = field(default_factory=list)
    inpackets: int = 0
    outpackets: int = 0
    soverflows: int = 0  # Rule 4

    @property
    def mac(self) -> bytes:
        return self.drv.ea


class Ether(Servant):
    """``#l``: Ethernet connections on the node's NICs."""

    dc = "l"
    name = "ether"
    dirtab = (Dirtab(".", qid(0, Q.TOP), 0, DMDIR | 0o555),)

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.ctlrs: dict[int, Netif] = {}  # controller number -> its state

    def addctlr(self, ctlrno: int, drv: EtherDriver) -> None:
        """Boot: controller ``ctlrno`` is driven by ``drv`` (initialized here)."""
        drv.init()
        self.ctlrs[ctlrno] = Netif(drv)

    # ---- the receive path: interrupt -> etheriq (Rules 1, 3, 4) ----------------------------

    def interrupt(self, ctlrno: int) -> int:
        """The card interrupted: fan its received frames out; returns how many."""
        ni = self.ctlrs[ctlrno]
        frames = ni.drv.interrupt()
        for f in frames:
            ni.inpackets += 1
            self.etheriq(ni, f, fromwire=True)
        return len(frames)

    def etheriq(self, ni: Netif, frame: bytes, fromwire: bool) -> None:
        etype = int.from_bytes(frame[12:14], "big")
        dst = frame[:6]
        forme = dst == ni.mac or bool(dst[0] & 1)
        for f in ni.conns:
            if f.inuse == 0 or f.type == 0 or (fromwire and not forme and not f.prom):
                continue
            if not fromwire and f.type >= 0:
                continue  # our own output goes only to sniffers (Rule 2)
            if f.type == etype or f.type == -1:
                ok = f.put(frame)
            elif f.type == -2:
                ok = f.put(frame[:64])
            else:
                continue
            if not ok:
                ni.soverflows += 1

    # ---- the tree ---------------------------------------------------------------------------

    def ni(self, c: Chan) -> Netif:
        if c.dev not in self.ctlrs:
            raise Error(Enonexist)
        return self.ctlrs[c.dev]

    def conn(self, c: Chan) -> Netfile:
        ni, x = self.ni(c), qconn(c.qid)
        if not 0 <= x < len(ni.conns):
            raise Error(Enonexist)
        return ni.conns[x]

    def gen(self, c: Chan, i: int) -> Dir | None:
        t, eve = qtype(c.qid), self.core.eve
        if t == Q.TOP:
            return self.devdir(c, qid(0, Q.DIR), f"ether{c.dev}", 0, eve, 0o555) if i == 0 else None
        if t == Q.DIR:
            if i < len(TOPTAB):
                name, q, perm = TOPTAB[i]
                return self.devdir(c, qid(0, q), name, 0, eve, perm)
            conns = self.ni(c).conns
            i -= len(TOPTAB)
            if i >= len(conns):
                return None
            return self.devdir(c, qid(i + 1, Q.CONVDIR), str(i), 0, conns[i].owner or eve, 0o555)
        if t == Q.CONVDIR and i < len(CONNTAB):
            f = self.conn(c)
            name, q, perm = CONNTAB[i]
            return self.devdir(c, qid(f.x + 1, q), name, 0, f.owner or eve, perm)
        return None

    def parent(self, c: Chan) -> Qid:
        t = qtype(c.qid)
        if t in (Q.TOP, Q.DIR):
            return qid(0, Q.TOP)
        if t == Q.CONVDIR or (c.qid.path >> 8) == 0:
            return qid(0, Q.DIR)
        return qid(c.qid.path >> 8, Q.CONVDIR)

    async def attach(self, spec: str) -> Chan:
        ctlrno = int(spec) if spec.isdigit() else -1 if spec else 0
        if ctlrno not in self.ctlrs:
            raise Error(f"#l{spec}: no such ether controller")
        return self.devattach(spec, ctlrno)

    # ---- open / close (Rule 5) --------------------------------------------------------------

    async def open(self, c: Chan, omode: int) -> Chan:
        if qtype(c.qid) == Q.CLONE:
            self.devpermit(c, omode)
            f = self.newconn(self.ni(c), self.user())
            return self.devcloned(c, omode, qid(f.x + 1, Q.CTL))
        c = self.devopen(c, omode)
        if qtype(c.qid) in COUNTED:
            self.conn(c).inuse += 1
        return c

    def newconn(self, ni: Netif, owner: str) -> Netfile:
        for f in ni.conns:
            if f.inuse == 0:
                break
        else:
            if len(ni.conns) >= MAXCONN:
                raise Error("no free ether connections")
            f = Netfile(len(ni.conns))
            ni.conns.append(f)
        f.owner, f.inuse, f.type, f.prom = owner, 1, 0, False
        f.q.clear()
        return f

    async def close(self, c: Chan) -> None:
        if not c.flag & COPEN or qtype(c.qid) not in COUNTED:
            return
        f = self.conn(c)
        f.inuse -= 1
        if f.inuse == 0:
            was = f.prom
            f.type, f.prom, f.owner = 0, False, ""
            f.q.clear()
            if was:
                self._setprom(self.ni(c))

    def _setprom(self, ni: Netif) -> None:
        ni.drv.promiscuous(any(f.inuse and f.prom for f in ni.conns))

    # ---- read / write -----------------------------------------------------------------------

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        t, ni = qtype(c.qid), self.ni(c)
        if t == Q.DATA:
            f = self.conn(c)
            while not f.q:
                f.ready = trio.Event()
                await f.ready.wait()
            return f.q.popleft()[:count]
        if t == Q.ADDR:
            text = hw.macstr(ni.mac)
        elif t in (Q.STATS, Q.CSTATS):
            text = self.stats(ni)
        elif t in (Q.IFSTATS, Q.CIFSTATS):
            text = self.ifstats(ni)
        elif t == Q.CTL:
            text = str(self.conn(c).x)
        elif t == Q.TYPE:
            text = str(self.conn(c).type)
        else:
            raise Error(Eperm)
        return text.encode()[offset : offset + count]

    def stats(self, ni: Netif) -> str:
        nic = ni.drv.nic
        rows = (("in", ni.inpackets), ("link", 1 if nic.inl(hw.STATUS) & hw.STATUS_LINK else 0),
                ("out", ni.outpackets), ("crc errs", 0), ("overflows", nic.inl(hw.RXMISSED)),
                ("soft overflows", ni.soverflows), ("framing errs", nic.inl(hw.RXERR)),
                ("buffer errs", 0), ("output errs", 0),
                ("prom", 1 if nic.inl(hw.CTRL) & hw.CTRL_PROMISC else 0), ("mbps", 1000),
                ("addr", hw.macstr(ni.mac)))  # fmt: skip
        return "".join(f"{k}: {v}\n" for k, v in rows)

    def ifstats(self, ni: Netif) -> str:
        nic = ni.drv.nic
        regs = (("rxok", hw.RXOK), ("rxmissed", hw.RXMISSED), ("rxerr", hw.RXERR),
                ("txok", hw.TXOK), ("rdh", hw.RDH), ("rdt", hw.RDT), ("tdh", hw.TDH),
                ("tdt", hw.TDT))  # fmt: skip
        return "".join(f"{k}: {nic.inl(r)}\n" for k, r in regs) + f"intr: {ni.drv.intrs}\n"

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        t, ni = qtype(c.qid), self.ni(c)
        if t == Q.DATA:
            if not hw.MINFRAME <= len(data) <= hw.MAXFRAME:
                raise Error(Ebadarg)
            frame = data[:6] + ni.mac + data[12:]
            await ni.drv.transmit(frame)
            ni.outpackets += 1
            self.etheriq(ni, frame, fromwire=False)
            return len(data)
        if t != Q.CTL:
            raise Error(Eperm)
        self.ctl(ni, self.conn(c), data.decode(errors="replace").split())
        return len(data)

    def ctl(self, ni: Netif, f: Netfile, args: list[str]) -> None:
        if len(args) == 2 and args[0] == "connect":
            try:
                t = int(args[1])
            except ValueError:
                raise Error(Ebadarg) from None
            if not -2 <= t <= 0xFFFF:
                raise Error(Ebadarg)
            f.type = t
        elif args == ["promiscuous"]:
            f.prom = True
            self._setprom(ni)
        elif args and args[0] in ("addmulti", "remmulti", "nonblocking", "bridge", "headersonly"):
            pass  # every multicast frame is taken already; reads always block
        else:
            raise Error(Ebadctl)
