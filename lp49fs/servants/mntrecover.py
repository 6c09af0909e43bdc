"""#M recovery: a mount of a posted server survives the server's restart (9front recover(4)).

A mount whose link came from ``/srv/NAME`` (the link Chan is posted in ``#s``) gets a
``Recovering`` session instead of a plain ``lib9p.client.Session``.  It speaks through one
plain Session at a time and watches the 9P traffic that passes, keeping for every fid the
path it was walked by from its attach (uname, aname, the names), its qid and its open mode.

When the link hangs up (the server exited or was killed), the session *re-dials*: it waits
for ``/srv/NAME`` to be posted again by the supervisor and takes the mount channel of that
link (``Mnt.mntchan``: the one the supervisor's new mount uses, since one link has one
channel), attaches each root again on it, walks every fid it knows to the same path (under
a fid number of that channel, Rule 5), checks that the walk reaches the same file (qid
path), and opens again the fids that were open (without OTRUNC).  From then on its requests
go through that channel's session (which recovers by itself from the next restart), and it
holds a reference on that channel so the fids live as long as the proxies that use them.

Rules:
1. A request that had not been sent when the link died waits for the new session and is
   sent there: nothing was lost.
2. A request that was in flight is repeated on the new session only if repeating it is safe
   (walk, stat, open, read); for any other (a write, create, remove, wstat) the server
   may or may not have done it, so it fails with ``server restarted: request may not have
   completed``, once.
3. A fid whose file is gone, or is another file now (a different qid path), is not made
   again; requests on it fail with the new server's ``unknown fid``.
4. If the server is not posted again within ``wait`` seconds the session gives up: waiting
   and later requests fail with ``server did not come back`` (then ``i/o on hungup
   channel``), as a plain mount does at once.
5. The new channel's session has fids of its own, so each fid is made again under a number
   of its allocation and requests are rewritten on the way (old -> new); an old number that
   was not made again (Rule 3) becomes NOFID, so it can never name another file.
6. Not recovered: an attach through an auth fid (its fid is not made again), renames of a
   directory above a held fid (the fid is walked by its old path), and directory read
   offsets (an open directory starts again at 0).
7. A broken link of an import (posted under a ``PREFIX`` name by ``exportfs/redial.py``) has
   no supervisor to take its stale ``/srv`` entry away, so the session removes it itself when
   the link hangs up: that is the re-dialler's cue to dial the exporter again and post the new
   link under the same name.
8. A request in flight when the link of an import broke, or any link was hung up because
   the peer stopped answering (no answer to the ping, ``lib9p/ping.py``), fails with ``i/o
   on hungup channel`` instead of being repeated: a remote node may stay away for long (a
   TLS link shows even a silent break as end of file), and the caller is owed an answer
   within the request timeout.  Later requests wait for the re-dial (Rule 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import trio

from lp49fs.core.chan import Chan, cclose
from lp49fs.errors import Ehungup, Enonexist, Erecovery, Ereplaced, Erestarted, Error
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.ping import SILENT
from lp49fs.ninep import (
    MAXWELEM,
    NOFID,
    OTRUNC,
    VERSION9P,
    Rattach,
    Rcreate,
    Ropen,
    Rwalk,
    Tattach,
    Tclunk,
    Tcreate,
    TMessage,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Twalk,
    Twstat,
)
from lp49fs.servants.mntfids import FidRec, walked

if TYPE_CHECKING:
    from lp49fs.servants.mnt import Mnt, Mntchan
    from lp49fs.servants.srv import Srv

log = logging.getLogger(__name__)

PREFIX = "import."  # /srv names of import links, unposted on hangup (Rule 7)
WAIT = 45.0  # seconds a restart may take (the restart budget pauses 30 s at most)
POLL = 0.01  # seconds between looks at /srv while waiting
SAFE = (Twalk, Tstat, Topen, Tread)  # Rule 2: safe to repeat (Tclunk is never repeated)


class Recovering:
    """A Session over a posted link that re-dials after the server restarts (module doc)."""

    def __init__(self, mnt: Mnt, srv: Srv, name: str, link: Chan,
                 make: Callable[[Chan], Session], wait: float = WAIT) -> None:  # fmt: skip
        self.mnt = mnt
        self.delegate: Mntchan | None = None  # the mount channel now carrying the fids
        self.srv = srv
        self.name = name  # the /srv entry to dial again
        self.link = link  # the link Chan of the current session
        self.make = make  # a Session on a link Chan
        self.wait = wait
        self.cur = make(link)
        self.gen = 0  # sessions made since the first
        self.dead = False  # gave up (Rule 4)
        self.changed = trio.Event()  # set (and replaced) when gen or dead changes
        self.recs: dict[int, FidRec] = {}
        self.fidmap: dict[int, int] = {}  # old fid -> its number on the delegate (Rule 5)
        self.oldfids: set[int] = set()  # fid numbers of the first session (Rule 5)

    # -- what #M uses of a Session ---------------------------------------------------------

    @property
    def msize(self) -> int:
        return self.cur.msize

    @property
    def hungup(self) -> bool:
        return self.dead or self.cur.hungup

    def newfid(self) -> int:
        return self.cur.newfid()

    def freefid(self, fid: int) -> None:
        self.recs.pop(fid, None)
        self.cur.freefid(self.fidmap.pop(fid, fid))

    def fids(self) -> frozenset[int]:
        return self.cur.fids()

    @property
    def pipelined(self) -> bool:
        return self.cur.pipelined

    async def version(self, msize: int, version: str = VERSION9P) -> str:
        return await self.cur.version(msize, version)

    def _fid(self, fid: int) -> int:
        """``fid`` as the current session knows it, dropping the mapping (Rule 5): a fid
        of the first session that was not made again is NOFID."""
        if self.delegate is None:
            return fid
        return self.fidmap.pop(fid, NOFID if fid in self.oldfids else fid)

    async def clunk_nowait(self, fid: int) -> None:
        self.recs.pop(fid, None)
        await self.cur.clunk_nowait(self._fid(fid))

    def clunk_soon(self, fid: int) -> None:
        self.recs.pop(fid, None)
        self.cur.clunk_soon(self._fid(fid))

    async def clunk(self, fid: int, *, remove: bool = False) -> None:
        """Tclunk never waits for a restart: a fid clunked while (or as) the link goes down is
        simply not made again.  Tremove is not safe to repeat (Rule 2)."""
        self.recs.pop(fid, None)
        if self.delegate is not None:
            await self.cur.clunk(self._fid(fid), remove=remove)
        elif not remove:
            await self.cur.clunk(fid)
        else:
            try:
                await self.rpc(Tremove(fid=fid))
            except trio.Cancelled:
                raise
            finally:
                self.cur.freefid(fid)

    def _mapped(self, msg: object) -> object:
        """Rule 5: ``msg`` with the old fid numbers in it as the new channel knows them."""
        m, old = self.fidmap, self.oldfids
        kw = {f: m.get(v, NOFID) for f in ("fid", "afid")
              if (v := getattr(msg, f, None)) in old}  # fmt: skip
        nf = getattr(msg, "newfid", None)
        if nf in old:  # a walk that was in flight when the link died
            if nf not in m:
                m[nf] = self.cur.newfid()
            kw["newfid"] = m[nf]
        return replace(msg, **kw) if kw else msg  # type: ignore[type-var]

    def plain(self) -> Session:
        """The plain Session at the end of the chain of delegates (the live link)."""
        s = self.cur
        while isinstance(s, Recovering):
            s = s.cur
        return s

    async def rpc(self, msg: object) -> object:
        """Rules 1, 2: send ``msg`` on the current session, across restarts."""
        while True:
            s, gen = self.cur, self.gen
            if self.dead:
                raise Error(Ehungup)
            if self.delegate is not None:  # that channel's session does its own recovery
                r = await s.rpc(self._mapped(msg))
                self._note(msg, r)
                return r
            if s.hungup:  # Rule 1: never sent
                await self._next(gen)
                continue
            try:
                r = await s.rpc(msg)
            except Error as e:
                if e.ename != Ehungup or not s.hungup:
                    raise
                if self.failfast(s):  # Rule 8
                    raise
                await self._next(gen)
                if not isinstance(msg, SAFE):
                    raise Error(Erestarted) from None
                continue
            self._note(msg, r)
            return r

    async def pipeline(self, *msgs: TMessage) -> list[object]:
        """``rpc``'s Rules 1 and 2 for a pipelined group: repeated after a restart only if
        every message in it is safe to repeat."""
        while True:
            s, gen = self.cur, self.gen
            if self.dead:
                raise Error(Ehungup)
            if self.delegate is not None:
                rs = await s.pipeline(*(cast(TMessage, self._mapped(m)) for m in msgs))
                break
            if s.hungup:
                await self._next(gen)
                continue
            try:
                rs = await s.pipeline(*msgs)
                break
            except Error as e:
                if e.ename != Ehungup or not s.hungup:
                    raise
                if self.failfast(s):  # Rule 8
                    raise
                await self._next(gen)
                if not all(isinstance(m, SAFE) for m in msgs):
                    raise Error(Erestarted) from None
        for m, r in zip(msgs, rs, strict=True):
            self._note(m, r)
        return rs

    async def _next(self, gen: int) -> None:
        while self.gen == gen and not self.dead:
            await self.changed.wait()
        if self.dead:
            raise Error(Erecovery)

    def _wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def _note(self, msg: object, r: object) -> None:
        """Keep the fid records up to date with a request that succeeded."""
        recs = self.recs
        if isinstance(msg, Tattach) and isinstance(r, Rattach) and msg.afid == NOFID:
            recs[msg.fid] = FidRec(msg.uname, msg.aname, (), r.qid)
        elif isinstance(msg, Twalk) and isinstance(r, Rwalk):
            p = recs.get(msg.fid)
            if p is not None and len(r.wqid) == len(msg.wname):
                q = r.wqid[-1] if r.wqid else p.qid
                recs[msg.newfid] = FidRec(p.uname, p.aname, walked(p.names, msg.wname), q)
        elif isinstance(msg, Topen) and isinstance(r, Ropen) and msg.fid in recs:
            recs[msg.fid] = replace(recs[msg.fid], qid=r.qid, omode=msg.mode & ~OTRUNC)
        elif isinstance(msg, Tcreate) and isinstance(r, Rcreate) and msg.fid in recs:
            p = recs[msg.fid]
            recs[msg.fid] = replace(p, names=(*p.names, msg.name), qid=r.qid,
                                    omode=msg.mode & ~OTRUNC)  # fmt: skip
        elif isinstance(msg, Twstat) and msg.fid in recs and msg.stat.name:
            p = recs[msg.fid]
            if p.names and msg.stat.name != p.names[-1]:
                recs[msg.fid] = replace(p, names=(*p.names[:-1], msg.stat.name))
        elif isinstance(msg, (Tclunk, Tremove)):
            recs.pop(msg.fid, None)

    # -- the reader: run the first session, re-dial when it ends ------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:  # fmt: skip
        """Run the first session; when it ends, move every fid to the mount channel of the
        link posted next (Rule 4), and hold that channel until cancelled."""
        async with trio.open_nursery() as n:
            await n.start(self.cur.run)
            task_status.started()
        await self._unpost()
        with trio.move_on_after(self.wait):
            self.oldfids = set(self.cur.fids()) | set(self.recs)
            while (m := await self._redial()) is not None:
                try:
                    await self._reattach(m.session)
                except Error as e:
                    log.warning("#M /srv/%s: re-attach failed: %s", self.name, e.ename)
                    self.mnt._unref(m, held=True)
                    continue
                self.cur, self.delegate = m.session, m
                self.gen += 1
                log.info("#M /srv/%s: %d fids recovered after a restart", self.name,
                         len(self.recs))  # fmt: skip
                self._wake()
                try:
                    await trio.sleep_forever()
                finally:
                    self.mnt._unref(m, held=True)
        log.warning("#M /srv/%s: not posted again within %.0f s: giving up", self.name,
                    self.wait)  # fmt: skip
        self.dead = True
        self._wake()

    def failfast(self, s: Session) -> bool:
        """Rule 8: whether a request in flight on hung-up ``s`` fails rather than repeats."""
        why = getattr(s, "_hungup", None) or ""
        return self.name.startswith(PREFIX) or why.startswith(SILENT)

    async def _unpost(self) -> None:
        """Rule 7: the dead link of an import leaves /srv."""
        if not self.name.startswith(PREFIX):
            return
        for sp in list(self.srv.entries.values()):
            if sp.name == self.name and sp.chan is self.link:
                del self.srv.entries[sp.path]
                posted, sp.chan = sp.chan, None
                await cclose(posted)

    async def _redial(self) -> Mntchan | None:
        """The (held) mount channel of the next link posted as /srv/NAME."""
        while True:
            for sp in self.srv.entries.values():
                if sp.name == self.name and sp.chan is not None and sp.chan is not self.link:
                    self.link = sp.chan
                    try:
                        return await self.mnt.mntchan(sp.chan)
                    except Error as e:
                        log.info("#M /srv/%s: %s", self.name, e.ename)
            await trio.sleep(POLL)

    async def _reattach(self, s: Session) -> None:
        """Every recorded fid made again under its own number on ``s`` (Rules 3, 5)."""
        gone = []
        for fid, rec in sorted(self.recs.items(), key=lambda kv: len(kv[1].names)):
            nf = s.newfid()
            try:
                await self._remake(s, nf, rec)
                if fid in self.recs:
                    self.fidmap[fid] = nf
                else:  # clunked meanwhile (it went to the dead link)
                    await s.clunk(nf)
            except Error as e:
                s.freefid(nf)
                log.info("#M /srv/%s: fid %d (%s) not made again: %s", self.name, fid,
                         "/".join(rec.names), e.ename)  # fmt: skip
                gone.append(fid)
        for fid in gone:
            self.recs.pop(fid, None)

    async def _remake(self, s: Session, fid: int, rec: FidRec) -> None:
        r = await s.rpc(Tattach(fid=fid, afid=NOFID, uname=rec.uname, aname=rec.aname))
        assert isinstance(r, Rattach)
        qid = r.qid
        names = rec.names
        while names:
            step, names = names[:MAXWELEM], names[MAXWELEM:]
            w = await s.rpc(Twalk(fid=fid, newfid=fid, wname=step))
            assert isinstance(w, Rwalk)
            if len(w.wqid) < len(step):
                await s.rpc(Tclunk(fid=fid))
                raise Error(Enonexist)
            qid = w.wqid[-1]
        if qid.path != rec.qid.path:
            await s.rpc(Tclunk(fid=fid))
            raise Error(Ereplaced)  # Rule 3
        if rec.omode >= 0:
            await s.rpc(Topen(fid=fid, mode=rec.omode))


def session(mnt: Mnt, c: Chan, make: Callable[[Chan], Session]) -> Session:
    """The Session ``#M`` uses for link ``c``: ``Recovering`` when ``c`` is posted in /srv."""
    srv = mnt.core.devtab.get("s")
    name = srv.srvname(c) if srv is not None and hasattr(srv, "srvname") else None
    if srv is None or name is None:
        return make(c)
    from lp49fs.servants.srv import Srv

    assert isinstance(srv, Srv)
    return cast(Session, Recovering(mnt, srv, name.removeprefix("#s/"), c, make))
