"""9P2000 codec: golden bytes, malformed frames, both codecs agreeing, round trips, Framer.

The golden table follows go-p9p: (description, tag, message, bytes), the bytes written as
byte groups in wire order with a comment naming each group (intro(5)).  Every
vector is encoded by both codecs, decoded whole, fed one byte at a time through the Framer,
and fed with trailing data.
"""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ninep_strategies import CLASSES, dirs, for_class, tagged

from lp49fs import ninep as P
from lp49fs.ninep import _codec, _fast
from lp49fs.ninep.trace import fmt, fmt_frame

QD = P.Qid(P.QTDIR, 0, 2)
QF = P.Qid(P.QTFILE, 1, 3)
STAT = P.Dir(0, 0, QF, 0o644, 1000000000, 1000000001, 5, "f", "glenda", "sys", "glenda")
WSTAT = P.Dir(
    0xFFFF, 0xFFFFFFFF, P.NULLQID, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 2**64 - 1, "g")


def h(*groups: str) -> bytes:
    return bytes.fromhex("".join(groups))


GOLDEN: list[tuple[str, int, P.Message, bytes]] = [
    ("Tversion 8192 9P2000 (version(5) example)", P.NOTAG, P.Tversion(8192, "9P2000"),
     h("13000000", "64", "ffff", "00200000", "0600", "395032303030")),
    #  size 19    type tag NOTAG  msize 8192  len 6   "9P2000"
    ("Rversion", P.NOTAG, P.Rversion(8192, "9P2000"),
     h("13000000", "65", "ffff", "00200000", "0600", "395032303030")),
    ("Tauth", 1, P.Tauth(5, "glenda", ""),
     h("15000000", "66", "0100", "05000000", "0600", "676c656e6461", "0000")),
    #  size 21    type tag 1   afid 5      uname "glenda"          aname ""
    ("Rauth", 1, P.Rauth(P.Qid(P.QTAUTH, 0, 1)),
     h("14000000", "67", "0100", "08", "00000000", "0100000000000000")),
    #                           qid: type QTAUTH, vers 0, path 1
    ("Tattach", 2, P.Tattach(0, P.NOFID, "glenda", "main"),
     h("1d000000", "68", "0200", "00000000", "ffffffff", "0600", "676c656e6461",
       "0400", "6d61696e")),
    #  size 29, fid 0, afid NOFID, uname "glenda", aname "main"
    ("Rattach", 2, P.Rattach(P.Qid(P.QTDIR, 3, 0x0102030405060708)),
     h("14000000", "69", "0200", "80", "03000000", "0807060504030201")),
    #                           qid: QTDIR, vers 3, path little-endian
    ("Rerror", 3, P.Rerror("file does not exist"),
     h("1c000000", "6b", "0300", "1300", "66696c6520646f6573206e6f74206578697374")),
    #  size 28             len 19  "file does not exist"
    ("Tflush", 4, P.Tflush(3), h("09000000", "6c", "0400", "0300")),  # oldtag 3
    ("Rflush", 4, P.Rflush(), h("07000000", "6d", "0400")),
    ("Twalk 2 names", 5, P.Twalk(0, 1, ("usr", "glenda")),
     h("1e000000", "6e", "0500", "00000000", "01000000", "0200", "0300", "757372",
       "0600", "676c656e6461")),
    #  size 30, fid 0, newfid 1, nwname 2, "usr", "glenda"
    ("Twalk clone", 5, P.Twalk(1, 1, ()),
     h("11000000", "6e", "0500", "01000000", "01000000", "0000")),  # nwname 0
    ("Rwalk 2 qids", 5, P.Rwalk((QD, QF)),
     h("23000000", "6f", "0500", "0200", "80", "00000000", "0200000000000000",
       "00", "01000000", "0300000000000000")),
    #  size 35, nwqid 2, qid QD, qid QF
    ("Rwalk empty", 5, P.Rwalk(()), h("09000000", "6f", "0500", "0000")),
    ("Topen", 6, P.Topen(1, P.OWRITE | P.OTRUNC),
     h("0c000000", "70", "0600", "01000000", "11")),  # fid 1, mode 0x11
    ("Ropen", 6, P.Ropen(QF, 8168),
     h("18000000", "71", "0600", "00", "01000000", "0300000000000000", "e81f0000")),
    #                           qid QF                                   iounit 8168
    ("Tcreate", 7, P.Tcreate(1, "x", P.DMDIR | 0o755, P.OREAD),
     h("13000000", "72", "0700", "01000000", "0100", "78", "ed010080", "00")),
    #  size 19, fid 1, name "x", perm DMDIR|0755, mode OREAD
    ("Rcreate", 7, P.Rcreate(P.Qid(P.QTDIR, 0, 4), 0),
     h("18000000", "73", "0700", "80", "00000000", "0400000000000000", "00000000")),
    ("Tread", 8, P.Tread(1, 1 << 32, 8168),
     h("17000000", "74", "0800", "01000000", "0000000001000000", "e81f0000")),
    #  size 23, fid 1, offset 2^32, count 8168
    ("Rread", 8, P.Rread(b"hello"),
     h("10000000", "75", "0800", "05000000", "68656c6c6f")),  # count 5, data
    ("Rread EOF", 8, P.Rread(b""), h("0b000000", "75", "0800", "00000000")),
    ("Twrite", 9, P.Twrite(1, 2, b"hi"),
     h("19000000", "76", "0900", "01000000", "0200000000000000", "02000000", "6869")),
    #  size 25, fid 1, offset 2, count 2, "hi"
    ("Rwrite", 9, P.Rwrite(2), h("0b000000", "77", "0900", "02000000")),
    ("Tclunk", 10, P.Tclunk(1), h("0b000000", "78", "0a00", "01000000")),
    ("Rclunk", 10, P.Rclunk(), h("07000000", "79", "0a00")),
    ("Tremove", 11, P.Tremove(2), h("0b000000", "7a", "0b00", "02000000")),
    ("Rremove", 11, P.Rremove(), h("07000000", "7b", "0b00")),
    ("Tstat", 12, P.Tstat(1), h("0b000000", "7c", "0c00", "01000000")),
    ("Rstat (double size prefix)", 12, P.Rstat(STAT),
     h("4a000000", "7d", "0c00", "4100", "3f00", "0000", "00000000",
       "00", "01000000", "0300000000000000", "a4010000", "00ca9a3b", "01ca9a3b",
       "0500000000000000", "0100", "66", "0600", "676c656e6461", "0300", "737973",
       "0600", "676c656e6461")),
    #  size 74, n 65, entry size 63, type, dev, qid QF, mode 0644, atime 1e9, mtime 1e9+1,
    #  length 5, name "f", uid "glenda", gid "sys", muid "glenda"
    ("Twstat rename only (double size prefix)", 13, P.Twstat(1, WSTAT),
     h("3f000000", "7e", "0d00", "01000000", "3200", "3000", "ffff", "ffffffff",
       "ff", "ffffffff", "ffffffffffffffff", "ffffffff", "ffffffff", "ffffffff",
       "ffffffffffffffff", "0100", "67", "0000", "0000", "0000")),
    #  size 63, fid 1, n 50, entry size 48, all don't-touch, name "g", uid gid muid ""
    ("Rwstat", 13, P.Rwstat(), h("07000000", "7f", "0d00")),
]
IDS = [g[0] for g in GOLDEN]


