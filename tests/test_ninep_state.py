"""ServerConn and ClientConn rules (intro(5), flush(5) ...), one test per rule, over NinepPair."""

from __future__ import annotations

import pytest
from fakes import ROOTQID, NinepPair

from lp49fs import errors as E
from lp49fs import ninep as P

QD = P.Qid(P.QTDIR, 0, 2)
QF = P.Qid(P.QTFILE, 0, 3)


def walked(p: NinepPair, root: int, qids: tuple[P.Qid, ...] = (QD, QF)) -> int:
    nf = p.client.alloc_fid()
    names = tuple(f"n{i}" for i in range(len(qids)))
    assert p.rpc(P.Twalk(root, nf, names), lambda r: P.Rwalk(qids)) == P.Rwalk(qids)
    return nf


def opened(p: NinepPair, root: int, mode: int = P.ORDWR, qid: P.Qid = QF) -> int:
    fid = walked(p, root, (qid,))
    assert p.rpc(P.Topen(fid, mode), lambda r: P.Ropen(qid, 0)) == P.Ropen(qid, 0)
    return fid


def refused(p: NinepPair, msg: P.TMessage) -> str:
    """Send ``msg``; the server must answer it itself with an Rerror; return the ename."""
    r = p.rpc(msg)
    assert isinstance(r, P.Rerror), r
    return r.ename


def test_version_first() -> None:
    p = NinepPair()
    p.server.receive_data(P.encode(1, P.Tattach(0, P.NOFID, "u", "")))
    ev = p.server.next_event()
    assert isinstance(ev, P.Answer) and ev.msg == P.Rerror(E.Ebotch)
    with pytest.raises(ValueError):
        p.client.send(P.Tclunk(0))  # the client refuses too


def test_version_needs_notag() -> None:
    s = P.ServerConn()
    ev = s.receive_frame(P.encode(0, P.Tversion(8192, "9P2000")))
    assert isinstance(ev, P.Answer) and ev.msg == P.Rerror(E.Ebotch) and s.version is None


@pytest.mark.parametrize(
    ("msize", "version", "reply"),
    [
        (8192, "9P2000", P.Rversion(8192, "9P2000")),
        (1 << 24, "9P2000", P.Rversion(65536, "9P2000")),  # clamped to the server's max
        (8192, "9P2000.u", P.Rversion(8192, "9P2000")),
        (8192, "9P2000.L", P.Rversion(8192, "9P2000")),
        (8192, "9P3000", P.Rversion(8192, "9P2000")),
        (8192, "9P1999", P.Rversion(8192, "unknown")),
        (8192, "Styx", P.Rversion(8192, "unknown")),
        (8192, "", P.Rversion(8192, "unknown")),
        (255, "9P2000", P.Rversion(255, "unknown")),  # Plan 9's floor
    ],
)
def test_version_negotiation(msize: int, version: str, reply: P.Rversion) -> None:
    s = P.ServerConn(max_msize=65536)
    ev = s.receive_frame(P.encode(P.NOTAG, P.Tversion(msize, version)))
    assert isinstance(ev, P.Answer) and ev.msg == reply and ev.tag == P.NOTAG
    assert s.version == (None if reply.version == "unknown" else "9P2000")
    assert s.msize == (reply.msize if s.version else 65536)


def test_client_takes_the_servers_msize() -> None:
    p = NinepPair(msize=65536, max_msize=8216)
    p.connect()
    assert p.client.msize == p.server.msize == 8216


def test_new_version_resets_fids_and_aborts_pending() -> None:
    p = NinepPair()
    root = p.connect()
    _, req = p.t(P.Tstat(root))
    assert isinstance(req, P.Req)
    _, ev = p.t(P.Tversion(8216, "9P2000"))
    assert isinstance(ev, P.Answer) and ev.aborted == (req,) and req.aborted
    assert p.server.fids == {} and p.server.pending == {}
    assert p.server.respond(req, P.Rstat(P.Dir())) == b""  # its answer is never sent
    p.deliver(ev.data)
    assert p.client.fids == set() and p.client.pending == {}
    assert refused(p, P.Tstat(root)) == E.Eunknownfid


def test_duplicate_tag() -> None:
    p = NinepPair()
    root = p.connect()
    tag, req = p.t(P.Tstat(root))
    p.server.receive_data(P.encode(tag, P.Tstat(root)))  # a buggy client reuses the tag
    ev = p.server.next_event()
    assert isinstance(ev, P.Answer) and ev.msg == P.Rerror(E.Eduptag)
    assert p.server.pending[tag] is req


