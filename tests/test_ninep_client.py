"""ClientConn rules that the Session relies on: tag holding, flushed clunks, dialects."""

from __future__ import annotations

import pytest

from lp49fs import ninep as P

QD = P.Qid(P.QTDIR, 0, 2)


def versioned(asked: str = P.VERSION9P, answer: str = P.VERSION9P) -> P.ClientConn:
    c = P.ClientConn(8216)
    c.send(P.Tversion(8216, asked))
    c.receive_frame(P.encode(P.NOTAG, P.Rversion(8216, answer)))
    return c


def test_a_flushed_tag_stays_held_after_its_reply_until_the_rflush() -> None:
    c = versioned()
    oldtag, _ = c.send(P.Tstat(1))
    ftag, _ = c.send(P.Tflush(oldtag))
    c.receive_frame(P.encode(oldtag, P.Rerror("late")))  # the old reply beats the Rflush
    assert oldtag not in c.pending
    tags = {c.send(P.Tstat(1))[0] for _ in range(3)}
    assert oldtag not in tags  # flush(5): not reusable before the Rflush
    c.receive_frame(P.encode(ftag, P.Rflush()))
    assert oldtag in {c.send(P.Tstat(1))[0] for _ in range(P.NOTAG - len(c.pending))}


def test_a_held_tag_is_never_allocated_until_released() -> None:
    c = versioned()
    held = c.hold_tag()
    assert all(c.send(P.Tstat(1))[0] != held for _ in range(200))
    c.release_tag(held)
    assert held in {c.send(P.Tstat(1))[0] for _ in range(P.NOTAG - len(c.pending))}


def test_a_flushed_clunk_that_got_no_reply_leaves_the_fid_live() -> None:
    c = versioned()
    fid = c.alloc_fid()
    c.send(P.Tattach(fid, P.NOFID, "u", ""))
    c.receive_frame(P.encode(0, P.Rattach(QD)))
    assert fid in c.fids
    ctag, _ = c.send(P.Tclunk(fid))
    ftag, _ = c.send(P.Tflush(ctag))
    c.receive_frame(P.encode(ftag, P.Rflush()))
    assert fid in c.fids  # flush(5): the clunk never happened


def test_a_reply_of_the_wrong_type_is_a_protocol_error() -> None:
    c = versioned()
    tag, _ = c.send(P.Tstat(1))
    with pytest.raises(P.ProtocolError, match="does not answer Tstat"):
        c.receive_frame(P.encode(tag, P.Rclunk()))


@pytest.mark.parametrize(("answer", "version"), [
    (P.VERSIONLP49, P.VERSIONLP49),  # an lp49fs server
    (P.VERSION9P, P.VERSION9P),  # plan9port, python-9p: an earlier version (version(5))
    ("unknown", None),  # a strict server: the Session asks again for 9P2000
    ("9P2000.L", None),  # not asked for: no session
])
def test_the_lp49_dialect_falls_back_to_9p2000(answer: str, version: str | None) -> None:
    c = versioned(P.VERSIONLP49, answer)
    assert c.version == version


def test_send_parts_keeps_twrite_data_unjoined() -> None:
    c = versioned()
    data = b"x" * 5000
    _, parts = c.send_parts(P.Twrite(1, 0, data))
    assert len(parts) == 2 and parts[1] == data
    with pytest.raises(ValueError, match="exceeds msize"):
        c.send_parts(P.Twrite(1, 0, b"x" * 8200))
