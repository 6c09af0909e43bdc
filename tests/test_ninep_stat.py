"""Stat entries: the struct path (``_faststat``) against the construct spec (``_codec``).

Golden entries and directory data are encoded and decoded by both codecs; hypothesis draws
Dirs over every field's range (non-ASCII strings included) and then corrupts the bytes
(flipped bytes, truncation, rewritten size fields): the two decoders must then return the
same Dirs or both raise ``ProtocolError``, never anything else.  The Rstat/Twstat double
size prefix is checked both ways (n larger or smaller than the entry).  Also: the
``__init__``-free constructors of ``_make`` and Plan 9's ``%M`` rendering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ninep_strategies import CLASSES, for_class, qids, u16, u32, u64

from lp49fs import ninep as P
from lp49fs.ninep import _codec, _make

F = P.Qid(P.QTFILE, 1, 3)
ROOT = P.Dir(ord("M"), 1, P.Qid(P.QTDIR, 7, 0), P.DMDIR | 0o775, 1, 2, 0, "/", "", "", "")
UTF = P.Dir(0, 0, F, 0o644, 0, 0, 9, "häst", "ø", "日本", "glenda")
BIG = P.Dir(0xFFFF, 0xFFFFFFFF, P.Qid(0xFF, 0xFFFFFFFF, 2**64 - 1), 0xFFFFFFFF,
            0xFFFFFFFF, 0xFFFFFFFF, 2**64 - 1, "n" * 300, "u", "g", "m")


def h(*groups: str) -> bytes:
    return bytes.fromhex("".join(groups))


GOLDEN_ENTRY = h(
    "3000", "4d00", "01000000", "80", "07000000", "0000000000000000",
    # size 48, type 'M', dev 1, qid QTDIR vers 7 path 0
    "fd010080", "01000000", "02000000", "0000000000000000",
    # mode DMDIR|0775, atime 1, mtime 2, length 0
    "0100", "2f", "0000", "0000", "0000")  # name "/", uid gid muid ""


def test_golden_entry_both_codecs() -> None:
    assert len(GOLDEN_ENTRY) == P.STATFIXLEN + 1
    assert P.encode_dir(ROOT) == _codec.build_dir(ROOT) == GOLDEN_ENTRY
    assert P.decode_dirs(GOLDEN_ENTRY) == _codec.parse_dirs(GOLDEN_ENTRY) == [ROOT]


def test_directory_data_both_codecs() -> None:
    ds = [ROOT, UTF, BIG, P.Dir(), P.Dir.nulldir()]
    data = b"".join(_codec.build_dir(d) for d in ds)
    assert b"".join(P.encode_dir(d) for d in ds) == data
    assert P.decode_dirs(data) == _codec.parse_dirs(data) == ds
    assert P.decode_dirs(b"") == [] and P.decode_dirs(memoryview(data).tobytes()) == ds


@pytest.mark.parametrize("d", [ROOT, UTF, BIG])
def test_stat_messages_both_codecs(d: P.Dir) -> None:
    for msg in (P.Rstat(d), P.Twstat(0xFFFFFFFF, d)):
        wire = P.encode(9, msg)
        assert wire == _codec.build_message(9, msg)
        assert P.decode(wire) == _codec.parse_message(wire) == (9, msg)
        entry = P.encode_dir(d)
        assert wire[-len(entry) - 2 :] == len(entry).to_bytes(2, "little") + entry


def _entry(size: int | None = None, strs: bytes = h("0100", "66", "0000", "0000", "0000"),
           tail: bytes = b"") -> bytes:
    """A stat entry of ``P.Dir(name="f")`` with its size field and strings replaced."""
    fixed = P.encode_dir(P.Dir(name="f"))[2:41]
    body = fixed + strs + tail
    n = len(body) if size is None else size
    return n.to_bytes(2, "little") + body


MALFORMED_ENTRIES = [
    ("one byte", b"\x00"),
    ("size only", h("2f00")),
    ("short fixed part", _entry()[:30]),
    ("size larger than data", _entry(size=49)),
    ("size below the fixed part", _entry(size=20)),
    ("size one short (muid overruns)", _entry(size=47)),
    ("trailing byte inside the entry", _entry(tail=b"\x00")),
    ("name length overruns", _entry(strs=h("0900", "66", "0000", "0000", "0000"))),
    ("truncated strings", _entry(strs=h("0100", "66", "0000"))),
    ("no muid length", _entry(strs=h("0100", "66", "0000", "0000", "00"))),
    ("invalid UTF-8 name", _entry(strs=h("0100", "ff", "0000", "0000", "0000"))),
    ("UTF-8 surrogate in uid", _entry(strs=h("0100", "66", "0300", "eda080", "0000", "0000"))),
    ("truncated UTF-8 sequence", _entry(strs=h("0100", "e6", "0000", "0000", "0000"))),
    ("NUL in name", _entry(strs=h("0100", "00", "0000", "0000", "0000"))),
    ("NUL in muid", _entry(strs=h("0100", "66", "0000", "0000", "0200", "6100"))),
    ("good entry then a partial one", GOLDEN_ENTRY + GOLDEN_ENTRY[:10]),
    ("good entry then one byte", GOLDEN_ENTRY + b"\x00"),
]


@pytest.mark.parametrize(("desc", "data"), MALFORMED_ENTRIES, ids=[m[0] for m in MALFORMED_ENTRIES])
def test_malformed_entries_are_protocol_errors(desc: str, data: bytes) -> None:
    assert P.decode_dirs(_entry()) == [P.Dir(name="f")]  # the helper builds good entries
    for decode in (P.decode_dirs, _codec.parse_dirs):
        with pytest.raises(P.ProtocolError) as e:
            decode(data)
        assert e.value.reason
    for wrap in (_rstat_frame, _twstat_frame):
        frame = wrap(data)
        for dec in (P.decode, _codec.parse_message):
            with pytest.raises(P.ProtocolError):
                dec(frame)


def _rstat_frame(entry: bytes, n: int | None = None) -> bytes:
    n = len(entry) if n is None else n
    return (9 + len(entry)).to_bytes(4, "little") + h("7d", "0100") + n.to_bytes(2, "little") \
        + entry


def _twstat_frame(entry: bytes, n: int | None = None) -> bytes:
    n = len(entry) if n is None else n
    return (13 + len(entry)).to_bytes(4, "little") + h("7e", "0100", "05000000") \
        + n.to_bytes(2, "little") + entry


@pytest.mark.parametrize("wrap", [_rstat_frame, _twstat_frame])
@pytest.mark.parametrize("delta", [-2, -1, 1, 2])
def test_double_prefix_must_match_the_entry(wrap: Callable[..., bytes], delta: int) -> None:
    """Plan 9's statcheck: n == size + 2; a larger n with padding is refused too."""
    entry = GOLDEN_ENTRY + (b"\x00" * delta if delta > 0 else b"")
    frame = wrap(entry, len(GOLDEN_ENTRY) + delta)
    for dec in (P.decode, _codec.parse_message):
        with pytest.raises(P.ProtocolError):
            dec(frame)
    assert P.decode(wrap(GOLDEN_ENTRY))[1] == _codec.parse_message(wrap(GOLDEN_ENTRY))[1]


