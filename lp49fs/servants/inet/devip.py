"""#I on the own stack: the file tree of Plan 9's devip.c over ``stack``, ``conv`` and ``tcp``.

``lp49 node --stack own`` puts this servant at ``#I`` instead of ``servants/ip`` (the
host-socket stack); ``bind -a '#I' /net`` then shows::

    cs arp iproute                       connection server, ARP cache, routes
    ipifc/ clone stats 0/{ctl,status,local}
    icmp/ udp/ tcp/ clone stats N/{ctl,data,err,listen,local,remote,status}

The conversation files behave as ``servants/ip`` documents (clone, listen, inuse, the
last close), so ``dial``, ``announce``/``listen``, ``import`` and exportfs run unchanged.

Rules
  1. Qid paths are ``kind << 24 | x << 8 | Q`` (``servants/ip/qid.py``, shared with the
     host-socket ``#I``): kind 0 the top files, 1 ipifc, then the protocols in ``PROTOS``
     order from 2.  Conversations are reused, never freed.
  2. ``ipifc/clone`` opens the ctl of a new interface; ctl takes ``bind ether DEV``,
     ``add IP MASK``, ``unbind``, ``mtu N``; ``status`` reads the device, address, mask and
     packet counts.
  3. ``arp`` and ``iproute`` are read as tables and written with one command per write
     (``stack.arpctl``/``routectl``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from lp49fs.core.chan import COPEN, Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.errors import Ebadctl, Eisdir, Enonexist, Eperm, Error
from lp49fs.ninep import DMDIR, Dir, Qid
from lp49fs.servants.inet import pkt
from lp49fs.servants.inet.conv import Conv, Icmp, IcmpConv, Udp, UdpConv
from lp49fs.servants.inet.stack import Ipifc, Stack
from lp49fs.servants.inet.tcp import Tcp, TcpConv
from lp49fs.servants.ip.cs import Cs
from lp49fs.servants.ip.qid import Qlayout

if TYPE_CHECKING:
    from lp49fs.core.core import Core

PROTOS = ("icmp", "udp", "tcp")  # kind = index + 2
MAXCONV = 1 << 12


class Q(IntEnum):
    TOP = 0
    CS = 1
    ARP = 2
    IPROUTE = 3
    IFCDIR = 4  # ipifc/
    PROTODIR = 5
    CLONE = 6
    STATS = 7
    CONVDIR = 8
    CTL = 9
    DATA = 10
    ERR = 11
    LISTEN = 12
    LOCAL = 13
    REMOTE = 14
    STATUS = 15


QIDS = Qlayout(Q, dirs=(Q.TOP, Q.IFCDIR, Q.PROTODIR, Q.CONVDIR))  # Rule 1
qid, qkind, qconv, qtype = QIDS.qid, QIDS.kind, QIDS.conv, QIDS.type


TOPTAB = (("cs", Q.CS, 0o666), ("arp", Q.ARP, 0o664), ("iproute", Q.IPROUTE, 0o664))
PROTOTAB = (("clone", Q.CLONE, 0o666), ("stats", Q.STATS, 0o444))
CONVTAB = (("ctl", Q.CTL, 0o660), ("data", Q.DATA, 0o660), ("err", Q.ERR, 0o660),
           ("listen", Q.LISTEN, 0o660), ("local", Q.LOCAL, 0o444),
           ("remote", Q.REMOTE, 0o444), ("status", Q.STATUS, 0o444))  # fmt: skip
IFCTAB = (("ctl", Q.CTL, 0o664), ("local", Q.LOCAL, 0o444), ("status", Q.STATUS, 0o444))
COUNTED = (Q.CTL, Q.DATA, Q.ERR)


class Inet(Servant):
    """``#I`` over the node's own IP stack."""

    dc = "I"
    name = "inet"
    dirtab = (Dirtab(".", qid(0, 0, Q.TOP), 0, DMDIR | 0o555),)

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.stack = Stack(core)
        self.icmp, self.udp, self.tcp = Icmp(self.stack), Udp(self.stack), Tcp(self.stack)
        self.convs: dict[str, list[Conv]] = {p: [] for p in PROTOS}
        self.classes = {"icmp": IcmpConv, "udp": UdpConv, "tcp": TcpConv}
        self.portmaps = {"icmp": self.icmp.ports, "udp": self.udp.ports, "tcp": self.tcp.ports}

    def shutdown(self) -> None:
        """Node halt: every connection ends now (no FIN handshake: the wire goes away too),
        so nobody stays blocked on one."""
        for tcb in list(self.tcp.conns.values()):
            tcb.fail("ip stack shut down")
        for convs in self.convs.values():
            for cv in convs:
                cv.closeconv()
                cv.hungup = True
                cv.readable.set()
        self.stack.shutdown()

    # ---- tables -----------------------------------------------------------------------------

    def ifc(self, q: Qid) -> Ipifc:
        x = qconv(q)
        if x >= len(self.stack.ifcs):
            raise Error(Enonexist)
        return self.stack.ifcs[x]

    def conv(self, q: Qid) -> Conv:
        convs = self.convs[PROTOS[qkind(q) - 2]]
        if qconv(q) >= len(convs):
            raise Error(Enonexist)
        return convs[qconv(q)]

    def newconv(self, proto: str, owner: str) -> Conv:
        convs = self.convs[proto]
        cv = next((c for c in convs if c.free()), None)
        if cv is None:
            if len(convs) >= MAXCONV:
                raise Error("no free conversations")
            cv = self.classes[proto](len(convs), self.stack, self.portmaps[proto])
            convs.append(cv)
        cv.closeconv()
        cv.owner, cv.inuse = owner, 1
        return cv

    # ---- the tree (one gen rule) ------------------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        t, k, eve = qtype(c.qid), qkind(c.qid), self.core.eve
        if t == Q.TOP:
            if i < len(TOPTAB):
                name, q, perm = TOPTAB[i]
                return self.devdir(c, qid(0, 0, q), name, 0, eve, perm)
            i -= len(TOPTAB)
            if i == 0:
                return self.devdir(c, qid(1, 0, Q.IFCDIR), "ipifc", 0, eve, 0o555)
            if i - 1 < len(PROTOS):
                return self.devdir(c, qid(i + 1, 0, Q.PROTODIR), PROTOS[i - 1], 0, eve, 0o555)
            return None
        if t in (Q.IFCDIR, Q.PROTODIR):
            if i < len(PROTOTAB):
                name, q, perm = PROTOTAB[i]
                return self.devdir(c, qid(k, 0, q), name, 0, eve, perm)
            i -= len(PROTOTAB)
            n = len(self.stack.ifcs) if k == 1 else len(self.convs[PROTOS[k - 2]])
            if i >= n:
                return None
            owner = eve if k == 1 else self.convs[PROTOS[k - 2]][i].owner or eve
            return self.devdir(c, qid(k, i, Q.CONVDIR), str(i), 0, owner, 0o555)
        if t == Q.CONVDIR:
            tab = IFCTAB if k == 1 else CONVTAB
            if i >= len(tab):
                return None
            name, q, perm = tab[i]
            owner = eve if k == 1 else self.conv(c.qid).owner or eve
            return self.devdir(c, qid(k, qconv(c.qid), q), name, 0, owner, perm)
        return None

    def parent(self, c: Chan) -> Qid:
        t, k = qtype(c.qid), qkind(c.qid)
        if k == 0 or t in (Q.IFCDIR, Q.PROTODIR):
            return qid(0, 0, Q.TOP)
        if t in (Q.CLONE, Q.STATS, Q.CONVDIR):
            return qid(k, 0, Q.IFCDIR if k == 1 else Q.PROTODIR)
        return qid(k, qconv(c.qid), Q.CONVDIR)

    # ---- open / close -----------------------------------------------------------------------

    async def open(self, c: Chan, omode: int) -> Chan:
        t, k = qtype(c.qid), qkind(c.qid)
        if t in (Q.CLONE, Q.LISTEN):
            self.devpermit(c, omode)
            if k == 1:
                x = len(self.stack.ifcs)
                self.stack.ifcs.append(Ipifc(x, self.stack))
            elif t == Q.CLONE:
                x = self.newconv(PROTOS[k - 2], self.user()).x
            else:
                x = (await self._listen(PROTOS[k - 2], self.conv(c.qid))).x
            return self.devcloned(c, omode, qid(k, x, Q.CTL))
        c = self.devopen(c, omode)
        if t in COUNTED and k >= 2:
            self.conv(c.qid).inuse += 1
        elif t == Q.CS:
            c.aux = Cs()
        return c

    async def _listen(self, proto: str, lcv: Conv) -> Conv:
        if not isinstance(lcv, TcpConv):
            raise Error("listen not supported on " + proto)
        call = await lcv.accept()
        cv = self.newconv(proto, lcv.owner or self.user())
        assert isinstance(cv, TcpConv)
        cv.adopt(call)
        return cv

    async def close(self, c: Chan) -> None:
        if not c.flag & COPEN or qtype(c.qid) not in COUNTED or qkind(c.qid) < 2:
            return
        cv = self.conv(c.qid)
        cv.inuse -= 1
        if cv.inuse == 0:
            cv.closeconv()

    # ---- read / write -----------------------------------------------------------------------

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        t, k = qtype(c.qid), qkind(c.qid)
        if t == Q.CS:
            assert isinstance(c.aux, Cs)
            return c.aux.read()[:count]
        if t == Q.DATA:
            return await self.conv(c.qid).read(count)
        if k == 0:
            text = self.stack.arptext() if t == Q.ARP else self.stack.routetext()
        elif t == Q.STATS:
            text = "".join(f"{n}: {v}\n" for n, v in sorted(self.stack.stats.items()))
        elif k == 1:
            text = self.ifctext(self.ifc(c.qid), t)
        else:
            cv = self.conv(c.qid)
            texts = {Q.CTL: str(cv.x), Q.ERR: cv.err, Q.LOCAL: cv.local(),
                     Q.REMOTE: cv.remote(), Q.STATUS: cv.status()}  # fmt: skip
            if t not in texts:
                raise Error(Eperm)
            text = texts[t]
        return text.encode()[offset : offset + count]

    def ifctext(self, ifc: Ipifc, t: Q) -> str:
        if t == Q.CTL:
            return str(ifc.x)
        addr, mask = pkt.ipstr(ifc.addr), pkt.ipstr(ifc.mask)
        if t == Q.LOCAL:
            return f"{addr} {mask}\n" if ifc.dev else ""
        return (f"device {ifc.dev or '/dev/null'} maxtu {ifc.mtu} sendra 0 recvra 0\n"
                f"\t{addr} {mask} in {ifc.inpackets} out {ifc.outpackets}\n")  # fmt: skip

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        t, k = qtype(c.qid), qkind(c.qid)
        if t == Q.CS:
            assert isinstance(c.aux, Cs)
            return await c.aux.write(data)
        if t == Q.DATA:
            return await self.conv(c.qid).write(data)
        f = data.decode(errors="replace").split()  # a control message, not data
        if k == 0 and t == Q.ARP:
            self.stack.arpctl(f)
        elif k == 0 and t == Q.IPROUTE:
            self.stack.routectl(f)
        elif t != Q.CTL:
            raise Error(Eperm)
        elif k == 1:
            await self.ifcctl(self.ifc(c.qid), f)
        else:
            await self.conv(c.qid).ctl(" ".join(f))
        return len(data)

    async def ifcctl(self, ifc: Ipifc, f: list[str]) -> None:
        if len(f) == 3 and f[0] == "bind":
            await self.stack.bind(ifc, f[1], f[2])
        elif len(f) in (2, 3, 4, 5) and f[0] == "add":
            self.stack.add(ifc, f[1], f[2] if len(f) > 2 else "255.255.255.0")
        elif f == ["unbind"] or f == ["remove"]:
            await self.stack.unbind(ifc)
        elif len(f) == 2 and f[0] == "mtu" and f[1].isdigit():
            ifc.mtu = min(int(f[1]), 1500)
        else:
            raise Error(Ebadctl)
