"""#I ip: TCP and UDP conversations over host sockets, and ``cs`` (Plan 9 ip/devip.c).

Theory of operation
-------------------
The tree, as ``bind -a '#I' /net`` shows it::

    cs                                   the connection server (cs.py)
    tcp/ udp/                            one directory per protocol
        clone stats                      open clone -> the ctl of a new conversation
        0/ 1/ ...                        conversations: ctl data err listen local remote status

This module is the file tree and the table of conversations; what one conversation does is
in ``ipconv.Conv``; the host sockets are ``hwsim.netif`` (the "hardware" this servant drives).

Rules
  1. Qid paths: ``proto << 24 | conv << 8 | Q`` (proto 1 = tcp, 2 = udp; root-level files
     use proto 0), packed by ``qid.Qlayout`` (shared with the own stack's ``#I``).
     Conversations are never freed, only reused, so a qid stays meaningful.
  2. Opening ``clone`` takes the lowest-numbered conversation with ``inuse == 0`` (or a new
     one), sets its owner to the caller, and turns the Chan into that conversation's ``ctl``
     (as devip's ``ipopen`` rewrites ``c->qid``); reading ``ctl`` gives the number, no newline.
  3. Opening ``N/listen`` blocks until a call arrives on the announced conversation N, then
     turns the Chan into the ``ctl`` of a new conversation holding the call (Rule 2 numbering).
     A cancelled listen takes no call.
  4. Opens of ``ctl``/``data``/``err`` (and the Chans made by Rules 2-3) count in
     ``Conv.inuse``; the last close ends the conversation (ipconv Rule 1).
  5. Permissions: ``clone`` and ``cs`` 0666, ``stats`` 0444, conversation files 0660 owned by
     the conversation's owner, ``local``/``remote``/``status`` 0444.
  6. ``stats`` lists the counters of the protocol, one ``Name: value`` per line.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from lp49fs.core.chan import COPEN, Chan
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.errors import Eisdir, Enonexist, Eperm, Error
from lp49fs.ninep import DMDIR, Dir, Qid
from lp49fs.servants.ip.conv import Conv
from lp49fs.servants.ip.cs import Cs
from lp49fs.servants.ip.qid import Qlayout

if TYPE_CHECKING:
    from lp49fs.core.core import Core

PROTOS = ("tcp", "udp")  # index + 1 is the proto field of a qid
MAXCONV = 1 << 16  # conversations per protocol


class Q(IntEnum):
    TOP = 0  # #I itself
    CS = 1
    PROTODIR = 2
    CLONE = 3
    STATS = 4
    CONVDIR = 5
    CTL = 6
    DATA = 7
    ERR = 8
    LISTEN = 9
    LOCAL = 10
    REMOTE = 11
    STATUS = 12


QIDS = Qlayout(Q, dirs=(Q.TOP, Q.PROTODIR, Q.CONVDIR))  # Rule 1
qid, qproto, qconv, qtype = QIDS.qid, QIDS.kind, QIDS.conv, QIDS.type


DIRTAB = (Dirtab(".", qid(0, 0, Q.TOP), 0, DMDIR | 0o555),)
PROTOTAB = (("clone", Q.CLONE, 0o666), ("stats", Q.STATS, 0o444))
CONVTAB = (("ctl", Q.CTL, 0o660), ("data", Q.DATA, 0o660), ("err", Q.ERR, 0o660),
           ("listen", Q.LISTEN, 0o660), ("local", Q.LOCAL, 0o444),
           ("remote", Q.REMOTE, 0o444), ("status", Q.STATUS, 0o444))  # fmt: skip
COUNTED = (Q.CTL, Q.DATA, Q.ERR)  # Rule 4


class Ip(Servant):
    """``#I``: /net/cs, /net/tcp, /net/udp."""

    dc = "I"
    name = "ip"
    dirtab = DIRTAB

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.convs: dict[str, list[Conv]] = {p: [] for p in PROTOS}  # by number
        self.counts: dict[str, dict[str, int]] = {p: {} for p in PROTOS}  # stats counters

    def shutdown(self) -> None:
        for convs in self.convs.values():
            for cv in convs:
                cv.closeconv()

    # ---- the conversation table -------------------------------------------------------------

    def conv(self, q: Qid) -> Conv:
        p = qproto(q)
        convs = self.convs[PROTOS[p - 1]]
        x = qconv(q)
        if x >= len(convs):
            raise Error(Enonexist)
        return convs[x]

    def newconv(self, proto: str, owner: str) -> Conv:
        """The lowest free conversation of ``proto`` (Rule 2), now in use by ``owner``."""
        convs = self.convs[proto]
        for cv in convs:
            if cv.inuse == 0 and cv.state == "Closed" and cv.sock is None:
                break
        else:
            if len(convs) >= MAXCONV:
                raise Error("no free conversations")
            cv = Conv(proto, len(convs))
            convs.append(cv)
        cv.closeconv()
        cv.owner, cv.inuse = owner, 1
        return cv

    def count(self, proto: str, name: str) -> None:
        self.counts[proto][name] = self.counts[proto].get(name, 0) + 1

    # ---- directory structure (one gen rule) ----------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        t, p = qtype(c.qid), qproto(c.qid)
        eve = self.core.eve
        if t == Q.TOP:
            if i == 0:
                return self.devdir(c, qid(0, 0, Q.CS), "cs", 0, eve, 0o666)
            if i - 1 >= len(PROTOS):
                return None
            return self.devdir(c, qid(i, 0, Q.PROTODIR), PROTOS[i - 1], 0, eve, DMDIR | 0o555)
        if t == Q.PROTODIR:
            if i < len(PROTOTAB):
                name, q, perm = PROTOTAB[i]
                return self.devdir(c, qid(p, 0, q), name, 0, eve, perm)
            convs = self.convs[PROTOS[p - 1]]
            i -= len(PROTOTAB)
            if i >= len(convs):
                return None
            cv = convs[i]
            return self.devdir(c, qid(p, i, Q.CONVDIR), str(i), 0, cv.owner or eve, DMDIR | 0o555)
        if t == Q.CONVDIR and i < len(CONVTAB):
            cv = self.conv(c.qid)
            name, q, perm = CONVTAB[i]
            return self.devdir(c, qid(p, cv.x, q), name, 0, cv.owner or eve, perm)
        return None

    def parent(self, c: Chan) -> Qid:
        t, p = qtype(c.qid), qproto(c.qid)
        if t in (Q.TOP, Q.CS, Q.PROTODIR):
            return DIRTAB[0].qid
        if t in (Q.CLONE, Q.STATS, Q.CONVDIR):
            return qid(p, 0, Q.PROTODIR)
        return qid(p, qconv(c.qid), Q.CONVDIR)

    # ---- open / close (Rules 2-4) ---------------------------------------------------------

    async def open(self, c: Chan, omode: int) -> Chan:
        t = qtype(c.qid)
        if t in (Q.CLONE, Q.LISTEN):
            openmode(omode)  # a bad mode fails before a conversation is taken
            self.devpermit(c, omode)
            proto = PROTOS[qproto(c.qid) - 1]
            if t == Q.CLONE:
                cv = self.newconv(proto, self.user())
            else:
                cv = await self._listen(proto, self.conv(c.qid))
            return self.devcloned(c, omode, qid(qproto(c.qid), cv.x, Q.CTL))
        c = self.devopen(c, omode)
        if t in COUNTED:
            self.conv(c.qid).inuse += 1
        elif t == Q.CS:
            c.aux = Cs()
        return c

    async def _listen(self, proto: str, lcv: Conv) -> Conv:
        if proto != "tcp":
            raise Error("listen not supported on " + proto)
        s = await lcv.accept()
        cv = self.newconv(proto, lcv.owner or self.user())
        cv.adopt(s, cv.owner)
        self.count(proto, "PassiveOpens")
        return cv

    async def close(self, c: Chan) -> None:
        if not c.flag & COPEN or qtype(c.qid) not in COUNTED:
            return
        cv = self.conv(c.qid)
        cv.inuse -= 1
        if cv.inuse == 0:
            cv.closeconv()

    # ---- read / write -----------------------------------------------------------------------

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        t = qtype(c.qid)
        if c.isdir():
            return self.devdirread(c, count, offset)
        if t == Q.CS:
            assert isinstance(c.aux, Cs)
            return c.aux.read()[:count]
        if t == Q.DATA:
            return await self.conv(c.qid).read(count)
        if t == Q.STATS:
            proto = PROTOS[qproto(c.qid) - 1]
            text = self.stats(proto)
        else:
            cv = self.conv(c.qid)
            texts = {Q.CTL: str(cv.x), Q.ERR: cv.err, Q.LOCAL: cv.local(),
                     Q.REMOTE: cv.remote(), Q.STATUS: cv.status()}  # fmt: skip
            if t not in texts:
                raise Error(Eperm)
            text = texts[t]
        return text.encode()[offset : offset + count]

    def stats(self, proto: str) -> str:
        convs = self.convs[proto]
        n = self.counts[proto]
        live = sum(cv.state in ("Established", "Close_wait") for cv in convs)
        rows = [("MaxConn", MAXCONV), ("Conversations", len(convs)),
                ("ActiveOpens", n.get("ActiveOpens", 0)),
                ("PassiveOpens", n.get("PassiveOpens", 0)),
                ("AttemptFails", n.get("AttemptFails", 0)), ("CurrEstab", live)]  # fmt: skip
        return "".join(f"{k}: {v}\n" for k, v in rows)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        t = qtype(c.qid)
        if c.isdir():
            raise Error(Eisdir)
        if t == Q.CS:
            assert isinstance(c.aux, Cs)
            return await c.aux.write(data)
        if t == Q.DATA:
            return await self.conv(c.qid).write(data)
        if t != Q.CTL:
            raise Error(Eperm)
        cv = self.conv(c.qid)
        proto = PROTOS[qproto(c.qid) - 1]
        try:
            verb = await cv.ctl(data.decode(errors="replace"))
        except Error:
            if data.startswith(b"connect"):
                self.count(proto, "AttemptFails")
            raise
        if verb == "connect":
            self.count(proto, "ActiveOpens")
        return len(data)
