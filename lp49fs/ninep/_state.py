"""ServerConn: the version, tag and fid rules of 9P2000, enforced before any backend runs.

A server adapter feeds bytes in and gets events out (h11 style)::

    conn = ServerConn(max_msize=8216)
    conn.receive_data(data)            # or conn.receive_frame(frame)
    ev = conn.next_event()             # NEED_DATA | Req | Flush | Answer
    out = conn.respond(req, reply)     # reply: an R-message or lp49fs.errors.Error

The zero-copy forms of the same: ``n = link.recv_into(conn.recv_buffer())`` then
``conn.received(n)`` receive straight into the connection's Framer buffer (``next_event``
decodes each frame from a view of it, so only Twrite data is copied out), and
``conn.respond_parts(req, reply)`` gives the reply as buffers to send back to back (an
Rread's header and its data, never joined; ``respond`` is their join).

* ``Req``: a valid request for the backend, with the ``Fid`` objects it names.
* ``Flush``: cancel ``oldreq``; the Rflush bytes come out of ``respond(oldreq, ...)``.
* ``Answer``: the connection answered by itself (Rversion, Rflush, or Rerror for a broken
  rule); send ``data``.  ``aborted`` lists requests a new Tversion abandoned: cancel them.

Fid states are UNUSED -> WALKED -> OPEN (``FID_TRANSITIONS``).  A fid number being created by
a pending Tauth/Tattach/Twalk is held in the table as UNUSED, so it is neither usable nor
allocatable until the reply decides.

Rule 1. Version first: before a successful Rversion every other T-message gets
        Rerror "9P protocol botch"; Tversion must carry NOTAG (else the same Rerror).
Rule 2. Tversion: msize = min(client's, max_msize); below 256, or a version string not
        "9P<n>" with n >= 2000, the answer is Rversion "unknown" (never Rerror) and no
        session exists.  "9P2000.lp49" is answered "9P2000.lp49" and turns on the
        ``_pipeline`` rule (requests on one fid take effect in the order sent); others
        ("9P2000.u" ...) get "9P2000".  Any Tversion ends the old session: fids and tags
        are forgotten and pending requests are ``aborted``.
Rule 3. Every other tag must be new (Rerror "duplicate tag") and not NOTAG.
Rule 4. A fid used must exist (Rerror "unknown fid"); a fid created (Tauth afid, Tattach
        fid, Twalk newfid != fid) must not (Rerror "duplicate fid").
Rule 5. Twalk: at most MAXWELEM names; fid not open ("cannot clone open fid"); names only
        from a directory ("walk in non-directory").  Only a full walk creates newfid or
        moves fid; a walk whose first name fails is an Rerror ("file not found").
Rule 6. Topen/Tcreate on an open fid: Rerror "9P protocol botch".  A directory opens
        only for reading ("is a directory"); Tcreate needs a directory ("create in
        non-directory") and a name other than "", ".", ".." or one containing "/".
Rule 7. Tread/Twrite need a fid open for that direction (else "9P protocol botch").
        Tread count is clamped to msize-IOHDRSZ; directory reads start at offset 0 or at
        the end of the previous read ("bad offset").  A frame longer than msize (so any
        Twrite too big) is a ProtocolError.
Rule 8. Tclunk and Tremove free the fid at once, whatever the reply says.
Rule 9. Tflush of an unknown or finished tag is answered Rflush at once.  Otherwise the
        Rflush (one per Tflush, in order) is sent right after the old request's answer.
        A flushed request that fails has its Rerror dropped; one that succeeded is sent
        (its effects, e.g. a new fid, already happened and the client honours it).
Rule 10. A reply that does not fit the request, an Rread longer than the count asked, or
        an Rwalk with more qids than names is a backend bug: ValueError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lp49fs import errors as E

from . import _constants as C
from ._errors import ProtocolError
from ._fid import (
    FID_REQUIRES,
    FID_TRANSITIONS,
    OPEN,
    UNUSED,
    Answer,
    Fid,
    Flush,
    Req,
)
from ._framing import NEED_DATA, Framer, NeedData
from ._messages import (
    Message,
    Rattach,
    Rauth,
    Rcreate,
    Rerror,
    Rflush,
    RMessage,
    Ropen,
    Rread,
    Rversion,
    Rwalk,
    Rwrite,
    Tattach,
    Tauth,
    Tclunk,
    Tcreate,
    Tflush,
    TMessage,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Tversion,
    Twalk,
    Twrite,
    Twstat,
    is_reply_to,
)
from ._pipeline import Pipeline
from ._wire import decode, encode, encode_parts

ServerEvent = Req | Flush | Answer
_Handler = Callable[["ServerConn", int, Any], "Req | str"]
_READABLE = (C.OREAD, C.ORDWR, C.OEXEC)
_WRITABLE = (C.OWRITE, C.ORDWR)


class ServerConn:
    """The server side of one 9P connection (see the module rules)."""

    def __init__(self, max_msize: int = C.DEFAULT_MSIZE) -> None:
        self.max_msize = min(max_msize, C.MAXMSIZE)  # largest msize this server allows
        self.msize = self.max_msize  # negotiated by Tversion
        self.version: str | None = None  # "9P2000" once a session exists
        self.fids: dict[int, Fid] = {}  # fid number -> Fid (UNUSED = being created)
        self.pending: dict[int, Req] = {}  # tag -> request the backend is working on
        self._flushing: dict[int, Req] = {}  # Tflush tag -> the request it waits for
        self._pipe: Pipeline | None = None  # per-fid order, for 9P2000.lp49 (Rule 2)
        self._framer = Framer(self.max_msize)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes from the client; take the messages out with next_event()."""
        self._framer.feed(data)

    def recv_buffer(self) -> memoryview:
        """Free space of the Framer to receive into, valid until ``received`` (Framer Rule 3)."""
        return self._framer.recv_buffer()

    def received(self, n: int) -> None:
        """``n`` bytes were written at the start of the last ``recv_buffer()``."""
        self._framer.received(n)

    def next_event(self) -> ServerEvent | NeedData:
        """The next event (held-back requests set free first), or NEED_DATA; ProtocolError
        if malformed."""
        while True:
            ev = self.next_ready()
            if ev is not NEED_DATA:
                return ev
            frame = self._framer.next_view()
            if frame is NEED_DATA:
                return NEED_DATA
            got = self.receive_frame(frame)  # decoded now: the view dies at the next receive
            if got is not None:
                return got

    def next_ready(self) -> ServerEvent | NeedData:
        """A held-back request that the answers so far set free (9P2000.lp49), or NEED_DATA."""
        pipe = self._pipe
        if pipe is None:
            return NEED_DATA
        held = pipe.next_ready()
        if held is None:
            return NEED_DATA
        tag, msg = held
        return self._admit(tag, msg, _RECEIVE[type(msg)])

    def receive_frame(self, frame: bytes | memoryview) -> ServerEvent | None:
        """Validate one whole frame and turn it into an event."""
        if len(frame) > self.msize:
            raise ProtocolError(f"frame of {len(frame)} bytes exceeds msize {self.msize}")
        tag, msg = decode(frame)
        return self.receive_message(tag, msg)

    def receive_message(self, tag: int, msg: Message) -> ServerEvent | None:
        """As receive_frame, for a message already decoded; None if it is held back until
        an earlier request on its fid is answered (9P2000.lp49, Rule 2)."""
        handler = _RECEIVE.get(type(msg))  # every T-message but Tversion and Tflush
        if handler is None:
            if msg.TYPE & 1:
                raise ProtocolError(f"server received a reply: {type(msg).__name__}")
            if isinstance(msg, Tversion):
                return self._version(tag, msg)
        if self.version is None or tag == C.NOTAG:
            return self._error(tag, E.Ebotch)
        pipe = self._pipe
        if tag in self.pending or tag in self._flushing or (pipe and tag in pipe.parked):
            return self._error(tag, E.Eduptag)
        if handler is None:
            assert isinstance(msg, Tflush)
            return self._flush(tag, msg)
        if pipe is not None and not pipe.enter(tag, msg):
            return None
        return self._admit(tag, msg, handler)

    def _admit(self, tag: int, msg: Message, handler: _Handler) -> ServerEvent:
        result = handler(self, tag, msg)
        if isinstance(result, str):
            if self._pipe is not None:
                self._pipe.leave(tag, msg)
            return self._error(tag, result)
        self.pending[tag] = result
        return result

    def respond(self, req: Req, reply: RMessage | E.Error) -> bytes:
        """Bytes to send for the backend's answer to ``req`` (maybe followed by Rflushes)."""
        return b"".join(self.respond_parts(req, reply))

    def respond_parts(self, req: Req, reply: RMessage | E.Error) -> tuple[bytes, ...]:
        """``respond`` as buffers to send back to back, unjoined (``encode_parts``)."""
        if req.aborted:
            return ()
        if self.pending.get(req.tag) is not req:
            raise ValueError(f"tag {req.tag} is not pending")
        r: RMessage = reply.to_rerror() if isinstance(reply, E.Error) else reply
        if not is_reply_to(r, req.msg):
            raise ValueError(f"{type(r).__name__} does not answer {type(req.msg).__name__}")
        del self.pending[req.tag]
        r = self._settle(req, r)
        if self._pipe is not None:
            self._pipe.leave(req.tag, req.msg)
        if not req.flushes:
            return encode_parts(req.tag, r)
        out = () if isinstance(r, Rerror) else encode_parts(req.tag, r)
        for ftag in req.flushes:
            del self._flushing[ftag]
            out += (encode(ftag, _RFLUSH),)
        return out

    def _error(self, tag: int, ename: str) -> Answer:
        r = Rerror(ename)
        return Answer(tag, r, encode(tag, r))

    def _version(self, tag: int, m: Tversion) -> Answer:
        if tag != C.NOTAG:
            return self._error(tag, E.Ebotch)
        aborted = tuple(self.pending.values())
        for req in aborted:
            req.aborted = True
        self.pending.clear()
        self._flushing.clear()
        self.fids.clear()
        self.version = None
        self._pipe = None
        msize = min(m.msize, self.max_msize)
        base = m.version.split(".", 1)[0]
        num = base[2:]
        if (msize < C.MINMSIZE or not base.startswith("9P") or not num.isdigit()
                or int(num) < 2000):
            r = Rversion(msize, "unknown")
        else:
            self.version = C.VERSIONLP49 if m.version == C.VERSIONLP49 else C.VERSION9P
            r = Rversion(msize, self.version)
            if self.version == C.VERSIONLP49:
                self._pipe = Pipeline()
            self.msize = msize
            self._framer.max_size = msize
        return Answer(tag, r, encode(tag, r), aborted)

    def _flush(self, tag: int, m: Tflush) -> ServerEvent:
        old = self.pending.get(m.oldtag) or self._flushing.get(m.oldtag)
        if old is None and self._pipe is not None:
            self._pipe.unpark(m.oldtag)  # a held-back request never happened
        if old is None:
            return Answer(tag, _RFLUSH, encode(tag, _RFLUSH))
        old.flushes += (tag,)
        self._flushing[tag] = old
        return Flush(tag, old)

    def _use(self, fid: int, mtype: type[TMessage]) -> Fid | str:
        f = self.fids.get(fid)
        if f is None or f.state is UNUSED:
            return E.Eunknownfid
        states, ename = FID_REQUIRES[mtype]
        return f if f.state in states else ename

    def _new(self, fid: int) -> Fid | str:
        if fid in self.fids:
            return E.Edupfid
        f = self.fids[fid] = Fid(fid)
        return f

    def _auth(self, tag: int, m: Tauth) -> Req | str:
        af = self._new(m.afid)
        return af if isinstance(af, str) else Req(tag, m, fid=af)

    def _attach(self, tag: int, m: Tattach) -> Req | str:
        af = None
        if m.afid != C.NOFID:
            af = self.fids.get(m.afid)
            if af is None or af.state is UNUSED:
                return E.Eunknownfid
        f = self._new(m.fid)
        return f if isinstance(f, str) else Req(tag, m, fid=f, afid=af)

    def _walk(self, tag: int, m: Twalk) -> Req | str:
        f = self._use(m.fid, Twalk)
        if isinstance(f, str):
            return f
        if len(m.wname) > C.MAXWELEM:
            return E.Ebotch
        if m.wname and not (f.qid is not None and f.qid.type & C.QTDIR):
            return E.Enotdir9p
        nf = f if m.newfid == m.fid else self._new(m.newfid)
        return nf if isinstance(nf, str) else Req(tag, m, fid=f, newfid=nf)

    def _open(self, tag: int, m: Topen | Tcreate) -> Req | str:
        f = self._use(m.fid, type(m))
        if isinstance(f, str):
            return f
        isdir = f.qid is not None and f.qid.type & C.QTDIR
        if isinstance(m, Topen):
            if isdir and m.mode & ~C.ORCLOSE != C.OREAD:
                return E.Eisdir9p
        elif not isdir:
            return E.Ecreatenondir
        elif m.name in ("", ".", "..") or "/" in m.name:
            return E.Ecreate
        return Req(tag, m, fid=f)

    def _read(self, tag: int, m: Tread) -> Req | str:
        f = self.fids.get(m.fid)
        if f is None or f.state is not OPEN:  # the common case inline; _use names the error
            e = self._use(m.fid, Tread)
            assert isinstance(e, str)
            return e
        if f.omode & 3 not in _READABLE:
            return E.Ebotch
        q = f.qid
        if q is not None and q.type & C.QTDIR:
            if m.offset == 0:
                f.diroffset = f.dirindex = 0
            elif m.offset != f.diroffset:
                return E.Ebadoffset
        limit = self.msize - C.IOHDRSZ
        if m.count > limit:
            m = Tread(m.fid, m.offset, limit)
        return Req(tag, m, fid=f)

    def _write(self, tag: int, m: Twrite) -> Req | str:
        f = self._use(m.fid, Twrite)
        if isinstance(f, str):
            return f
        return Req(tag, m, fid=f) if f.omode & 3 in _WRITABLE else E.Ebotch

    def _fidop(self, tag: int, m: Tclunk | Tremove | Tstat | Twstat) -> Req | str:
        f = self._use(m.fid, type(m))
        if isinstance(f, str):
            return f
        if isinstance(m, Tclunk | Tremove):
            del self.fids[m.fid]  # Rule 8: gone whatever the backend answers
        return Req(tag, m, fid=f)

    def _settle(self, req: Req, r: RMessage) -> RMessage:
        """Apply a reply's effect on the fid table (lib9p's r* functions)."""
        m = req.msg
        if type(r) is Rread and req.fid is not None:  # the hot path: no fid state changes
            _check_read(req, req.fid, r)
            return r
        if isinstance(m, Twalk) and isinstance(r, Rwalk):
            if len(r.wqid) > len(m.wname):
                raise ValueError("Rwalk has more qids than Twalk names")
            if m.wname and not r.wqid:
                r = Rerror(E.Enotfound)
        f = req.newfid if isinstance(m, Twalk) else req.fid
        if f is None:
            return r
        partial = isinstance(m, Twalk) and isinstance(r, Rwalk) and len(r.wqid) < len(m.wname)
        if isinstance(r, Rerror) or partial:
            if f.state is UNUSED and self.fids.get(f.fid) is f:
                del self.fids[f.fid]  # a fid being created was not
            return r
        if isinstance(r, Rwrite) and isinstance(m, Twrite) and r.count > len(m.data):
            raise ValueError("Rwrite count exceeds the data written")
        after = FID_TRANSITIONS.get((f.state, type(m)))
        if after is None:
            return r
        f.state = after
        if isinstance(r, Rattach | Rauth):
            f.qid = r.qid if isinstance(r, Rattach) else r.aqid
            f.uid = m.uname if isinstance(m, Tattach | Tauth) else ""
            f.omode = C.ORDWR if isinstance(r, Rauth) else -1
        elif isinstance(r, Rwalk) and req.fid is not None:
            f.qid = r.wqid[-1] if r.wqid else req.fid.qid
            f.uid = req.fid.uid
        elif isinstance(r, Ropen | Rcreate) and isinstance(m, Topen | Tcreate):
            f.qid, f.omode, f.diroffset, f.dirindex = r.qid, m.mode, 0, 0
        return r


def _check_read(req: Req, f: Fid, r: Rread) -> None:
    assert isinstance(req.msg, Tread)
    if len(r.data) > req.msg.count:
        raise ValueError(f"Rread of {len(r.data)} bytes for count {req.msg.count}")
    if f.qid is not None and f.qid.type & C.QTDIR:
        f.diroffset = req.msg.offset + len(r.data)


_RFLUSH: Final = Rflush()
_RECEIVE: dict[type, _Handler] = {
    Tauth: ServerConn._auth, Tattach: ServerConn._attach, Twalk: ServerConn._walk,
    Topen: ServerConn._open, Tcreate: ServerConn._open, Tread: ServerConn._read,
    Twrite: ServerConn._write, Tclunk: ServerConn._fidop, Tremove: ServerConn._fidop,
    Tstat: ServerConn._fidop, Twstat: ServerConn._fidop,
}
