"""#a tls: the TLS record layer in the core, pushed on a network conversation (Plan 9 tls(3)).

Theory of operation
-------------------
Plan 9's devtls sits between a conversation's data file and its reader: a program opens
``#a/tls/clone``, hands the device its network fd, runs the handshake and from then on
reads and writes plaintext on ``#a/tls/N/data`` while the device seals and opens the
records on the fd below.  ``mount`` of that data fd makes the mount driver read plaintext
with no process in between.  The tree::

    #a/tls/clone                open -> the ctl of a new conversation; reading it gives N
    #a/tls/encalgs              the cipher suites the handshake offers, one per line
    #a/tls/N/ctl data status stats

Plan 9's handshake runs in the program (libsec's tlsClient, over ``hand``) and installs
the session keys with a ``secret`` ctl message.  Python's ``ssl`` keeps its keys inside
OpenSSL, so here the handshake runs where the record layer is: one ``client`` ctl message
(below) runs it in the core with ``lp49fs.auth.tls`` (certificates, refusals, timeout) on a
``TlsLink`` over the bound Chan (``mnt.ChanLink``: its servant's read and write, nothing
reaches into ``#I``).  The key files are read from the host authority directory, as the
programs that take ``-A DIR`` do.

ctl messages
  ``fd N``                  bind the caller's open fd N (a ``/net/tcp/M/data``) as the link
  ``client DIR USER HOST``  the TLS 1.3 client handshake presenting USER's certificate of
                            the authority in host directory DIR, verifying that the server
                            is node HOST of it; the write returns when it is done
  ``hangup``                close the link (the peer sees close_notify)

Rules
  1. Conversations are numbered from 0 and reused, never freed (as ``#I``); opening
     ``clone`` takes the lowest unused one for the caller, who owns its files (0660).
  2. ``client`` may present USER's certificate only for USER or the host owner; DIR must be
     absolute.  A refused handshake fails the write with ``tls``'s one line and leaves the
     conversation in state ``Error`` with that line in ``status``.
  3. ``data`` reads return the plaintext of every whole record received, up to ``count``
     (``TlsLink.receive_some``), one reader at a time; a write seals all of it.  A refusal
     the server sends after TLS 1.3 let the client finish (a revoked certificate) fails
     the first read with its line; the end of the link reads as end of file
     (close_notify) or fails with ``Ehungup`` (a truncation).
  4. The last close of a conversation's ctl and data ends it: close_notify, then the bound
     Chan's reference is dropped (``TlsLink.aclose``, bounded).
  5. ``status`` reads ``State``, ``Version``, ``Cipher``, ``User`` (the certificate
     presented) and ``Peer`` (the server's), one ``Name: value`` per line; ``stats`` the
     plaintext bytes each way (``DataIn``, ``DataOut``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import trio

from lp49fs.auth.tls import TlsLink, client, peer_user
from lp49fs.core.chan import COPEN, Chan, cclose, incref
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.errors import (
    Ebadarg,
    Ebadctl,
    Ebadfd,
    Ehungup,
    Eisdir,
    Enonexist,
    Eperm,
    Error,
    Etlsdone,
    Etlsnolink,
    Etlsnotup,
)
from lp49fs.ninep import DMDIR, Dir, Qid
from lp49fs.servants.ip.qid import Qlayout
from lp49fs.servants.mnt import ChanLink

if TYPE_CHECKING:
    from lp49fs.core.core import Core

MAXCONV = 1 << 16


class Q(IntEnum):
    TOP = 0  # #a
    TLSDIR = 1  # #a/tls
    CLONE = 2
    ENCALGS = 3
    CONVDIR = 4
    CTL = 5
    DATA = 6
    STATUS = 7
    STATS = 8


QIDS = Qlayout(Q, dirs=(Q.TOP, Q.TLSDIR, Q.CONVDIR))  # kind 0; conversation N in its field
qid, qconv, qtype = QIDS.qid, QIDS.conv, QIDS.type

DIRTAB = (Dirtab(".", qid(0, 0, Q.TOP), 0, DMDIR | 0o555),)
TLSTAB = (("clone", Q.CLONE, 0o666), ("encalgs", Q.ENCALGS, 0o444))
CONVTAB = (("ctl", Q.CTL, 0o660), ("data", Q.DATA, 0o660), ("status", Q.STATUS, 0o444),
           ("stats", Q.STATS, 0o444))  # fmt: skip
COUNTED = (Q.CTL, Q.DATA)  # Rule 4


@dataclass(eq=False)
class Conv:
    """One conversation: the bound link and, after the handshake, its record layer."""

    x: int
    owner: str = ""
    inuse: int = 0
    link: Chan | None = None  # the bound fd's Chan, until the handshake takes it
    tls: TlsLink | None = None
    state: str = "Unbound"  # Bound (fd N), Handshake, Established, Error, Closed
    err: str = ""
    datain: int = 0
    dataout: int = 0
    reading: trio.Lock = field(default_factory=trio.Lock)  # Rule 3

    def status(self) -> str:
        rows = [("State", self.state + (f" ({self.err})" if self.err else ""))]
        if self.tls is not None:
            version, cipher = self.tls.params()
            rows += [("Version", version), ("Cipher", cipher), ("User", self.tls.user),
                     ("Peer", peer_user(self.tls))]  # fmt: skip
        return "".join(f"{k}: {v}\n" for k, v in rows)

    async def hangup(self) -> None:
        """Rule 4: end the link (close_notify if the handshake was done)."""
        link, tls, self.link, self.tls = self.link, self.tls, None, None
        if tls is not None:
            await tls.aclose()
        await cclose(link)
        if self.state != "Error":
            self.state = "Closed"


def encalgs() -> str:
    """The TLS 1.3 cipher suites OpenSSL offers here, one per line."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return "".join(f"{c['name']}\n" for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3")


