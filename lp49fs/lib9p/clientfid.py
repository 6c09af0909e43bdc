"""Fid-level and path-level helpers over a client ``Session`` (9pclient's fs* calls).

A ``Fid`` names one file on the server through one fid number of one session, and remembers
what the server said about it (qid, iounit, open mode) and a file offset for sequential
``read``/``write`` calls, like plan9port's ``CFid``.  It is the only fid-level API: the
command-line client, the tests and ``#M`` (which keeps one in each proxy Chan's ``aux``)
all use it.

Rules
-----
1. A ``Fid`` is created by ``attach`` or ``walk`` and is dead after ``clunk`` or ``remove``
   (which clunks even when removing fails, as remove(5) says).  ``async with fid`` clunks.
2. ``walk`` is all or nothing: a partial walk raises ``Error("'<name>' does not exist")``
   and creates no fid.  More than MAXWELEM names are walked in several Twalks.  ``step``
   is one Twalk that reports a partial walk instead (the servant walk contract).
3. Every Tread/Twrite asks for at most the fid's iounit (or msize - IOHDRSZ when the server
   said 0), as Plan 9's mntrdwr: a file ``read`` continues until ``count`` is satisfied or
   a piece comes back short; a directory is read with one Tread, so entries are never
   split.  ``write`` stops at a short Rwrite and returns what was written (one Twrite for
   empty data); ``writeall`` raises ``Error("short write on <path>")`` instead.
4. ``readdir`` reads whole directory entries from offset 0 to EOF.

Path helpers take a root ``Fid`` (from ``attach``) and a slash-separated path relative to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType

import trio

from lp49fs.errors import Eexist, Error
from lp49fs.ninep import (
    IOHDRSZ,
    MAXWELEM,
    NOFID,
    OREAD,
    OTRUNC,
    OWRITE,
    QTDIR,
    Dir,
    Qid,
    Rattach,
    Rcreate,
    Ropen,
    Rread,
    Rstat,
    Rwalk,
    Rwrite,
    Tattach,
    Tcreate,
    Topen,
    Tread,
    Tstat,
    Twalk,
    Twrite,
    Twstat,
    decode_dirs,
)

from .client import Session
from .late import check


@dataclass
class Fid:
    """One fid of ``session``: see the module docstring."""

    session: Session
    fid: int  # the fid number on the wire
    qid: Qid  # the file's qid, updated by open/create
    iounit: int = 0  # from Ropen/Rcreate; 0 = unknown
    mode: int | None = None  # open mode, None while not open
    offset: int = 0  # for sequential read/write calls without an offset
    path: str = field(default="/")  # for messages only

    async def __aenter__(self) -> Fid:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.clunk()

    @property
    def maxio(self) -> int:
        """The largest read or write count for this fid (Rule 3)."""
        return maxio(self.session.msize, self.iounit)

    async def step(self, names: Sequence[str]) -> tuple[Fid | None, list[Qid]]:
        """One Twalk of at most MAXWELEM ``names``: the new Fid (None if the walk stopped
        short, which creates no fid) and the qids reached.  An Rerror is raised."""
        s = self.session
        newfid = s.newfid()
        try:
            reply = await s.rpc(Twalk(fid=self.fid, newfid=newfid, wname=tuple(names)))
        except trio.Cancelled:
            raise  # the flush's late reply owns newfid
        except BaseException:
            s.freefid(newfid)
            raise
        assert isinstance(reply, Rwalk)
        qids = list(reply.wqid)
        if len(qids) < len(names):
            s.freefid(newfid)
            return None, qids
        path = "/".join([self.path.rstrip("/"), *names]) if names else self.path
        return self._new(newfid, qids[-1] if qids else self.qid, path), qids

    def _new(self, fid: int, qid: Qid, path: str) -> Fid:
        """A Fid like this one (same class and extra fields) for a new fid number."""
        return replace(self, fid=fid, qid=qid, iounit=0, mode=None, offset=0, path=path or "/")

    async def walk(self, names: list[str] | tuple[str, ...]) -> Fid:
        """A new Fid for ``self``/``names`` (no names: a clone); self must not be open."""
        newfid = self.session.newfid()
        src = self.fid
        qid = self.qid
        path = self.path
        try:
            chunks = [names[i : i + MAXWELEM] for i in range(0, len(names), MAXWELEM)] or [()]
            for chunk in chunks:
                reply = await self.session.rpc(Twalk(fid=src, newfid=newfid, wname=tuple(chunk)))
                assert isinstance(reply, Rwalk)
                if len(reply.wqid) < len(chunk):
                    bad = "/".join([path.rstrip("/"), *chunk[: len(reply.wqid) + 1]])
                    raise Error(f"'{bad}' does not exist")
                if chunk:
                    qid = reply.wqid[-1]
                    path = "/".join([path.rstrip("/"), *chunk])
                src = newfid
        except trio.Cancelled:
            if src == newfid:  # an earlier chunk made newfid; the flush handles the rest
                self.session.clunk_soon(newfid)
            raise
        except BaseException:
            if src == newfid:  # an earlier chunk made newfid: give it back to the server
                await self.session.clunk(newfid)
            else:
                self.session.freefid(newfid)
            raise
        return self._new(newfid, qid, path)

    async def walkopen(self, names: Sequence[str], mode: int) -> tuple[Fid | None, list[Qid]]:
        """Twalk to a new fid and Topen of it, sent at once (the session must be
        ``pipelined``; at most MAXWELEM names): one round trip.  Returns the open Fid, or
        None and the qids reached when the walk stopped short or failed (nothing to clunk;
        the caller walks again the usual way to learn why).  Raises the open's error."""
        s = self.session
        newfid = s.newfid()
        path = "/".join([self.path.rstrip("/"), *names])
        try:
            rw, ro = await s.pipeline(
                Twalk(fid=self.fid, newfid=newfid, wname=tuple(names)),
                Topen(fid=newfid, mode=mode))
        except trio.Cancelled:
            raise  # the flushes' late replies own newfid
        except BaseException:
            s.freefid(newfid)
            raise
        if not isinstance(rw, Rwalk) or len(rw.wqid) < len(names):
            s.freefid(newfid)
            return None, list(rw.wqid) if isinstance(rw, Rwalk) else []
        nf = self._new(newfid, rw.wqid[-1] if rw.wqid else self.qid, path)
        if not isinstance(ro, Ropen):
            await nf.clunk()
            check(ro)
        assert isinstance(ro, Ropen)
        nf.qid, nf.iounit, nf.mode = ro.qid, ro.iounit, mode
        return nf, list(rw.wqid)

    async def open(self, mode: int) -> None:
        """Open for ``mode`` (OREAD, OWRITE|OTRUNC ...)."""
        reply = await self.session.rpc(Topen(fid=self.fid, mode=mode))
        assert isinstance(reply, Ropen)
        self.qid, self.iounit, self.mode, self.offset = reply.qid, reply.iounit, mode, 0

    async def create(self, name: str, perm: int, mode: int) -> None:
        """Create ``name`` in this directory; afterwards this Fid is the new file, open."""
        reply = await self.session.rpc(Tcreate(fid=self.fid, name=name, perm=perm, mode=mode))
        assert isinstance(reply, Rcreate)
        self.qid, self.iounit, self.mode, self.offset = reply.qid, reply.iounit, mode, 0
        self.path = f"{self.path.rstrip('/')}/{name}"

    async def read(self, count: int, offset: int | None = None) -> bytes:
        """Read up to ``count`` bytes at ``offset`` or the Fid's offset (which then
        advances), in pieces of at most maxio (Rule 3)."""
        at = self.offset if offset is None else offset
        unit = self.maxio
        rpc = self.session.rpc
        reply = await rpc(Tread(fid=self.fid, offset=at, count=min(count, unit)))
        assert isinstance(reply, Rread)
        data = reply.data
        if len(data) < count and len(data) == unit and not self.qid.type & QTDIR:
            pieces, got = [data], len(data)
            while got < count:
                want = min(count - got, unit)
                reply = await rpc(Tread(fid=self.fid, offset=at + got, count=want))
                assert isinstance(reply, Rread)
                pieces.append(reply.data)
                got += len(reply.data)
                if len(reply.data) < want:
                    break
            data = b"".join(pieces)  # one copy
        if offset is None:
            self.offset += len(data)
        return bytes(data)

    async def readall(self) -> bytes:
        """Everything from the Fid's offset to EOF."""
        parts = []
        while data := await self.read(self.maxio):
            parts.append(data)
        return b"".join(parts)

    async def write(self, data: bytes, offset: int | None = None) -> int:
        """Write ``data`` at ``offset`` (or the Fid's offset, which advances) in pieces of
        at most maxio; stops at a short Rwrite and returns the count written (Rule 3)."""
        at = self.offset if offset is None else offset
        unit = self.maxio
        done = 0
        while True:
            chunk = data if done == 0 and len(data) <= unit else data[done : done + unit]
            reply = await self.session.rpc(Twrite(fid=self.fid, offset=at + done, data=chunk))
            assert isinstance(reply, Rwrite)
            done += reply.count
            if reply.count < len(chunk) or done >= len(data):
                break
        if offset is None:
            self.offset += done
        return done

    async def writeall(self, data: bytes, offset: int | None = None) -> int:
        """``write`` that raises ``Error("short write on <path>")`` unless all is written."""
        done = await self.write(data, offset)
        if done < len(data):
            raise Error(f"short write on {self.path}")
        return done

    async def readdir(self) -> list[Dir]:
        """All directory entries (the Fid must be open for reading; Rule 4)."""
        dirs: list[Dir] = []
        offset = 0
        while data := await self.read(self.maxio, offset):
            dirs.extend(decode_dirs(data))
            offset += len(data)
        return dirs

    async def stat(self) -> Dir:
        reply = await self.session.rpc(Tstat(fid=self.fid))
        assert isinstance(reply, Rstat)
        return reply.stat

    async def wstat(self, d: Dir) -> None:
        """Change attributes; fields of ``d`` left as in ``Dir.nulldir()`` are untouched."""
        await self.session.rpc(Twstat(fid=self.fid, stat=d))

    async def clunk(self, *, wait: bool = True) -> None:
        """Forget the fid (idempotent); the server frees it even on error.  ``wait=False``
        on a ``pipelined`` session sends the Tclunk without waiting for its reply."""
        if self.fid == NOFID:
            return
        fid, self.fid = self.fid, NOFID
        if not wait and self.session.pipelined:
            await self.session.clunk_nowait(fid)
        else:
            await self.session.clunk(fid)

    async def remove(self) -> None:
        """Remove the file; the fid is clunked even if that fails."""
        fid, self.fid = self.fid, NOFID
        await self.session.clunk(fid, remove=True)