def test_unknown_fid_for_every_fid_operation() -> None:
    p = NinepPair()
    p.connect()
    for msg in (P.Twalk(9, 10, ()), P.Topen(9, 0), P.Tcreate(9, "x", 0o644, 0),
                P.Tread(9, 0, 1), P.Twrite(9, 0, b"x"), P.Tclunk(9), P.Tremove(9),
                P.Tstat(9), P.Twstat(9, P.Dir.nulldir())):
        assert refused(p, msg) == E.Eunknownfid, msg
    assert refused(p, P.Tattach(3, 9, "u", "")) == E.Eunknownfid  # unknown afid


def test_duplicate_fid_on_attach_auth_and_walk() -> None:
    p = NinepPair()
    root = p.connect()
    assert refused(p, P.Tattach(root, P.NOFID, "u", "")) == E.Edupfid
    assert refused(p, P.Tauth(root, "u", "")) == E.Edupfid
    other = walked(p, root)
    assert refused(p, P.Twalk(root, other, ("a",))) == E.Edupfid
    assert p.rpc(P.Twalk(root, root, ()), lambda r: P.Rwalk(())) == P.Rwalk(())  # newfid == fid


def test_fid_being_created_is_neither_usable_nor_allocatable() -> None:
    p = NinepPair()
    root = p.connect()
    _, req = p.t(P.Twalk(root, 7, ("a",)))
    assert isinstance(req, P.Req) and req.newfid is not None
    assert p.server.fids[7].state is P.UNUSED
    assert refused(p, P.Tstat(7)) == E.Eunknownfid
    assert refused(p, P.Tattach(7, P.NOFID, "u", "")) == E.Edupfid
    p.answer(req, P.Rwalk((QF,)))
    f7 = p.server.fids[7]  # a fresh name: mypy kept the narrowing to UNUSED above
    assert f7.state is P.WALKED and f7.qid == QF


def test_walk_rules() -> None:
    p = NinepPair()
    root = p.connect()
    with pytest.raises(ValueError):
        p.client.send(P.Twalk(root, 5, tuple("abcdefghijklmnopq")))  # 17 names
    ev = p.server.receive_frame(P.encode(50, P.Twalk(root, 5, tuple("abcdefghijklmnopq"))))
    assert isinstance(ev, P.Answer) and ev.msg == P.Rerror(E.Ebotch)
    f = walked(p, root, (QF,))  # a plain file
    assert refused(p, P.Twalk(f, 6, ("x",))) == E.Enotdir9p
    assert p.rpc(P.Twalk(f, 6, ()), lambda r: P.Rwalk(())) == P.Rwalk(())  # cloning is fine
    o = opened(p, root)
    assert refused(p, P.Twalk(o, 8, ())) == E.Ecloneopen


def test_partial_walk_creates_nothing_and_first_failure_is_an_error() -> None:
    p = NinepPair()
    root = p.connect()
    nf = p.client.alloc_fid()
    r = p.rpc(P.Twalk(root, nf, ("a", "b")), lambda req: P.Rwalk((QD,)))
    assert r == P.Rwalk((QD,))
    assert nf not in p.server.fids and nf not in p.client.fids
    r = p.rpc(P.Twalk(root, nf, ("a",)), lambda req: P.Rwalk(()))
    assert r == P.Rerror(E.Enotfound)
    r = p.rpc(P.Twalk(root, nf, ("a",)), lambda req: E.Error(E.Enotfound))
    assert r == P.Rerror(E.Enotfound) and nf not in p.server.fids
    # a full walk with newfid == fid moves the fid itself
    p.rpc(P.Twalk(root, root, ("a",)), lambda req: P.Rwalk((QD,)))
    assert p.server.fids[root].qid == QD


def test_open_and_create_rules() -> None:
    p = NinepPair()
    root = p.connect()
    d = walked(p, root, (QD,))
    assert refused(p, P.Topen(d, P.OWRITE)) == E.Eisdir9p
    assert refused(p, P.Topen(d, P.OREAD | P.OTRUNC)) == E.Eisdir9p
    f = walked(p, root, (QF,))
    assert refused(p, P.Tcreate(f, "x", 0o644, P.OREAD)) == E.Ecreatenondir
    for bad in ("", ".", "..", "a/b"):
        assert refused(p, P.Tcreate(d, bad, 0o644, P.OREAD)) == E.Ecreate
    o = opened(p, root)
    assert refused(p, P.Topen(o, P.OREAD)) == E.Ebotch
    assert refused(p, P.Tcreate(o, "x", 0o644, P.OREAD)) == E.Ebotch
    q = P.Qid(0, 0, 9)
    assert p.rpc(P.Tcreate(d, "x", 0o644, P.OWRITE), lambda r: P.Rcreate(q, 0)) == P.Rcreate(q, 0)
    fd = p.server.fids[d]
    assert fd.state is P.OPEN and fd.qid == q and fd.omode == P.OWRITE  # fid is the new file


