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
   (walk, stat, open, read, and an attach without an auth fid: the fid it may have made
   died with the old server); for any other (a write, create, remove, wstat) the server
   may or may not have done it, so it fails with ``server restarted: request may not have
   completed``, once.  A re-attach (through a session that is itself recovering, Rule 9)
   whose link dies under it is so repeated, or (Rule 8) done again on the next link.
3. A fid whose file is gone, or is another file now (a different qid path), is not made
   again; requests on it fail with the new server's ``unknown fid``.
4. If the server is not posted again within ``wait`` seconds the session gives up: waiting
   and later requests fail with ``server did not come back`` (then ``i/o on hungup
   channel``), as a plain mount does at once.
5. Fid numbers are the session's own (``mntfids.Wires``): each client number stands for a
   wire number of the session it speaks through (the same number on the first link).  After
   a restart every fid is moved at once: one made again to its new number, any other (not
   yet made, or lost by Rule 3) to a fresh number reserved on the new session, so a walk in
   flight makes it there and a lost one is unknown to the server, never another file.
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
9. The channel a session moved to is itself recovering, and moves on at the next restart;
   once none of our requests is in flight through it, the session moves its fids along
   (their numbers there are taken over) and speaks to that newer channel directly, so a
   mount that lived through many restarts passes through two sessions, never a chain.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import trio

from lp49fs.core.chan import Chan, cclose
from lp49fs.errors import Ehungup, Erecovery, Erestarted, Error
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.ping import SILENT
from lp49fs.ninep import (
    NOFID,
    VERSION9P,
    Tattach,
    TMessage,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Twalk,
)
from lp49fs.servants.mntfids import FidRec, Wires, note, remake

if TYPE_CHECKING:
    from lp49fs.servants.mnt import Mnt, Mntchan
    from lp49fs.servants.srv import Srv

log = logging.getLogger(__name__)

PREFIX = "import."  # /srv names of import links, unposted on hangup (Rule 7)
WAIT = 45.0  # seconds a restart may take (the restart budget pauses 30 s at most)
POLL = 0.01  # seconds between looks at /srv while waiting
SAFE = (Twalk, Tstat, Topen, Tread)  # Rule 2: safe to repeat (Tclunk is never repeated)