def test_golden_covers_every_message_type() -> None:
    assert {type(m) for _, _, m, _ in GOLDEN} == set(P.MESSAGE_CLASSES.values())


@pytest.mark.parametrize(("desc", "tag", "msg", "wire"), GOLDEN, ids=IDS)
def test_golden_encode(desc: str, tag: int, msg: P.Message, wire: bytes) -> None:
    assert P.encode(tag, msg) == wire
    assert _codec.build_message(tag, msg) == wire  # the construct spec agrees
    assert int.from_bytes(wire[:4], "little") == len(wire)


@pytest.mark.parametrize(("desc", "tag", "msg", "wire"), GOLDEN, ids=IDS)
def test_golden_decode_whole_bytewise_and_trailing(
    desc: str, tag: int, msg: P.Message, wire: bytes
) -> None:
    assert P.decode(wire) == (tag, msg)
    assert _codec.parse_message(wire) == (tag, msg)
    framer = P.Framer(P.MAXMSIZE)
    for i, b in enumerate(wire):
        assert framer.next_frame() is P.NEED_DATA, i
        framer.feed(bytes([b]))
    assert framer.next_frame() == wire
    assert framer.next_frame() is P.NEED_DATA
    framer.feed(wire + wire[:5])  # a whole frame with the start of the next one behind it
    assert framer.next_frame() == wire
    assert framer.next_frame() is P.NEED_DATA
    assert framer.buffered == 5
    with pytest.raises(P.ProtocolError):
        P.decode(wire + b"\0")  # trailing data inside decode's one frame