@pytest.mark.parametrize("frame", [h("0a000000", "7c", "0100", "010000"),
                                   h("0c000000", "7c", "0100", "0100000000"),
                                   h("08000000", "7f", "0100", "00"),
                                   h("09000000", "7d", "0100", "00"),
                                   h("0c000000", "7e", "0100", "0100000000")])
def test_short_and_long_stat_frames(frame: bytes) -> None:
    for dec in (P.decode, _codec.parse_message):
        with pytest.raises(P.ProtocolError):
            dec(frame)


@pytest.mark.parametrize("d", [
    P.Dir(name="x" * 70000), P.Dir(name="a" * 20000, uid="b" * 20000, gid="c" * 20000,
                                  muid="d" * 20000),
    P.Dir(name="a" * 65489), P.Dir(uid="a\0"), P.Dir(muid="\ud800"), P.Dir(type=0x10000),
    P.Dir(dev=-1), P.Dir(qid=P.Qid(256, 0, 0)), P.Dir(length=2**64), P.Dir(mode=2**32),
])
def test_encode_refuses_what_does_not_fit(d: P.Dir) -> None:
    for enc in (P.encode_dir, _codec.build_dir):
        with pytest.raises(ValueError):
            enc(d)
    for msg in (P.Rstat(d), P.Twstat(1, d)):
        for build in (P.encode, _codec.build_message):
            with pytest.raises(ValueError):
                build(1, msg)


