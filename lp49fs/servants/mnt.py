"""#M mnt: the 9P client inside the core, which makes a mounted server look like a servant.

Theory of operation (Plan 9 port/devmnt.c)
------------------------------------------
``mount(fd, afd, old, flag, spec)`` hands ``mntattach`` the open Chan of a *server link*: one
end of a ``#|`` pipe, a channel posted in ``/srv``, later a network conversation.  For each
link Chan there is one ``Mntchan`` (a *mount channel*): a ``lp49fs.lib9p.client.Session`` whose
link object (``ChanLink``) reads and writes the link Chan through its own servant's ``read``
and ``write`` (the Servant API; nothing reaches into the pipe's internals).  Version is
negotiated once per link; each mount then sends its own Tattach with its own aname (spec), so
several mounts share one link and one Session, and their requests are multiplexed by tag.

Every Chan of a mounted tree is a proxy: ``type`` is ``M``, ``dev`` the Mntchan's number,
``qid`` the server's qid, ``mchan`` the link Chan and ``aux`` an ``Mfid``: a
``lp49fs.lib9p.clientfid.Fid`` that also names its Mntchan.  Each servant method is the
Fid's method of the same name, so #M and every other 9P client share one walk, read and
write loop.

Rules
  1. Fids.  A proxy Chan owns exactly one fid, from the Tattach/Twalk that made it to the
     Tclunk sent by ``close`` (``closeall``: walked but never opened Chans are clunked too) or
     the Tremove sent by ``remove`` (which clunks even when removing fails).  ``Mfid.fid`` is
     NOFID afterwards, so a fid is never clunked twice.
  2. Walks follow the servant contract: ``walk(c, [])`` clones (Twalk with no names); a walk
     the server answers with fewer qids than names creates no fid (walk(5)) and returns
     ``Walkqid(None, qids)``; an Rerror (first name failed) is raised.
  3. read and write are ``Fid.read``/``Fid.write`` (clientfid Rule 3, Plan 9 mntrdwr):
     pieces of at most the fid's iounit; a file read continues until ``count`` is satisfied
     or a piece comes back short; a directory is read with one Tread, so entries are never
     split; a write stops at a short Rwrite and returns what was written.
  4. Interruption.  A system call cancelled while a request is pending returns at once; the
     Session sends Tflush in the background and honours a late reply (see client.py Rule 2).
  5. Hangup.  When the link ends (the server exited, the pipe closed) the Session fails every
     pending and later request with ``Error(Ehungup)`` ("i/o on hungup channel"); ``close``
     swallows that error, since closing cannot fail.  The Mntchan leaves the table, and a later
     mount of the same dead link fails in version with the same error.
     A server that stays silent while calls wait (a stopped process, a frozen host behind a
     live TCP connection) is pinged after ``core.peer_timeout`` seconds and hung up when the
     ping is not answered within as long again (client.py Rule 6; node TOML ``peer_timeout``).
  6. Life time.  The Mntchan holds one reference on the link Chan.  It counts the proxy Chans
     holding fids; when the last one goes the Session's task is cancelled and the link
     reference dropped.  Callers read their own replies (client.py, mountmux); the Session's
     task only holds its background work (flushes, pings).  It runs as a trio system task
     (there is no nursery that outlives a system call in the core), wrapped so it can never
     crash the node.
  7. ``#M`` is never attachable by name (namec refuses ``#M`` paths with
     ``mount/attach disallowed``; ``attach`` refuses too).
  8. Stat entries come back as this side sees them (Plan 9 mntdirfix): ``stat`` and every
     entry of a directory read get type ``M`` and dev the Mntchan's number, whatever the
     server put there.
  9. Pipelining.  Version asks for "9P2000.lp49" (docs/ninep.md); a server that answers
     "9P2000" gets plain 9P.  On a 9P2000.lp49 link ``walkopen`` sends Twalk and Topen at
     once (open of a file costs one round trip, not two) and ``close`` sends Tclunk without
     waiting for Rclunk, except for an ORCLOSE file (its removal must be done when close
     returns), a Chan granted a service-bus channel (the grant must end when close
     returns) and the last fid of the Mntchan (whose reader then stops).
  10. A link posted in ``#s`` gets a session that survives the server's restart: it dials
      the ``/srv`` entry again and walks the held fids anew (``mntrecover``), so Rule 5
      applies to such a mount only when the server does not come back.

  11. Page cache (``mntcache``, the Pager's ``lp49fs.hvm.pagecache``): reads of plain files
      with a qid.vers are answered from cached pages while the server's qid.vers holds;
      opens, walks and stats validate them, writes, wstats and removes drop them (and the
      close of a file written through a service-bus channel).

What lives elsewhere: tags, flush and hangup in ``lp49fs.lib9p.client``; Tattach of a fresh
fid, the walk/read/write loops and the iounit rule in ``lp49fs.lib9p.clientfid``; the mount table in
``lp49fs.core.mount``; posting links in ``#s`` (``servants/srv.py``).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import trio

from lp49fs.core.chan import CBUS, COPEN, CRCLOSE, Chan, Path, Walkqid, cclose, incref
from lp49fs.core.dev import Servant, openmode
from lp49fs.errors import Ebadusefd, Ehungup, Enoattach, Error
from lp49fs.lib9p import LINK_MSIZE
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import Fid, tattach
from lp49fs.ninep import MAXWELEM, NOFID, OCEXEC, OREAD, QTDIR, VERSIONLP49, Dir, Qid
from lp49fs.servants import mntrecover
from lp49fs.servants.mntcache import Mntcache

log = logging.getLogger(__name__)

# What mount asks for.  Plan 9 asks IOHDRSZ + 8 KiB; here bulk reads pay per message
# (lib9p.LINK_MSIZE says why).  The server may answer less (Rversion msize <= ours).
MSIZE = LINK_MSIZE


class ChanLink:
    """A Session link over an open Chan, driven only through its servant's read/write."""

    def __init__(self, c: Chan) -> None:
        self.c: Chan | None = incref(c)  # one reference, dropped by aclose

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        c = self.c
        if c is None:
            raise trio.ClosedResourceError("link closed")
        try:
            return await c.sv.read(c, max_bytes or MSIZE, 0)
        except Error as e:
            raise trio.BrokenResourceError(e.ename) from e

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        c = self.c
        if c is None:
            raise trio.ClosedResourceError("link closed")
        try:
            await c.sv.write(c, bytes(data), 0)
        except Error as e:
            raise trio.BrokenResourceError(e.ename) from e

    async def aclose(self) -> None:
        c, self.c = self.c, None
        await cclose(c)