def test_version_example_is_19_bytes() -> None:
    assert len(P.encode(P.NOTAG, P.Tversion(8192, "9P2000"))) == 19


MALFORMED = [
    ("empty", b""),
    ("short header", h("0600000064ff")),
    ("size larger than frame", h("14000000", "78", "0100", "01000000")),
    ("size smaller than frame", h("0a000000", "78", "0100", "01000000")),
    ("Terror 106 is illegal", h("07000000", "6a", "0100")),
    ("unknown type 0", h("07000000", "00", "0100")),
    ("unknown type 200", h("07000000", "c8", "0100")),
    ("bad UTF-8", h("0a000000", "6b", "0100", "0100", "ff")),
    ("NUL in string", h("0a000000", "6b", "0100", "0100", "00")),
    ("NUL in walk name", h("14000000", "6e", "0100", "00000000", "01000000", "0100",
                           "0100", "00")),
    ("trailing byte in Tclunk", h("0c000000", "78", "0100", "01000000", "00")),
    ("trailing byte in Rflush", h("08000000", "6d", "0100", "00")),
    ("trailing byte in Tversion", h("14000000", "64", "ffff", "00200000", "0600",
                                    "395032303030", "00")),
    ("Rread count overruns", h("10000000", "75", "0100", "0a000000", "68656c6c6f")),
    ("Rread count short", h("10000000", "75", "0100", "04000000", "68656c6c6f")),
    ("Twrite count overruns", h("19000000", "76", "0900", "01000000", "0200000000000000",
                                "03000000", "6869")),
    ("Twalk nwname overruns", h("16000000", "6e", "0100", "00000000", "01000000", "0200",
                                "0300", "757372")),
    ("Twalk string overruns", h("14000000", "6e", "0100", "00000000", "01000000", "0100",
                                "0900", "75")),
    ("Rwalk nwqid overruns", h("16000000", "6f", "0100", "0200", "80", "00000000",
                               "0200000000000000")),
    ("string length overruns", h("0b000000", "6b", "0100", "0500", "6869")),
    ("Rstat n overruns", h("0b000000", "7d", "0100", "4100", "3f00")),
    ("Rstat entry size disagrees with n",
     P.encode(1, P.Rstat(STAT))[:9] + b"\x40\x00" + P.encode(1, P.Rstat(STAT))[11:]),
    ("Topen too short", h("0b000000", "70", "0100", "01000000")),
    ("Rclunk too long", h("08000000", "79", "0100", "00")),
]


@pytest.mark.parametrize(("desc", "frame"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_frames_are_protocol_errors(desc: str, frame: bytes) -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame)
    assert e.value.reason
    if len(frame) >= 7 and frame[4] in P.MESSAGE_CLASSES:
        with pytest.raises(P.ProtocolError):
            _codec.parse_message(frame)  # the spec refuses it too


def test_framer_refuses_impossible_sizes_and_stays_refused() -> None:
    for size in (0, 6, 8193):
        f = P.Framer(8192)
        f.feed(size.to_bytes(4, "little"))
        with pytest.raises(P.ProtocolError):
            f.next_frame()
        f.feed(b"\0" * 16)
        with pytest.raises(P.ProtocolError):
            f.next_frame()


@pytest.mark.parametrize(
    "msg",
    [P.Tclunk(2**32), P.Tread(-1, 0, 0), P.Tflush(2**16), P.Tversion(2**32, "9P2000"),
     P.Rerror("a\0b"), P.Twalk(0, 1, ("a\0",)), P.Rstat(P.Dir(name="x" * 70000))],
)
def test_encode_refuses_values_that_do_not_fit(msg: P.Message) -> None:
    with pytest.raises(ValueError):
        P.encode(0, msg)


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(TypeError):
        P.encode(0, P.Qid(0, 0, 0))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tagged)
def test_roundtrip_both_codecs_agree(tm: tuple[int, P.Message]) -> None:
    tag, msg = tm
    wire = P.encode(tag, msg)
    assert wire == _codec.build_message(tag, msg)
    assert P.decode(wire) == (tag, msg)
    assert _codec.parse_message(wire) == (tag, msg)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_roundtrip_every_class(cls: type, data: st.DataObject) -> None:
    tag = data.draw(st.integers(0, 0xFFFF))
    msg = data.draw(for_class(cls))
    assert P.decode(P.encode(tag, msg)) == (tag, msg)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([*sorted(P.MESSAGE_CLASSES), 0, 106, 255]))