def maxio(msize: int, iounit: int) -> int:
    """The largest read or write count on a fid opened with ``iounit`` (0: msize - IOHDRSZ)."""
    limit = msize - IOHDRSZ
    return min(iounit, limit) if iounit else limit


async def tattach(session: Session, uname: str, aname: str, afid: int = NOFID) -> tuple[int, Qid]:
    """Attach a new fid to tree ``aname``: its number and the root's qid.

    On an error the fid number goes back to the session; on cancellation the Tflush's late
    reply owns it (client.py).
    """
    fid = session.newfid()
    try:
        reply = await session.rpc(Tattach(fid=fid, afid=afid, uname=uname, aname=aname))
    except trio.Cancelled:
        raise
    except BaseException:
        session.freefid(fid)
        raise
    assert isinstance(reply, Rattach)
    return fid, reply.qid


async def attach(session: Session, uname: str = "none", aname: str = "") -> Fid:
    """The root Fid of tree ``aname`` for user ``uname`` (no authentication)."""
    fid, qid = await tattach(session, uname, aname)
    return Fid(session, fid, qid, path="/")


def split_path(path: str) -> list[str]:
    """``/a//b/`` -> ``["a", "b"]`` (``.`` dropped; ``..`` is left to the server)."""
    return [p for p in path.split("/") if p and p != "."]


