"""ServerConn's zero-copy pass-throughs: ``recv_buffer``/``received`` in (whatever the
chunking, a trailing partial frame kept, Twrite data copied out of the buffer) and
``respond_parts`` out (Rread data left unjoined; with flushes; after an abort)."""

from __future__ import annotations

import pytest
from fakes import ROOTQID, NinepPair
from test_ninep_state import QF, opened

from lp49fs import errors as E
from lp49fs import ninep as P


def _stream() -> bytes:
    """Tversion, Tattach, a big Twrite (fid 0 is not open: refused), a Tstat."""
    frames: list[tuple[int, P.TMessage]] = [
        (P.NOTAG, P.Tversion(65536, "9P2000")),
        (1, P.Tattach(0, P.NOFID, "u", "")),
        (2, P.Twrite(0, 0, bytes(range(256)) * 200)),  # 51200 B: most of a CHUNK
        (3, P.Tstat(0)),
    ]
    return b"".join(P.encode(t, m) for t, m in frames)


def _drain(s: P.ServerConn, got: list[P.ServerEvent]) -> None:
    while (ev := s.next_event()) is not P.NEED_DATA:
        got.append(ev)
        if isinstance(ev, P.Req) and isinstance(ev.msg, P.Tattach):
            s.respond(ev, P.Rattach(ROOTQID))  # so the Twrite and Tstat find fid 0


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])  # byte by byte ... all at once
def test_recv_buffer_whatever_the_chunking(chunk: int) -> None:
    data = _stream()
    s = P.ServerConn(max_msize=65536)
    got: list[P.ServerEvent] = []
    for i in range(0, len(data), chunk):
        part = data[i:i + chunk]
        buf = s.recv_buffer()
        assert len(buf) >= 1
        n = min(len(part), len(buf))
        buf[:n] = part[:n]
        s.received(n)
        _drain(s, got)
        while n < len(part):  # the buffer offered less than we had: ask again
            buf = s.recv_buffer()
            k = min(len(part) - n, len(buf))
            buf[:k] = part[n:n + k]
            s.received(k)
            n += k
            _drain(s, got)
    kinds = [(type(e).__name__, e.tag, type(e.oldreq if isinstance(e, P.Flush) else e.msg)
              .__name__) for e in got]
    assert kinds == [("Answer", P.NOTAG, "Rversion"), ("Req", 1, "Tattach"),
                     ("Answer", 2, "Rerror"), ("Req", 3, "Tstat")]
    w = got[2]
    assert isinstance(w, P.Answer) and w.msg == P.Rerror(E.Ebotch)  # fid 0 is not open
    stat = got[3]
    assert isinstance(stat, P.Req) and stat.fid is not None and stat.fid.qid == ROOTQID


def test_recv_buffer_keeps_a_trailing_partial_frame() -> None:
    whole = P.encode(1, P.Twrite(0, 0, b"x" * 3000))
    s = P.ServerConn(max_msize=65536)
    s.receive_data(P.encode(P.NOTAG, P.Tversion(65536, "9P2000")))
    assert isinstance(s.next_event(), P.Answer)
    buf = s.recv_buffer()
    buf[:len(whole) - 1] = whole[:-1]
    s.received(len(whole) - 1)
    assert s.next_event() is P.NEED_DATA
    buf = s.recv_buffer()
    buf[:1] = whole[-1:]
    s.received(1)
    ev = s.next_event()
    assert isinstance(ev, P.Answer) and ev.msg == P.Rerror(E.Eunknownfid)
    assert s.next_event() is P.NEED_DATA
    with pytest.raises(ValueError):
        s.received(len(s.recv_buffer()) + 1)  # more than the buffer offered


def test_twrite_data_outlives_the_receive_buffer() -> None:
    p = NinepPair(msize=65536, max_msize=65536)
    root = p.connect()
    fid = opened(p, root)
    _, data = p.client.send(P.Twrite(fid, 0, b"A" * 5000))
    buf = p.server.recv_buffer()
    buf[:len(data)] = data
    p.server.received(len(data))
    req = p.server.next_event()
    assert isinstance(req, P.Req) and isinstance(req.msg, P.Twrite)
    buf = p.server.recv_buffer()  # the next receive overwrites the frame's bytes
    buf[:len(data)] = b"B" * len(data)
    assert req.msg.data == b"A" * 5000 and isinstance(req.msg.data, bytes)


def test_respond_parts_leaves_rread_data_unjoined() -> None:
    p = NinepPair(msize=65536, max_msize=65536)
    root = p.connect()
    fid = opened(p, root)
    payload = bytes(range(256)) * 100
    tag, req = p.t(P.Tread(fid, 0, len(payload)))
    assert isinstance(req, P.Req)
    parts = p.server.respond_parts(req, P.Rread(payload))
    assert len(parts) == 2 and parts[1] is payload  # the data itself, not a copy
    assert p.deliver(b"".join(parts)) == [(tag, P.Rread(payload))]
    tag, req = p.t(P.Tstat(fid))  # any other reply is one whole frame
    assert isinstance(req, P.Req)
    parts = p.server.respond_parts(req, P.Rstat(P.Dir(qid=QF)))
    assert parts == (P.encode(tag, P.Rstat(P.Dir(qid=QF))),)


def test_respond_parts_with_flushes_and_when_aborted() -> None:
    p = NinepPair()
    root = p.connect()
    fid = opened(p, root)
    tag, req = p.t(P.Tread(fid, 0, 10))
    assert isinstance(req, P.Req)
    ftag, fl = p.t(P.Tflush(tag))
    assert isinstance(fl, P.Flush)
    parts = p.server.respond_parts(req, P.Rread(b"late data"))  # it succeeded: sent, then Rflush
    assert parts[-1] == P.encode(ftag, P.Rflush())
    assert p.deliver(b"".join(parts)) == [(tag, P.Rread(b"late data")), (ftag, P.Rflush())]
    tag, req = p.t(P.Tstat(root))
    assert isinstance(req, P.Req)
    p.t(P.Tversion(8216, "9P2000"))
    assert p.server.respond_parts(req, P.Rstat(P.Dir())) == ()
