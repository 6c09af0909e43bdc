"""The request handlers of the lib9p server: one per T-message (lib9p's s* functions).

``DISPATCH[type(msg)]`` gives the handler; each takes the connection (``Srv``) and the
``Req``, calls the backend File, and returns the R-message or raises ``Error``.  Handlers
install Files in fids through ``srv.bind``/``srv.unbind`` (``Fid.aux`` holds a ``Slot``);
they never encode bytes or look at tags.  Directory reads are packed here from a snapshot
taken at offset 0, whole entries only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lp49fs.errors import Ebadcount, Enoauth, Error
from lp49fs.ninep import (
    QTDIR,
    Fid,
    Rattach,
    Rclunk,
    Rcreate,
    Req,
    RMessage,
    Ropen,
    Rread,
    Rremove,
    Rstat,
    Rwalk,
    Rwrite,
    Rwstat,
    Tattach,
    Tauth,
    Tclunk,
    Tcreate,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Twalk,
    Twrite,
    Twstat,
    encode_dir,
)

from .file import File

if TYPE_CHECKING:
    from .srv import Srv


@dataclass(slots=True, eq=False)
class Slot:
    """What the framework keeps in ``Fid.aux``: the backend File and a directory snapshot."""

    file: File  # the backend's object for this fid
    dirents: list[bytes] = field(default_factory=list)  # encoded entries, taken at offset 0


def slotof(fid: Fid | None) -> Slot:
    assert fid is not None and isinstance(fid.aux, Slot)
    return fid.aux


# --- handlers: one per T-message (lib9p's s* functions) ----------------------------------
Handler = Callable[["Srv", Req], Awaitable[RMessage]]


async def sauth(srv: Srv, req: Req) -> RMessage:
    raise Error(Enoauth)


async def sattach(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Tattach)
    check = getattr(srv.link, "check_attach", None)  # a TLS link: the certificate's name
    if check is not None:
        check(m.uname)
    file = await srv.fs.attach(m.uname, m.aname)
    srv.bind(req.fid, file)
    return Rattach(file.qid)


async def swalk(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Twalk)
    slot = slotof(req.fid)
    if not m.wname and req.newfid is req.fid:
        return Rwalk(())
    qids, nf = await slot.file.walk(m.wname)
    if nf is not None and len(qids) == len(m.wname):
        if req.newfid is req.fid:
            old, slot.file, slot.dirents = slot.file, nf, []
            await old.clunk()
        else:
            srv.bind(req.newfid, nf)
    return Rwalk(tuple(qids))


async def sopen(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Topen)
    file = slotof(req.fid).file
    await file.open(m.mode)
    return Ropen(file.qid, srv.iounit)


async def screate(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Tcreate)
    slot = slotof(req.fid)
    nf = await slot.file.create(m.name, m.perm, m.mode)
    old, slot.file = slot.file, nf
    await old.clunk()
    return Rcreate(nf.qid, srv.iounit)


async def sread(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Tread) and req.fid is not None
    slot: Slot = req.fid.aux  # slotof() without the call: this is the hot path
    q = req.fid.qid
    if not (q is not None and q.type & QTDIR):
        return Rread(await slot.file.read(m.offset, m.count))
    if m.offset == 0:  # ServerConn reset dirindex; take a fresh snapshot
        slot.dirents = [encode_dir(d) for d in await slot.file.readdir()]
    i, n, parts = req.fid.dirindex, 0, []
    for ent in slot.dirents[i:]:
        if n + len(ent) > m.count:
            break
        parts.append(ent)
        n += len(ent)
    if not parts and i < len(slot.dirents):
        raise Error(Ebadcount)  # not even one entry fits
    req.fid.dirindex = i + len(parts)
    return Rread(b"".join(parts))


async def swrite(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Twrite)
    return Rwrite(await slotof(req.fid).file.write(m.offset, m.data))


async def sclunk(srv: Srv, req: Req) -> RMessage:
    await srv.unbind(req.fid).clunk()
    return Rclunk()


async def sremove(srv: Srv, req: Req) -> RMessage:
    file = srv.unbind(req.fid)
    try:
        await file.remove()
    finally:
        await file.clunk()
    return Rremove()


async def sstat(srv: Srv, req: Req) -> RMessage:
    return Rstat(await slotof(req.fid).file.stat())


async def swstat(srv: Srv, req: Req) -> RMessage:
    m = req.msg
    assert isinstance(m, Twstat)
    await slotof(req.fid).file.wstat(m.stat)
    return Rwstat()


DISPATCH: dict[type, Handler] = {
    Tauth: sauth, Tattach: sattach, Twalk: swalk, Topen: sopen, Tcreate: screate,
    Tread: sread, Twrite: swrite, Tclunk: sclunk, Tremove: sremove, Tstat: sstat,
    Twstat: swstat,
}