async def walk_path(root: Fid, path: str) -> Fid:
    return await root.walk(split_path(path))


async def open_path(root: Fid, path: str, mode: int) -> Fid:
    """Walk to ``path`` and open it; the caller clunks the result."""
    fid = await walk_path(root, path)
    try:
        await fid.open(mode)
    except BaseException:
        await fid.clunk()
        raise
    return fid


async def read_file(root: Fid, path: str) -> bytes:
    async with await open_path(root, path, OREAD) as fid:
        return await fid.readall()


async def write_file(root: Fid, path: str, data: bytes, mode: int = OWRITE | OTRUNC) -> int:
    async with await open_path(root, path, mode) as fid:
        return await fid.writeall(data)


async def create_path(root: Fid, path: str, perm: int = 0o664, mode: int = OREAD) -> Fid:
    """Create ``path`` (parent must exist); returns the new file's open Fid."""
    names = split_path(path)
    if not names:
        raise Error(Eexist)
    fid = await root.walk(names[:-1])
    try:
        await fid.create(names[-1], perm, mode)
    except BaseException:
        await fid.clunk()
        raise
    return fid


async def remove_path(root: Fid, path: str) -> None:
    fid = await walk_path(root, path)
    await fid.remove()


async def stat_path(root: Fid, path: str) -> Dir:
    async with await walk_path(root, path) as fid:
        return await fid.stat()


async def wstat_path(root: Fid, path: str, d: Dir) -> None:
    async with await walk_path(root, path) as fid:
        await fid.wstat(d)


async def readdir_path(root: Fid, path: str) -> list[Dir]:
    async with await open_path(root, path, OREAD) as fid:
        return await fid.readdir()