def test_garbage_raises_only_protocol_error(body: bytes, mtype: int) -> None:
    for frame in (body, (len(body) + 7).to_bytes(4, "little") + bytes([mtype]) + b"\1\0" + body):
        try:
            P.decode(frame)
        except P.ProtocolError:
            pass
        f = P.Framer(128)
        f.feed(frame)
        try:
            while f.next_frame() is not P.NEED_DATA:
                pass
        except P.ProtocolError:
            pass


@settings(max_examples=100, deadline=None)
@given(tagged, st.binary(max_size=3))
def test_fast_decoders_survive_bit_flips(tm: tuple[int, P.Message], noise: bytes) -> None:
    """Corrupting a valid frame past its header yields a message or ProtocolError."""
    wire = bytearray(P.encode(*tm))
    for i, b in enumerate(noise):
        pos = 7 + (b * (i + 1)) % max(1, len(wire) - 7)
        if pos < len(wire):
            wire[pos] ^= 0xFF
    try:
        P.decode(bytes(wire))
    except P.ProtocolError:
        pass


@settings(max_examples=50, deadline=None)
@given(st.lists(dirs, max_size=4))
def test_directory_data_roundtrip(ds: list[P.Dir]) -> None:
    data = b"".join(P.encode_dir(d) for d in ds)
    assert P.decode_dirs(data) == ds
    if data:
        with pytest.raises(P.ProtocolError):
            P.decode_dirs(data[:-1])  # whole entries only


def test_encode_dir_matches_rstat_payload() -> None:
    entry = P.encode_dir(STAT)
    assert len(entry) == P.STATFIXLEN + len("f" + "glenda" + "sys" + "glenda")
    assert P.encode(12, P.Rstat(STAT))[9:] == entry


def test_fast_path_covers_the_hot_and_stat_messages() -> None:
    hot = {P.Twalk, P.Rwalk, P.Topen, P.Ropen, P.Tread, P.Rread, P.Twrite, P.Rwrite,
           P.Tclunk, P.Rclunk, P.Tremove, P.Rremove, P.Tstat, P.Rstat, P.Twstat, P.Rwstat}
    assert set(_fast.ENCODERS) == hot
    assert set(_fast.DECODERS) == {c.TYPE for c in hot}


def test_dir_dont_touch_helpers() -> None:
    nd = P.Dir.nulldir()
    assert nd.is_null() and nd.touched() == ()
    assert WSTAT.touched() == ("name",) and not WSTAT.dont_touch("name")
    assert WSTAT.dont_touch("mode") and WSTAT.dont_touch("uid")
    assert P.Qid(1, 2, 3) == P.Qid(1, 2, 3) and len({P.Qid(1, 2, 3), P.Qid(1, 2, 3)}) == 1


@pytest.mark.parametrize(
    ("tag", "msg", "line"),
    [
        (3, P.Twalk(1, 2, ("usr",)), "Twalk tag 3 fid 1 newfid 2 nwname 1 0:usr"),
        (P.NOTAG, P.Tversion(8192, "9P2000"),
         "Tversion tag 65535 msize 8192 version '9P2000'"),
        (7, P.Rread(b"hello"), "Rread tag 7 count 5 'hello'"),
        (7, P.Rread(b"\x00\x01\x02\x03\x04"), "Rread tag 7 count 5 '00010203 04'"),
        (4, P.Rflush(), "Rflush tag 4"),
        (2, P.Rattach(P.Qid(P.QTDIR, 0, 1)), "Rattach tag 2 qid (0000000000000001 0 d)"),
        (5, P.Tcreate(1, "x", P.DMDIR | 0o755, 0),
         "Tcreate tag 5 fid 1 name x perm d-rwxr-xr-x mode 0"),
        (9, P.Rerror("bad offset"), "Rerror tag 9 ename bad offset"),
    ],
)
def test_trace_lines_read_like_chatty9p(tag: int, msg: P.Message, line: str) -> None:
    assert fmt(tag, msg) == line
    assert fmt_frame(P.encode(tag, msg)) == line


def test_trace_of_a_bad_frame_says_why() -> None:
    assert fmt_frame(b"\x07\0\0\0\x6a\0\0").startswith("<bad frame: unknown message type 106")


def test_codec_declares_only_little_endian_types() -> None:
    """Only ``...ul`` integers in the construct table."""
    import re

    src = (pathlib.Path(_codec.__file__)).read_text()
    assert not re.findall(r"\b(?:Int|Float)\d+(?:ub|sb|un|sn|b)\b", src)
    assert re.findall(r"\bInt\d+ul\b", src)
