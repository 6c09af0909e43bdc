"""9P2000.lp49 on the server side (ninep._pipeline): requests on one fid in the order sent."""

from __future__ import annotations

from fakes import NinepPair

from lp49fs import errors as E
from lp49fs import ninep as P

QF = P.Qid(P.QTFILE, 0, 3)


def pipelined() -> tuple[NinepPair, int]:
    p = NinepPair()
    root = p.connect(version=P.VERSIONLP49)
    assert p.client.version == p.server.version == P.VERSIONLP49
    return p, root


def send(p: NinepPair, *msgs: P.TMessage) -> list[int]:
    tags = []
    for m in msgs:
        tag, data = p.client.send(m)
        p.server.receive_data(data)
        tags.append(tag)
    return tags


def events(p: NinepPair) -> list[object]:
    out = []
    while (ev := p.server.next_event()) is not P.NEED_DATA:
        out.append(ev)
    return out


def test_plain_9p2000_refuses_a_request_on_a_fid_still_being_walked() -> None:
    p = NinepPair()
    root = p.connect()
    nf = p.client.alloc_fid()
    send(p, P.Twalk(root, nf, ("f",)), P.Topen(nf, P.OREAD))
    walk, refused = events(p)
    assert isinstance(walk, P.Req)
    assert isinstance(refused, P.Answer) and refused.msg == P.Rerror(E.Eunknownfid)


def test_walk_open_read_sent_at_once_are_carried_out_in_order() -> None:
    p, root = pipelined()
    nf = p.client.alloc_fid()
    other = p.client.alloc_fid()
    send(p, P.Twalk(root, nf, ("f",)), P.Topen(nf, P.OREAD), P.Tread(nf, 0, 16),
         P.Twalk(root, other, ()))
    walk, clone = events(p)  # the open and the read wait; another walk from root does not
    assert isinstance(walk, P.Req) and isinstance(walk.msg, P.Twalk) and walk.msg.newfid == nf
    assert isinstance(clone, P.Req) and clone.msg == P.Twalk(root, other, ())
    send(p, P.Tclunk(root))
    assert events(p) == []  # a clunk waits for every earlier request on its fid
    p.answer(clone, P.Rwalk(()))
    p.answer(walk, P.Rwalk((QF,)))
    clunk, op = events(p)
    assert isinstance(clunk, P.Req) and clunk.msg == P.Tclunk(root)
    assert isinstance(op, P.Req) and isinstance(op.msg, P.Topen)
    p.answer(op, P.Ropen(QF, 0))
    (rd,) = events(p)
    assert isinstance(rd, P.Req) and rd.msg == P.Tread(nf, 0, 16)
    assert p.answer(rd, P.Rread(b"hello"))[0][1] == P.Rread(b"hello")


def test_a_failed_walk_fails_the_requests_behind_it() -> None:
    p, root = pipelined()
    nf = p.client.alloc_fid()
    send(p, P.Twalk(root, nf, ("nope",)), P.Topen(nf, P.OREAD))
    (walk,) = events(p)
    assert isinstance(walk, P.Req)
    p.answer(walk, E.Error(E.Enonexist))
    (refused,) = events(p)
    assert isinstance(refused, P.Answer) and refused.msg == P.Rerror(E.Eunknownfid)
    assert not p.server._pipe.queues  # type: ignore[union-attr]


def test_a_held_back_request_that_is_flushed_never_happens() -> None:
    p, root = pipelined()
    nf = p.client.alloc_fid()
    _, otag = send(p, P.Twalk(root, nf, ("f",)), P.Topen(nf, P.OREAD))
    (walk,) = events(p)
    send(p, P.Tflush(otag))
    (flushed,) = events(p)
    assert isinstance(flushed, P.Answer) and flushed.msg == P.Rflush()
    p.answer(walk, P.Rwalk((QF,)))
    assert events(p) == []  # the open is gone
    assert p.server.fids[nf].state is not P.OPEN