class Tls(Servant):
    """``#a``: TLS conversations over network links."""

    dc = "a"
    name = "tls"
    dirtab = DIRTAB

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.convs: list[Conv] = []

    def conv(self, q: Qid) -> Conv:
        x = qconv(q)
        if x >= len(self.convs):
            raise Error(Enonexist)
        return self.convs[x]

    def newconv(self, owner: str) -> Conv:
        """Rule 1: the lowest unused conversation, now the caller's."""
        for cv in self.convs:
            if cv.inuse == 0 and cv.link is None and cv.tls is None:
                break
        else:
            if len(self.convs) >= MAXCONV:
                raise Error("no free conversations")
            cv = Conv(len(self.convs))
            self.convs.append(cv)
        cv.owner, cv.inuse, cv.state, cv.err = owner, 1, "Unbound", ""
        cv.datain = cv.dataout = 0
        return cv

    # ---- the tree --------------------------------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        t, eve = qtype(c.qid), self.core.eve
        if t == Q.TOP:
            if i > 0:
                return None
            return self.devdir(c, qid(0, 0, Q.TLSDIR), "tls", 0, eve, DMDIR | 0o555)
        if t == Q.TLSDIR:
            if i < len(TLSTAB):
                name, q, perm = TLSTAB[i]
                return self.devdir(c, qid(0, 0, q), name, 0, eve, perm)
            i -= len(TLSTAB)
            if i >= len(self.convs):
                return None
            owner = self.convs[i].owner or eve
            return self.devdir(c, qid(0, i, Q.CONVDIR), str(i), 0, owner, DMDIR | 0o555)
        if t == Q.CONVDIR and i < len(CONVTAB):
            cv = self.conv(c.qid)
            name, q, perm = CONVTAB[i]
            return self.devdir(c, qid(0, cv.x, q), name, 0, cv.owner or eve, perm)
        return None

    def parent(self, c: Chan) -> Qid:
        t = qtype(c.qid)
        if t in (Q.TOP, Q.TLSDIR):
            return DIRTAB[0].qid
        if t in (Q.CLONE, Q.ENCALGS, Q.CONVDIR):
            return qid(0, 0, Q.TLSDIR)
        return qid(0, qconv(c.qid), Q.CONVDIR)

    # ---- open / close (Rules 1, 4) ---------------------------------------------------------

    async def open(self, c: Chan, omode: int) -> Chan:
        if qtype(c.qid) == Q.CLONE:
            openmode(omode)  # a bad mode fails before a conversation is taken
            self.devpermit(c, omode)
            cv = self.newconv(self.user())
            return self.devcloned(c, omode, qid(0, cv.x, Q.CTL))
        c = self.devopen(c, omode)
        if qtype(c.qid) in COUNTED:
            self.conv(c.qid).inuse += 1
        return c

    async def close(self, c: Chan) -> None:
        if not c.flag & COPEN or qtype(c.qid) not in COUNTED:
            return
        cv = self.conv(c.qid)
        cv.inuse -= 1
        if cv.inuse == 0:
            with trio.CancelScope(shield=True):
                await cv.hangup()

    def shutdown(self) -> None:
        for cv in self.convs:
            cv.link = cv.tls = None

    # ---- read / write (Rules 3, 5) ---------------------------------------------------------

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        t = qtype(c.qid)
        if t == Q.DATA:
            return await self._data_read(self.conv(c.qid), count)
        if t == Q.ENCALGS:
            text = encalgs()
        elif t == Q.CLONE:
            raise Error(Eperm)
        else:
            cv = self.conv(c.qid)
            texts = {Q.CTL: str(cv.x), Q.STATUS: cv.status(),
                     Q.STATS: f"DataIn: {cv.datain}\nDataOut: {cv.dataout}\n"}  # fmt: skip
            text = texts[t]
        return text.encode()[offset : offset + count]

    async def _data_read(self, cv: Conv, count: int) -> bytes:
        async with cv.reading:
            tls = cv.tls
            if tls is None:
                raise Error(Ehungup if cv.state == "Closed" else Etlsnotup)
            try:
                data = await tls.receive_some(count)
            except trio.BrokenResourceError as e:
                raise Error(Ehungup) from e
            except Error as e:  # Rule 3: the server's late refusal
                cv.state, cv.err = "Error", e.ename
                raise
        cv.datain += len(data)
        return data

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        t = qtype(c.qid)
        cv = self.conv(c.qid)
        if t == Q.CTL:
            await self.ctl(cv, data.decode(errors="replace").split())
            return len(data)
        if t != Q.DATA:
            raise Error(Eperm)
        if cv.tls is None:
            raise Error(Ehungup if cv.state == "Closed" else Etlsnotup)
        try:
            await cv.tls.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
            raise Error(Ehungup) from e
        cv.dataout += len(data)
        return len(data)

    async def ctl(self, cv: Conv, words: list[str]) -> None:
        match words:
            case ["fd", n] if n.isdigit():
                p = self.up()
                fds = p.fgrp.fd if p is not None else []
                fc = fds[int(n)] if int(n) < len(fds) else None
                if fc is None:
                    raise Error(Ebadfd)
                if cv.link is not None or cv.tls is not None:
                    raise Error(Etlsdone)
                cv.link, cv.state = incref(fc), "Bound"
            case ["client", authdir, user, host]:
                await self.handshake(cv, authdir, user, host)
            case ["hangup"]:
                await cv.hangup()
            case [] | ["fd", *_] | ["client", *_]:
                raise Error(Ebadarg)
            case _:
                raise Error(Ebadctl)

    async def handshake(self, cv: Conv, authdir: str, user: str, host: str) -> None:
        """Rule 2: the client handshake on the bound link, in the core."""
        if cv.tls is not None:
            raise Error(Etlsdone)
        if cv.link is None:
            raise Error(Etlsnolink)
        if self.user() not in (user, self.core.eve):
            raise Error(f"{Eperm}: {self.user()} cannot present {user}'s certificate")
        if not authdir.startswith("/"):
            raise Error(f"{Ebadarg}: authority directory must be absolute")
        link, cv.link = ChanLink(cv.link), None  # the ChanLink holds its own reference
        await cclose(link.c)  # ... so ours goes
        cv.state = "Handshake"
        try:
            cv.tls = await client(link, authdir, user, host)
        except BaseException as e:
            cv.state, cv.err = "Error", e.ename if isinstance(e, Error) else "handshake aborted"
            with trio.CancelScope(shield=True):
                await link.aclose()
            raise
        cv.state = "Established"