def dirfix(data: bytes, dc: str, dev: int) -> bytes:
    """Directory read bytes with each entry's type and dev set to ``dc`` and ``dev`` (Rule 8)."""
    out = bytearray(data)
    i = 0
    while i + 8 <= len(out):
        struct.pack_into("<HI", out, i + 2, ord(dc), dev & 0xFFFFFFFF)
        i += 2 + int.from_bytes(out[i : i + 2], "little")
    return bytes(out)


@dataclass(eq=False)
class Mntchan:
    """One mount channel: a link, its Session, and the proxy Chans using it (Rule 6)."""

    id: int  # dev of every proxy Chan on this link
    link: Chan  # the server link Chan (mchan of the proxies)
    session: Session  # tags, fids, flush, hangup
    ref: int = 0  # proxy Chans holding a fid
    ready: trio.Event = field(default_factory=trio.Event)  # version done (or failed)
    error: Error | None = None  # why version failed
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)  # the Session's task


@dataclass(eq=False)
class Mfid(Fid):
    """``aux`` of a proxy Chan: a client Fid (NOFID once clunked) and its mount channel."""

    mnt: Mntchan | None = None  # the mount channel (always set by Mnt)


class Mnt(Servant):
    """``#M``: every Chan is a proxy for a file of a 9P server."""

    dc = "M"
    name = "mnt"
    closeall = True  # Rule 1: clunk walked-but-unopened fids too

    def reset(self) -> None:
        self.mnts: dict[Chan, Mntchan] = {}  # link Chan -> its mount channel
        self.nextid = 1
        self.cache = Mntcache(self.core)  # Rule 11: the Pager's page cache

    def shutdown(self) -> None:
        for m in list(self.mnts.values()):
            m.scope.cancel()

    # ---- mount channels -------------------------------------------------------------------

    async def mntchan(self, c: Chan) -> Mntchan:
        """``_mntchan`` for ``mntrecover``: the channel, held (``_unref(m, held=True)``)."""
        m = await self._mntchan(c)
        m.ref += 1
        return m

    async def _mntchan(self, c: Chan) -> Mntchan:
        """The mount channel of link ``c``, made and versioned on first use."""
        m = self.mnts.get(c)
        if m is None:
            m = Mntchan(self.nextid, c, mntrecover.session(self, c, self._session))
            self.nextid += 1
            self.mnts[c] = m
            started = trio.Event()
            trio.lowlevel.spawn_system_task(self._reader, m, started, name=f"#M{m.id} reader")
            await started.wait()
            try:
                await m.session.version(MSIZE, VERSIONLP49)
            except Error as e:
                m.error = e
            except BaseException:
                m.error = Error(Ehungup)
                raise
            finally:
                m.ready.set()
                if m.error is not None or m.session.hungup:
                    self._forget(m)
        await m.ready.wait()
        if m.error is not None:
            raise m.error
        return m

    def _session(self, c: Chan) -> Session:
        return Session(ChanLink(c), ping=self.core.peer_timeout)

    async def _reader(self, m: Mntchan, started: trio.Event) -> None:
        """Run the Session until the link ends or the Mntchan is dropped; never raises."""
        try:
            with m.scope:
                async with trio.open_nursery() as n:
                    await n.start(m.session.run)
                    started.set()
        except Exception:
            log.exception("#M%d: reader failed", m.id)
        finally:
            started.set()
            self._forget(m)

    def _forget(self, m: Mntchan) -> None:
        if self.mnts.get(m.link) is m:
            del self.mnts[m.link]
            self.cache.drop(m.id)
        if m.ref <= 0:
            m.scope.cancel()

    def _proxy(self, m: Mntchan, fid: Fid, c: Chan, qid: Qid) -> Chan:
        m.ref += 1
        return Chan(type=self.dc, dev=m.id, qid=qid, sv=self, path=c.path, aux=fid, mchan=m.link)

    def _unref(self, m: Mntchan, held: bool = False) -> None:
        m.ref -= held
        if m.ref <= 0:
            self._forget(m)
            m.scope.cancel()

    @staticmethod
    def _mf(c: Chan) -> Mfid:
        """The live Fid of proxy ``c``; Ehungup once it was clunked."""
        mf = c.aux
        assert isinstance(mf, Mfid) and mf.mnt is not None, c
        if mf.fid == NOFID:
            raise Error(Ehungup)
        return mf

    def busfid(self, c: Chan) -> tuple[Chan, int] | None:
        """The service bus's hook (lp49fs.core.bus): (link Chan, fid) of proxy ``c``."""
        mf = c.aux
        if not isinstance(mf, Mfid) or mf.mnt is None or mf.fid == NOFID:
            return None
        return mf.mnt.link, mf.fid

    # ---- attach -------------------------------------------------------------------------------

    async def attach(self, spec: str) -> Chan:
        raise Error(Enoattach)  # Rule 7

    async def mntattach(self, c: Chan, ac: Chan | None, spec: str, flag: int) -> Chan:
        """Attach tree ``spec`` of the server on link ``c`` (an open Chan); a new proxy root."""
        if not c.flag & COPEN:
            raise Error(Ebadusefd)
        afid = NOFID
        if ac is not None:
            if ac.type != self.dc or self.mnts.get(c) is not self._mf(ac).mnt:
                raise Error(Ebadusefd)
            afid = self._mf(ac).fid
        m = await self._mntchan(c)
        m.ref += 1  # hold the Mntchan while attaching
        try:
            fid, qid = await tattach(m.session, self.user(), spec, afid)
        except BaseException as e:
            m.ref -= 1
            if not isinstance(e, trio.Cancelled):  # cancelled: the flush settles the fid
                self._unref(m)
            raise
        m.ref -= 1
        root = Chan(type=self.dc, dev=m.id, qid=qid, sv=self, path=Path("#M"))
        return self._proxy(m, Mfid(m.session, fid, qid, mnt=m), root, qid)

    # ---- the method table ---------------------------------------------------------------------

    async def walk(self, c: Chan, names: Sequence[str]) -> Walkqid:
        if len(names) > MAXWELEM:
            raise AssertionError("namec walks at most MAXWELEM names at once")
        mf = self._mf(c)
        nf, qids = await mf.step(names)  # Rule 2
        if nf is None:
            return Walkqid(None, qids)
        assert mf.mnt is not None and isinstance(nf, Mfid)
        self.cache.opened(nf, nf.qid)
        return Walkqid(self._proxy(mf.mnt, nf, c, nf.qid), qids)

    async def walkopen(self, c: Chan, names: Sequence[str], omode: int) -> Chan | None:
        """Rule 9: Twalk and Topen at once on a 9P2000.lp49 link; None on any other."""
        mf = self._mf(c)
        if not mf.session.pipelined:
            return None
        nf, _ = await mf.walkopen(names, omode)
        if nf is None:
            return None  # namec walks again and reports the error as usual
        assert mf.mnt is not None
        assert isinstance(nf, Mfid)
        nc = self._proxy(mf.mnt, nf, c, nf.qid)
        self._opened(nc, nf, openmode(omode))
        return nc

    async def stat(self, c: Chan) -> Dir:
        mf = self._mf(c)
        d = await mf.stat()
        self.cache.opened(mf, d.qid)
        return replace(d, type=ord(self.dc), dev=c.dev)  # Rule 8

    async def open(self, c: Chan, omode: int) -> Chan:
        mf = self._mf(c)
        await mf.open(omode & ~OCEXEC)
        self._opened(c, mf, openmode(omode & ~OCEXEC))
        return c

    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan:
        mf = self._mf(c)
        await mf.create(name, perm, omode & ~OCEXEC)
        self._opened(c, mf, openmode(omode & ~OCEXEC))
        return c

    def _opened(self, c: Chan, mf: Mfid, mode: int) -> None:
        self.cache.opened(mf, mf.qid)
        c.qid = mf.qid
        c.mode = mode
        c.flag |= COPEN
        c.offset = 0
        c.iounit = mf.iounit

    async def close(self, c: Chan) -> None:
        mf = c.aux
        assert isinstance(mf, Mfid) and mf.mnt is not None
        if mf.fid == NOFID:
            return
        m = mf.mnt
        m.ref -= 1
        if c.flag & CBUS and c.mode != OREAD:
            self.cache.wrote(mf, c.qid)  # Rule 11: its writes went by the bus
        try:  # Rule 9: no wait unless it removes the file, frees the last fid or ends a grant
            await mf.clunk(wait=m.ref <= 0 or bool(c.flag & (CRCLOSE | CBUS)))
        except Error:
            pass  # Rule 5: closing cannot fail
        finally:
            self._unref(m)

    async def remove(self, c: Chan) -> None:
        mf = self._mf(c)
        m = mf.mnt
        assert m is not None
        m.ref -= 1
        self.cache.wrote(mf, c.qid)
        try:
            await mf.remove()  # Tremove clunks even when it fails
        finally:
            self._unref(m)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        mf = self._mf(c)
        if c.qid.type & QTDIR:
            return dirfix(await mf.read(count, offset), self.dc, c.dev)
        return await self.cache.read(c, mf, count, offset)  # Rule 11

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        mf = self._mf(c)
        try:
            return await mf.write(data, offset)
        finally:
            self.cache.wrote(mf, c.qid)  # Rule 11

    async def wstat(self, c: Chan, d: Dir) -> None:
        mf = self._mf(c)
        try:
            await mf.wstat(d)
        finally:
            self.cache.wrote(mf, c.qid)