def safe(msg: object) -> bool:
    """Rule 2: ``msg`` may be sent again on the new session."""
    return isinstance(msg, SAFE) or (isinstance(msg, Tattach) and msg.afid == NOFID)


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
        self.cur: Session | Recovering = make(link)
        self.gen = 0  # sessions made since the first
        self.dead = False  # gave up (Rule 4)
        self.changed = trio.Event()  # set (and replaced) when gen, dead or cur changes
        self.recs: dict[int, FidRec] = {}  # client fid -> how to make it again (first link)
        self.wires = Wires()  # client fid -> its number on cur (Rule 5)
        self.busy = 0  # requests in flight through the delegate (Rule 9)

    # -- what #M uses of a Session ---------------------------------------------------------

    @property
    def msize(self) -> int:
        return self.cur.msize

    @property
    def hungup(self) -> bool:
        return self.dead or self.cur.hungup

    def newfid(self) -> int:
        return self.wires.add(self.cur.newfid())

    def _drop(self, fid: int) -> int:
        """Forget client fid ``fid``; its wire number (NOFID if it had none)."""
        self.recs.pop(fid, None)
        w = self.wires.pop(fid)
        return NOFID if w is None else w

    def freefid(self, fid: int) -> None:
        if (w := self._drop(fid)) != NOFID:
            self.cur.freefid(w)

    def fids(self) -> frozenset[int]:
        return frozenset(self.wires.wire)

    @property
    def pipelined(self) -> bool:
        return self.cur.pipelined

    async def version(self, msize: int, version: str = VERSION9P) -> str:
        return await self.cur.version(msize, version)

    async def clunk_nowait(self, fid: int) -> None:
        if (w := self._drop(fid)) != NOFID:
            await self.cur.clunk_nowait(w)

    def clunk_soon(self, fid: int) -> None:
        if (w := self._drop(fid)) != NOFID:
            self.cur.clunk_soon(w)

    async def clunk(self, fid: int, *, remove: bool = False) -> None:
        """Tclunk never waits for a restart: a fid clunked while (or as) the link goes down is
        simply not made again.  Tremove is not safe to repeat (Rule 2)."""
        if self.delegate is not None or not remove:
            await self.cur.clunk(self._drop(fid), remove=remove)
            return
        self.recs.pop(fid, None)
        try:
            await self.rpc(Tremove(fid=fid))
        finally:
            self.freefid(fid)

    def _mapped(self, msg: object) -> object:
        """Rule 5: ``msg`` with its client fid numbers as the current session knows them."""
        w = self.wires
        kw = {f: w.get(v) for f in ("fid", "afid", "newfid")
              if (v := getattr(msg, f, None)) not in (None, NOFID) and w.get(v) != v}  # fmt: skip
        return replace(msg, **kw) if kw else msg  # type: ignore[type-var]

    def plain(self) -> Session:
        """The plain Session at the end of the chain of delegates (the live link)."""
        s = self.cur
        while isinstance(s, Recovering):
            s = s.cur
        return s

    def depth(self) -> int:
        """How many Recovering sessions a request passes through (Rule 9: at most 2)."""
        return 1 + (self.cur.depth() if isinstance(self.cur, Recovering) else 0)

    async def rpc(self, msg: object) -> object:
        """Rules 1, 2: send ``msg`` on the current session, across restarts."""
        while True:
            s, gen = self.cur, self.gen
            if self.dead:
                raise Error(Ehungup)
            if self.delegate is not None:  # that channel's session does its own recovery
                self.busy += 1
                try:
                    return await s.rpc(self._mapped(msg))
                finally:
                    self.busy -= 1
                    self._collapse()
            if s.hungup:  # Rule 1: never sent
                await self._next(gen)
                continue
            try:
                r = await s.rpc(self._mapped(msg))
            except Error as e:
                if e.ename != Ehungup or not s.hungup:
                    raise
                if self.failfast(s):  # Rule 8
                    raise
                await self._next(gen)
                if not safe(msg):
                    raise Error(Erestarted) from None
                continue
            note(self.recs, msg, r)
            return r

    async def pipeline(self, *msgs: TMessage) -> list[object]:
        """``rpc``'s Rules 1 and 2 for a pipelined group: repeated after a restart only if
        every message in it is safe to repeat."""
        while True:
            s, gen = self.cur, self.gen
            if self.dead:
                raise Error(Ehungup)
            mapped = [cast(TMessage, self._mapped(m)) for m in msgs]
            if self.delegate is not None:
                self.busy += 1
                try:
                    return await s.pipeline(*mapped)
                finally:
                    self.busy -= 1
                    self._collapse()
            if s.hungup:
                await self._next(gen)
                continue
            try:
                rs = await s.pipeline(*mapped)
                break
            except Error as e:
                if e.ename != Ehungup or not s.hungup:
                    raise
                if self.failfast(s):  # Rule 8
                    raise
                await self._next(gen)
                if not all(safe(m) for m in msgs):
                    raise Error(Erestarted) from None
        for m, r in zip(msgs, rs, strict=True):
            note(self.recs, m, r)
        return rs

    async def _next(self, gen: int) -> None:
        while self.gen == gen and not self.dead:
            await self.changed.wait()
        if self.dead:
            raise Error(Erecovery)

    def _wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    # -- the reader: run the first session, re-dial when it ends ------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:  # fmt: skip
        """Run the first session; when it ends, move every fid to the mount channel of the
        link posted next (Rule 4), and follow that channel's restarts (Rule 9)."""
        async with trio.open_nursery() as n:
            await n.start(self.cur.run)
            task_status.started()
        await self._unpost()
        with trio.move_on_after(self.wait) as scope:
            while (m := await self._redial()) is not None:
                try:
                    new = await self._reattach(m.session)
                except Error as e:
                    log.warning("#M /srv/%s: re-attach failed: %s", self.name, e.ename)
                    self.mnt._unref(m, held=True)
                    continue
                self._switch(m, new)
                scope.deadline = math.inf
                break
        if self.delegate is None:
            log.warning("#M /srv/%s: not posted again within %.0f s: giving up", self.name,
                        self.wait)  # fmt: skip
            self.dead = True
            self._wake()
            return
        try:
            await self._follow()
        finally:
            self.mnt._unref(self.delegate, held=True)

    def _switch(self, m: Mntchan, new: dict[int, int]) -> None:
        """Rules 3, 5: the fids as ``m`` knows them (``new``: those made again); at once."""
        s, wire = m.session, self.wires.wire
        made = len(new.keys() & wire.keys())
        for c in wire:  # Rule 3: one not made again is a fresh number, unknown to the server
            wire[c] = new.pop(c) if c in new else s.newfid()
        for nf in new.values():  # clunked while it was made again
            s.clunk_soon(nf)
        log.info("#M /srv/%s: %d fids recovered after a restart", self.name, made)
        self.recs.clear()
        self.cur, self.delegate = s, m
        self.gen += 1
        self._wake()

    async def _follow(self) -> None:
        """Rule 9: when the delegate's session moves on to a newer channel, go there too."""
        while True:
            self._collapse()
            d = self.cur
            if isinstance(d, Recovering) and d.delegate is None and not d.dead:
                await d.changed.wait()  # its restart
            elif isinstance(d, Recovering) and d.delegate is not None:
                await self.changed.wait()  # our requests in flight through it end
            else:
                await trio.sleep_forever()

    def _collapse(self) -> None:
        """Rule 9: skip a delegate that has moved on, once nothing of ours is in flight."""
        moved = False
        while self.busy == 0 and self.delegate is not None and isinstance(self.cur, Recovering):
            d = self.cur
            if d.delegate is None:
                break
            wire = self.wires.wire
            for c, w in wire.items():
                wire[c] = d._drop(w)
            old, self.delegate, self.cur = self.delegate, d.delegate, d.cur
            d.delegate.ref += 1
            self.mnt._unref(old, held=True)
            moved = True
        if moved:
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

    async def _reattach(self, s: Session) -> dict[int, int]:
        """Every recorded fid made again on ``s`` (Rules 3, 5), those recorded meanwhile
        too: client fid -> its number on ``s``.  Raises if ``s`` hangs up meanwhile."""
        new: dict[int, int] = {}
        tried: set[int] = set()
        while todo := [c for c in self.recs if c not in tried]:
            for fid in sorted(todo, key=lambda c: len(self.recs[c].names)):
                tried.add(fid)
                if (rec := self.recs.get(fid)) is None:
                    continue
                nf = s.newfid()
                try:
                    await remake(s, nf, rec)
                    new[fid] = nf
                except Error as e:
                    s.freefid(nf)
                    if s.hungup:  # Rule 2: that link died too; the caller tries the next
                        for made in new.values():
                            s.clunk_soon(made)
                        raise
                    log.info("#M /srv/%s: fid %d (%s) not made again: %s", self.name, fid,
                             "/".join(rec.names), e.ename)  # fmt: skip
        return new


def session(mnt: Mnt, c: Chan, make: Callable[[Chan], Session]) -> Session:
    """The Session ``#M`` uses for link ``c``: ``Recovering`` when ``c`` is posted in /srv."""
    srv = mnt.core.devtab.get("s")
    name = srv.srvname(c) if srv is not None and hasattr(srv, "srvname") else None
    if srv is None or name is None:
        return make(c)
    from lp49fs.servants.srv import Srv

    assert isinstance(srv, Srv)
    return cast(Session, Recovering(mnt, srv, name.removeprefix("#s/"), c, make))