def test_read_write_need_the_right_open_mode() -> None:
    p = NinepPair()
    root = p.connect()
    w = walked(p, root, (QF,))
    assert refused(p, P.Tread(w, 0, 1)) == E.Ebotch  # not open
    assert refused(p, P.Twrite(w, 0, b"x")) == E.Ebotch
    ro = opened(p, root, P.OREAD)
    assert refused(p, P.Twrite(ro, 0, b"x")) == E.Ebotch
    wo = opened(p, root, P.OWRITE)
    assert refused(p, P.Tread(wo, 0, 1)) == E.Ebotch
    assert p.rpc(P.Twrite(wo, 0, b"xy"), lambda r: P.Rwrite(2)) == P.Rwrite(2)
    ex = opened(p, root, P.OEXEC)
    assert p.rpc(P.Tread(ex, 0, 1), lambda r: P.Rread(b"x")) == P.Rread(b"x")


def test_read_count_is_clamped_and_never_exceeded() -> None:
    p = NinepPair()
    root = p.connect()
    f = opened(p, root, P.OREAD)
    _, req = p.t(P.Tread(f, 0, 1 << 20))
    assert isinstance(req, P.Req) and isinstance(req.msg, P.Tread)
    assert req.msg.count == p.server.msize - P.IOHDRSZ
    with pytest.raises(ValueError):
        p.server.respond(req, P.Rread(b"x" * (req.msg.count + 1)))  # never truncate: error


def test_directory_read_offsets() -> None:
    p = NinepPair()
    root = p.connect()
    d = opened(p, root, P.OREAD, QD)
    assert p.rpc(P.Tread(d, 0, 100), lambda r: P.Rread(b"e" * 60)) == P.Rread(b"e" * 60)
    assert refused(p, P.Tread(d, 30, 100)) == E.Ebadoffset
    assert p.rpc(P.Tread(d, 60, 100), lambda r: P.Rread(b"")) == P.Rread(b"")
    assert p.rpc(P.Tread(d, 0, 100), lambda r: P.Rread(b"e" * 10)) == P.Rread(b"e" * 10)
    assert refused(p, P.Tread(d, 60, 100)) == E.Ebadoffset  # offset 0 restarted the listing


def test_frame_longer_than_msize_is_a_protocol_error() -> None:
    p = NinepPair(msize=8216, max_msize=8216)
    root = p.connect()
    f = opened(p, root, P.OWRITE)
    with pytest.raises(ValueError):
        p.client.send(P.Twrite(f, 0, b"x" * 8200))  # the client never sends it
    p.server.receive_data(P.encode(77, P.Twrite(f, 0, b"x" * 8200)))
    with pytest.raises(P.ProtocolError):
        p.server.next_event()


def test_clunk_and_remove_free_the_fid_even_on_error() -> None:
    p = NinepPair()
    root = p.connect()
    f = walked(p, root)
    r = p.rpc(P.Tremove(f), lambda req: E.Error(E.Eperm))
    assert r == P.Rerror(E.Eperm)
    assert f not in p.server.fids and f not in p.client.fids
    assert refused(p, P.Tclunk(f)) == E.Eunknownfid  # clunk after a failed remove
    g = walked(p, root)
    assert p.rpc(P.Tclunk(g), lambda req: E.Error(E.Eio)) == P.Rerror(E.Eio)
    assert g not in p.server.fids and g not in p.client.fids


def test_flush_of_unknown_tag_is_answered_at_once() -> None:
    p = NinepPair()
    p.connect()
    assert p.rpc(P.Tflush(1234)) == P.Rflush()


def test_flush_waits_for_the_old_answer_and_drops_an_error() -> None:
    p = NinepPair()
    root = p.connect()
    f = opened(p, root, P.OREAD)
    oldtag, req = p.t(P.Tread(f, 0, 10))
    assert isinstance(req, P.Req)
    ftag, ev = p.t(P.Tflush(oldtag))
    assert isinstance(ev, P.Flush) and ev.oldreq is req and ev.tag == ftag
    out = p.answer(req, E.Error(E.Eintr))  # the backend was cancelled
    assert out == [(ftag, P.Rflush())]  # Rerror dropped, Rflush sent after it
    assert p.client.pending == {} and p.server.pending == {}