def test_largest_entries() -> None:
    """size[2] caps an entry at 65537 bytes; Rstat's n[2] caps it at 65535."""
    top = P.Dir(name="a" * (65535 - P.STATFIXLEN + 2))
    assert len(P.encode_dir(top)) == 65537 and P.encode_dir(top) == _codec.build_dir(top)
    assert P.decode_dirs(P.encode_dir(top)) == [top]
    d = P.Dir(name="a" * (65535 - P.STATFIXLEN))
    for build in (P.encode, _codec.build_message):
        assert P.decode(build(1, P.Rstat(d))) == (1, P.Rstat(d))
        with pytest.raises(ValueError):
            build(1, P.Rstat(P.Dir(name=d.name + "a")))
        with pytest.raises(ValueError):
            build(1, P.Twstat(0, top))


wide = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=40)
dirs = st.builds(P.Dir, u16, u32, qids, u32, u32, u32, u64, wide, wide, wide, wide)


@settings(max_examples=150, deadline=None)
@given(st.lists(dirs, max_size=5))
def test_dirs_both_codecs_agree(ds: list[P.Dir]) -> None:
    data = b"".join(_codec.build_dir(d) for d in ds)
    assert b"".join(P.encode_dir(d) for d in ds) == data
    assert P.decode_dirs(data) == _codec.parse_dirs(data) == ds


def _outcome(decode: Callable[[bytes], Any], data: bytes) -> Any:
    try:
        return decode(data)
    except P.ProtocolError:
        return P.ProtocolError


@settings(max_examples=300, deadline=None)
@given(st.lists(dirs, min_size=1, max_size=3), st.lists(st.tuples(u16, st.integers(0, 255)),
                                                        max_size=4), st.integers(0, 400))
def test_corrupted_dirs_decode_alike(ds: list[P.Dir], flips: list[tuple[int, int]],
                                     cut: int) -> None:
    """Any corruption: both decoders give the same Dirs, or both raise ProtocolError."""
    data = bytearray(b"".join(P.encode_dir(d) for d in ds))
    for pos, val in flips:
        data[pos % len(data)] = val
    blob = bytes(data[: len(data) - cut % 4 if cut < 200 else len(data)])
    fast = _outcome(P.decode_dirs, blob)
    assert fast == _outcome(_codec.parse_dirs, blob)
    for wrap in (_rstat_frame, _twstat_frame):
        frame = wrap(blob[:65535])
        assert _outcome(P.decode, frame) == _outcome(_codec.parse_message, frame)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_dirs_decode_alike(blob: bytes) -> None:
    assert _outcome(P.decode_dirs, blob) == _outcome(_codec.parse_dirs, blob)
    assert _outcome(P.decode, _rstat_frame(blob)) == _outcome(_codec.parse_message,
                                                              _rstat_frame(blob))


@pytest.mark.parametrize("cls", [*CLASSES, P.Qid, P.Dir], ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_maker_objects_equal_constructed_ones(cls: type, data: st.DataObject) -> None:
    strat = qids if cls is P.Qid else dirs if cls is P.Dir else for_class(cls)
    obj = data.draw(strat)
    values = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    made: Any = _make.maker(cls)(*values)
    assert type(made) is cls and made == obj and hash(made) == hash(obj)
    assert repr(made) == repr(obj) and str(made) == str(obj)
    if values:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(obj)[0].name, values[0])


@pytest.mark.parametrize(("mode", "text"), [
    (P.DMDIR | 0o755, "d-rwxr-xr-x"), (0o644, "--rw-r--r--"), (P.DMAPPEND | 0o622, "a-rw--w--w-"),
    (P.DMEXCL | 0o600, "-lrw-------"), (P.DMAUTH | 0o400, "A-r--------"),
    (P.DMDIR | P.DMAPPEND | P.DMEXCL | 0o777, "dlrwxrwxrwx"),
    (P.DMAPPEND | P.DMAUTH, "a----------"),
    (0xFFFFFFFF, "dlrwxrwxrwx"), (0, "-----------"),
])
def test_dirmode_is_plan9_percent_M(mode: int, text: str) -> None:
    assert P.dirmode(mode) == text and len(text) == 11
