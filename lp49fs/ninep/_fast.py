"""Hand-written struct codec for the hot messages: walk, open, read, write, clunk, remove.

These twelve messages carry nearly all 9P traffic, so they skip construct (much slower per
message) and use precompiled ``struct.Struct`` objects that pack the header and the fixed
body in one call.  Decoders build the frozen messages with ``_make``'s
``__init__``-free constructors and read small fields straight from the bytes.
``ENCODERS`` and ``DECODERS`` map a message class, or the wire type byte, to a function,
and include the stat messages of ``_faststat.py``; ``_wire.py`` falls back to the construct
codec for any type not in them.  ``PART_ENCODERS`` give Rread and Twrite as (header, data)
so that a gathering writer sends the data without the join (one copy of up to msize bytes).
Rread and Twrite decoders accept a memoryview frame and copy the data out of it once.

Invariants (checked by tests against ``_codec.py`` on every golden vector and on
hypothesis-generated messages): same bytes out, same messages in, and the same class of
failure: ``ValueError`` for a value that does not fit, ``ProtocolError`` for bad bytes.
Decoders receive a frame whose header ``_codec.check_header`` has already validated
(size == len(frame) >= 7, known type).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from . import _constants as C
from ._dir import Qid
from ._errors import ProtocolError
from ._faststat import DECODERS as STAT_DECODERS
from ._faststat import ENCODERS as STAT_ENCODERS
from ._make import maker
from ._messages import (
    Rclunk,
    Ropen,
    Rread,
    Rremove,
    Rwalk,
    Rwrite,
    Tclunk,
    Topen,
    Tread,
    Tremove,
    Twalk,
    Twrite,
)

HDR = struct.Struct("<IBH")  # size type tag
TFID = struct.Struct("<IBHI")  # Tclunk Tremove (11)
TOPEN = struct.Struct("<IBHIB")  # 12
ROPEN = struct.Struct("<IBHBIQI")  # 24
TREAD = struct.Struct("<IBHIQI")  # 23
TWRITEHDR = struct.Struct("<IBHIQI")  # 23 + count
RREADHDR = struct.Struct("<IBHI")  # 11 + count
RWRITE = struct.Struct("<IBHI")  # 11
TWALKHDR = struct.Struct("<IBHIIH")  # 17 + names
RWALKHDR = struct.Struct("<IBHH")  # 9 + 13*n
QID = struct.Struct("<BIQ")
U16 = struct.Struct("<H")

Encoder = Callable[[int, Any], bytes]
Decoder = Callable[[bytes], tuple[int, Any]]


def _e_tread(tag: int, m: Tread) -> bytes:
    return TREAD.pack(23, C.TREAD, tag, m.fid, m.offset, m.count)


def _e_rread(tag: int, m: Rread) -> bytes:
    n = len(m.data)
    return RREADHDR.pack(11 + n, C.RREAD, tag, n) + m.data


def _p_rread(tag: int, m: Rread) -> tuple[bytes, bytes]:
    n = len(m.data)
    return RREADHDR.pack(11 + n, C.RREAD, tag, n), m.data


def _e_twrite(tag: int, m: Twrite) -> bytes:
    n = len(m.data)
    return TWRITEHDR.pack(23 + n, C.TWRITE, tag, m.fid, m.offset, n) + m.data


def _p_twrite(tag: int, m: Twrite) -> tuple[bytes, bytes]:
    n = len(m.data)
    return TWRITEHDR.pack(23 + n, C.TWRITE, tag, m.fid, m.offset, n), m.data


def _e_rwrite(tag: int, m: Rwrite) -> bytes:
    return RWRITE.pack(11, C.RWRITE, tag, m.count)


def _e_topen(tag: int, m: Topen) -> bytes:
    return TOPEN.pack(12, C.TOPEN, tag, m.fid, m.mode)


def _e_ropen(tag: int, m: Ropen) -> bytes:
    q = m.qid
    return ROPEN.pack(24, C.ROPEN, tag, q.type, q.vers, q.path, m.iounit)


def _e_tclunk(tag: int, m: Tclunk) -> bytes:
    return TFID.pack(11, C.TCLUNK, tag, m.fid)


def _e_tremove(tag: int, m: Tremove) -> bytes:
    return TFID.pack(11, C.TREMOVE, tag, m.fid)


def _e_rclunk(tag: int, m: Rclunk) -> bytes:
    return HDR.pack(7, C.RCLUNK, tag)


def _e_rremove(tag: int, m: Rremove) -> bytes:
    return HDR.pack(7, C.RREMOVE, tag)


def _e_twalk(tag: int, m: Twalk) -> bytes:
    parts = [b""]
    for name in m.wname:
        b = name.encode("utf-8")
        if b"\0" in b:
            raise ValueError(f"NUL in 9P string {name!r}")
        parts.append(U16.pack(len(b)))
        parts.append(b)
    body = b"".join(parts)
    n = len(m.wname)
    if n > 0xFFFF:
        raise ValueError("too many walk names")
    return TWALKHDR.pack(17 + len(body), C.TWALK, tag, m.fid, m.newfid, n) + body


def _e_rwalk(tag: int, m: Rwalk) -> bytes:
    n = len(m.wqid)
    if n > 0xFFFF:
        raise ValueError("too many qids")
    body = b"".join([QID.pack(q.type, q.vers, q.path) for q in m.wqid])
    return RWALKHDR.pack(9 + 13 * n, C.RWALK, tag, n) + body


ENCODERS: dict[type, Encoder] = {
    Tread: _e_tread, Rread: _e_rread, Twrite: _e_twrite, Rwrite: _e_rwrite,
    Topen: _e_topen, Ropen: _e_ropen, Tclunk: _e_tclunk, Rclunk: _e_rclunk,
    Tremove: _e_tremove, Rremove: _e_rremove, Twalk: _e_twalk, Rwalk: _e_rwalk,
    **STAT_ENCODERS,
}

# (header, data) without joining them: for a writer that gathers (sendmsg)
PART_ENCODERS: dict[type, Callable[[int, Any], tuple[bytes, bytes]]] = {
    Rread: _p_rread, Twrite: _p_twrite,
}


def _fixed(s: struct.Struct, frame: bytes, what: str) -> tuple[Any, ...]:
    if len(frame) != s.size:
        raise ProtocolError(f"{what}: {len(frame)} bytes, expected {s.size}")
    return s.unpack(frame)


_new_qid = maker(Qid)
_new_tread = maker(Tread)
_new_rread = maker(Rread)
_new_twrite = maker(Twrite)
_new_rwrite = maker(Rwrite)
_new_topen = maker(Topen)
_new_ropen = maker(Ropen)
_new_tclunk = maker(Tclunk)
_new_tremove = maker(Tremove)
_new_twalk = maker(Twalk)
_new_rwalk = maker(Rwalk)
_RCLUNK = Rclunk()
_RREMOVE = Rremove()
_tread = TREAD.unpack
_ropen = ROPEN.unpack


def _d_tread(f: bytes) -> tuple[int, Tread]:
    if len(f) != 23:
        raise ProtocolError(f"Tread: {len(f)} bytes, expected 23")
    _, _, tag, fid, offset, count = _tread(f)
    return tag, _new_tread(fid, offset, count)


def _d_rread(f: bytes | memoryview) -> tuple[int, Rread]:
    n = len(f)
    if n < 11:
        raise ProtocolError(f"Rread: short frame of {n} bytes")
    if f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24 != n - 11:
        raise ProtocolError(f"Rread: count does not match {n - 11} data bytes")
    return f[5] | f[6] << 8, _new_rread(bytes(f[11:]))  # f may be a view: one copy


def _d_twrite(f: bytes | memoryview) -> tuple[int, Twrite]:
    _, _, tag, fid, offset, count = (
        TWRITEHDR.unpack_from(f) if len(f) >= 23 else _short(f, "Twrite"))
    if count != len(f) - 23:
        raise ProtocolError(f"Twrite: count {count} does not match {len(f) - 23} data bytes")
    return tag, _new_twrite(fid, offset, bytes(f[23:]))  # f may be a view: one copy


def _d_rwrite(f: bytes) -> tuple[int, Rwrite]:
    if len(f) != 11:
        raise ProtocolError(f"Rwrite: {len(f)} bytes, expected 11")
    return f[5] | f[6] << 8, _new_rwrite(f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24)


def _d_topen(f: bytes) -> tuple[int, Topen]:
    if len(f) != 12:
        raise ProtocolError(f"Topen: {len(f)} bytes, expected 12")
    return f[5] | f[6] << 8, _new_topen(f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24, f[11])


def _d_ropen(f: bytes) -> tuple[int, Ropen]:
    if len(f) != 24:
        raise ProtocolError(f"Ropen: {len(f)} bytes, expected 24")
    _, _, tag, qt, qv, qp, iounit = _ropen(f)
    return tag, _new_ropen(_new_qid(qt, qv, qp), iounit)


def _d_tclunk(f: bytes) -> tuple[int, Tclunk]:
    if len(f) != 11:
        raise ProtocolError(f"Tclunk: {len(f)} bytes, expected 11")
    return f[5] | f[6] << 8, _new_tclunk(f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24)


def _d_tremove(f: bytes) -> tuple[int, Tremove]:
    if len(f) != 11:
        raise ProtocolError(f"Tremove: {len(f)} bytes, expected 11")
    return f[5] | f[6] << 8, _new_tremove(f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24)


def _d_rclunk(f: bytes) -> tuple[int, Rclunk]:
    return _fixed(HDR, f, "Rclunk")[2], _RCLUNK


def _d_rremove(f: bytes) -> tuple[int, Rremove]:
    return _fixed(HDR, f, "Rremove")[2], _RREMOVE


def _d_twalk(f: bytes) -> tuple[int, Twalk]:
    _, _, tag, fid, newfid, n = TWALKHDR.unpack_from(f) if len(f) >= 17 else _short(f, "Twalk")
    names = []
    pos = 17
    end = len(f)
    for _ in range(n):
        if pos + 2 > end:
            raise ProtocolError("Twalk: wname overruns the frame")
        ln = f[pos] | f[pos + 1] << 8
        pos += 2
        if pos + ln > end:
            raise ProtocolError("Twalk: wname overruns the frame")
        raw = f[pos : pos + ln]
        pos += ln
        if b"\0" in raw:
            raise ProtocolError(f"NUL in string {raw!r}")
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(f"bad UTF-8 in Twalk name {raw!r}") from None
    if pos != end:
        raise ProtocolError(f"Twalk: {end - pos} trailing bytes")
    return tag, _new_twalk(fid, newfid, tuple(names))


def _d_rwalk(f: bytes) -> tuple[int, Rwalk]:
    _, _, tag, n = RWALKHDR.unpack_from(f) if len(f) >= 9 else _short(f, "Rwalk")
    if len(f) != 9 + 13 * n:
        raise ProtocolError(f"Rwalk: nwqid {n} does not match {len(f)} bytes")
    qids = tuple([_new_qid(t, v, p) for t, v, p in QID.iter_unpack(f[9:])])
    return tag, _new_rwalk(qids)


def _short(f: bytes | memoryview, what: str) -> tuple[Any, ...]:
    raise ProtocolError(f"{what}: short frame of {len(f)} bytes")


# the decoders that take a memoryview frame (header already checked) and copy data out once
VIEW_DECODERS: dict[int, Callable[[bytes | memoryview], tuple[int, Any]]] = {
    C.RREAD: _d_rread, C.TWRITE: _d_twrite,
}

DECODERS: dict[int, Decoder] = {
    C.TREAD: _d_tread, C.RREAD: _d_rread, C.TWRITE: _d_twrite, C.RWRITE: _d_rwrite,
    C.TOPEN: _d_topen, C.ROPEN: _d_ropen, C.TCLUNK: _d_tclunk, C.RCLUNK: _d_rclunk,
    C.TREMOVE: _d_tremove, C.RREMOVE: _d_rremove, C.TWALK: _d_twalk, C.RWALK: _d_rwalk,
    **STAT_DECODERS,
}