def test_flushed_walk_that_succeeded_is_honoured_by_both_sides() -> None:
    p = NinepPair()
    root = p.connect()
    nf = p.client.alloc_fid()
    oldtag, req = p.t(P.Twalk(root, nf, ("a",)))
    ftag, ev = p.t(P.Tflush(oldtag))
    assert isinstance(req, P.Req) and isinstance(ev, P.Flush)
    out = p.answer(req, P.Rwalk((QD,)))
    assert out == [(oldtag, P.Rwalk((QD,))), (ftag, P.Rflush())]
    assert nf in p.server.fids and nf in p.client.fids


def test_flush_without_the_old_reply_releases_a_reserved_fid_on_the_client() -> None:
    c = NinepPair().client
    c.send(P.Tversion(8216, "9P2000"))
    c.receive_frame(P.encode(P.NOTAG, P.Rversion(8216, "9P2000")))
    nf = c.alloc_fid()
    oldtag, _ = c.send(P.Twalk(nf + 100, nf, ("a",)))
    ftag, _ = c.send(P.Tflush(oldtag))
    ftag2, _ = c.send(P.Tflush(oldtag))  # several flushes: the last one covers the rest
    c.receive_frame(P.encode(ftag, P.Rflush()))
    assert oldtag in c.pending  # not reusable until the last Rflush
    c.receive_frame(P.encode(ftag2, P.Rflush()))
    assert oldtag not in c.pending and nf not in c.fids and nf not in c._reserved
    with pytest.raises(P.ProtocolError):
        c.receive_frame(P.encode(oldtag, P.Rwalk((QD,))))  # too late: the tag is unknown


def test_several_flushes_are_answered_in_order() -> None:
    p = NinepPair()
    root = p.connect()
    oldtag, req = p.t(P.Tstat(root))
    f1, e1 = p.t(P.Tflush(oldtag))
    f2, e2 = p.t(P.Tflush(oldtag))
    assert isinstance(req, P.Req) and isinstance(e1, P.Flush) and isinstance(e2, P.Flush)
    out = p.answer(req, E.Error(E.Eintr))
    assert out == [(f1, P.Rflush()), (f2, P.Rflush())]


def test_client_tags_never_notag_and_unknown_replies_are_protocol_errors() -> None:
    p = NinepPair()
    root = p.connect()
    p.client._nexttag = P.NOTAG - 1
    t1, _ = p.client.send(P.Tstat(root))
    t2, _ = p.client.send(P.Tstat(root))
    assert (t1, t2) == (P.NOTAG - 1, 0)
    with pytest.raises(P.ProtocolError):
        p.client.receive_frame(P.encode(999, P.Rclunk()))  # tag never sent
    with pytest.raises(P.ProtocolError):
        p.client.receive_frame(P.encode(t1, P.Rclunk()))  # wrong reply type
    with pytest.raises(P.ProtocolError):
        p.client.receive_frame(P.encode(t1, P.Tclunk(1)))  # a request
    with pytest.raises(P.ProtocolError):
        p.server.receive_frame(P.encode(5, P.Rclunk()))  # the server gets a reply


def test_server_refuses_a_backend_reply_of_the_wrong_type() -> None:
    p = NinepPair()
    root = p.connect()
    _, req = p.t(P.Tstat(root))
    assert isinstance(req, P.Req)
    with pytest.raises(ValueError):
        p.server.respond(req, P.Rclunk())
    assert p.answer(req, P.Rstat(P.Dir(qid=ROOTQID))) == [(req.tag, P.Rstat(P.Dir(qid=ROOTQID)))]


def test_fid_table_matches_transitions() -> None:
    assert P.FID_TRANSITIONS[(P.WALKED, P.Topen)] is P.OPEN
    assert P.FID_TRANSITIONS[(P.UNUSED, P.Tattach)] is P.WALKED
    assert (P.OPEN, P.Topen) not in P.FID_TRANSITIONS
    p = NinepPair()
    root = p.connect()
    f = opened(p, root, P.ORDWR)
    fid = p.server.fids[f]
    assert (fid.state, fid.omode, fid.uid) == (P.OPEN, P.ORDWR, "glenda")


def test_auth_fid_is_open_for_reading_and_writing() -> None:
    p = NinepPair()
    p.connect()
    af = p.client.alloc_fid()
    aq = P.Qid(P.QTAUTH, 0, 99)
    assert p.rpc(P.Tauth(af, "glenda", ""), lambda r: P.Rauth(aq)) == P.Rauth(aq)
    assert p.server.fids[af].state is P.OPEN
    assert p.rpc(P.Twrite(af, 0, b"p9any"), lambda r: P.Rwrite(5)) == P.Rwrite(5)
    nf = p.client.alloc_fid()
    _, req = p.t(P.Tattach(nf, af, "glenda", ""))
    assert isinstance(req, P.Req) and req.afid is p.server.fids[af]
