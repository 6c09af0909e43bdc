"""Hand-written struct codec for stat entries and the Tstat/Rstat/Twstat/Rwstat messages.

A stat entry (stat(5)) is 43 fixed bytes, ``size[2]`` through ``length[8]`` plus
the name's ``len[2]``, then ``name`` and three more ``len[2]``-prefixed strings (uid, gid,
muid); ``size`` counts the bytes after itself.  ``DIRHEAD`` packs or unpacks the fixed part
in one call, so one entry costs a few struct calls and four UTF-8 conversions instead of a
construct parse.  ``decode_dirs`` walks many entries in one buffer (the data
of a directory read) without slicing it per entry.

In Rstat and Twstat the entry is wrapped in one more ``n[2]``: Plan 9's ``statcheck``
requires ``n == size + 2`` exactly, and so do both this path and the construct table.

Invariants (checked by tests against ``_codec.py`` on golden vectors, hypothesis-generated
Dirs and corrupted entries): same bytes out, same Dirs in; ``ValueError`` for a value that
does not fit (integer too wide, string longer than 65535 bytes, NUL, entry over 65535
bytes); ``ProtocolError`` and nothing else for bad bytes (an entry size that disagrees with
its fields, a string that overruns its entry, invalid UTF-8, NUL in a string).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from . import _constants as C
from ._dir import Dir, Qid
from ._errors import ProtocolError
from ._make import maker
from ._messages import Rstat, Rwstat, Tstat, Twstat

DIRHEAD = struct.Struct("<HHIBIQIIIQH")  # size type dev qid[13] mode atime mtime length nlen
U16 = struct.Struct("<H")
TFID = struct.Struct("<IBHI")  # Tstat (11)
HDR = struct.Struct("<IBH")  # Rwstat (7)
RSTATHDR = struct.Struct("<IBHH")  # size type tag n (9 + n)
TWSTATHDR = struct.Struct("<IBHIH")  # size type tag fid n (13 + n)
MINSIZE = C.STATFIXLEN - 2  # smallest value of an entry's own size field: four empty strings

_pack_head = DIRHEAD.pack
_unpack_head = DIRHEAD.unpack_from
_u16 = U16.pack
_new_dir = maker(Dir)
_new_qid = maker(Qid)
_new_tstat = maker(Tstat)
_new_rstat = maker(Rstat)
_new_twstat = maker(Twstat)
_RWSTAT = Rwstat()


def pack_dir(d: Dir) -> bytes:
    """One stat entry with its own size[2]; ValueError (or struct.error) if a value does not fit."""
    name, uid, gid, muid = d.name, d.uid, d.gid, d.muid
    if "\0" in name or "\0" in uid or "\0" in gid or "\0" in muid:
        raise ValueError("NUL in 9P string of a Dir")
    n = name.encode("utf-8")
    u = uid.encode("utf-8")
    g = gid.encode("utf-8")
    m = muid.encode("utf-8")
    q = d.qid
    size = MINSIZE + len(n) + len(u) + len(g) + len(m)
    return b"".join((
        _pack_head(size, d.type, d.dev, q.type, q.vers, q.path, d.mode, d.atime, d.mtime,
                   d.length, len(n)),
        n, _u16(len(u)), u, _u16(len(g)), g, _u16(len(m)), m,
    ))


def unpack_dir(b: bytes, pos: int, end: int) -> tuple[Dir, int]:
    """The entry at ``b[pos:]``, which must lie within ``end``; returns it and the next pos."""
    if end - pos < C.STATFIXLEN:
        raise ProtocolError(f"stat entry of {end - pos} bytes is shorter than {C.STATFIXLEN}")
    (size, typ, dev, qt, qv, qp, mode, atime, mtime, length, ln) = _unpack_head(b, pos)
    stop = pos + 2 + size
    if size < MINSIZE or stop > end:
        raise ProtocolError(f"stat entry size {size} does not fit {end - pos - 2} bytes")
    # Steps: each string's end q must leave room for the next len[2] inside the entry,
    # and the last one must end exactly at stop (unrolled: this is the hot loop of ls).
    p = pos + 43
    q = p + ln
    if q + 2 > stop:
        raise ProtocolError("stat entry name overruns the entry")
    rn = b[p:q]
    p = q + 2
    q = p + (b[q] | b[q + 1] << 8)
    if q + 2 > stop:
        raise ProtocolError("stat entry uid overruns the entry")
    ru = b[p:q]
    p = q + 2
    q = p + (b[q] | b[q + 1] << 8)
    if q + 2 > stop:
        raise ProtocolError("stat entry gid overruns the entry")
    rg = b[p:q]
    p = q + 2
    q = p + (b[q] | b[q + 1] << 8)
    if q != stop:
        raise ProtocolError(f"stat entry muid ends {q - stop} bytes off the entry's end")
    rm = b[p:q]
    if b"\0" in rn or b"\0" in ru or b"\0" in rg or b"\0" in rm:
        raise ProtocolError("NUL in a stat entry string")
    try:
        d = _new_dir(typ, dev, _new_qid(qt, qv, qp), mode, atime, mtime, length,
                     rn.decode("utf-8"), ru.decode("utf-8"), rg.decode("utf-8"),
                     rm.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError("bad UTF-8 in a stat entry string") from None
    return d, stop


def unpack_dirs(b: bytes) -> list[Dir]:
    """The concatenated stat entries of a directory read (whole entries only)."""
    out: list[Dir] = []
    pos = 0
    end = len(b)
    while pos < end:
        if end - pos < 2:
            raise ProtocolError("partial stat entry in directory data")
        d, pos = unpack_dir(b, pos, end)
        out.append(d)
    return out


def _stat_n(entry: bytes) -> int:
    n = len(entry)
    if n > 0xFFFF:
        raise ValueError(f"stat entry of {n} bytes does not fit n[2]")
    return n


def _e_tstat(tag: int, m: Tstat) -> bytes:
    return TFID.pack(11, C.TSTAT, tag, m.fid)


def _e_rstat(tag: int, m: Rstat) -> bytes:
    entry = pack_dir(m.stat)
    n = _stat_n(entry)
    return RSTATHDR.pack(9 + n, C.RSTAT, tag, n) + entry


def _e_twstat(tag: int, m: Twstat) -> bytes:
    entry = pack_dir(m.stat)
    n = _stat_n(entry)
    return TWSTATHDR.pack(13 + n, C.TWSTAT, tag, m.fid, n) + entry


def _e_rwstat(tag: int, m: Rwstat) -> bytes:
    return HDR.pack(7, C.RWSTAT, tag)


def _wrapped(f: bytes, at: int, what: str) -> Dir:
    """The entry behind the n[2] at ``f[at:]``, which must fill the frame exactly."""
    if len(f) < at + 2:
        raise ProtocolError(f"{what}: short frame of {len(f)} bytes")
    n = f[at] | f[at + 1] << 8
    if at + 2 + n != len(f):
        raise ProtocolError(f"{what}: stat n {n} does not match {len(f) - at - 2} bytes")
    d, _ = unpack_dir(f, at + 2, len(f))  # the entry must also end at the frame's end
    if f[at + 2] | f[at + 3] << 8 != n - 2:
        raise ProtocolError(f"{what}: stat n {n} disagrees with the entry size")
    return d


def _d_tstat(f: bytes) -> tuple[int, Tstat]:
    if len(f) != 11:
        raise ProtocolError(f"Tstat: {len(f)} bytes, expected 11")
    return f[5] | f[6] << 8, _new_tstat(f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24)


def _d_rstat(f: bytes) -> tuple[int, Rstat]:
    return f[5] | f[6] << 8, _new_rstat(_wrapped(f, 7, "Rstat"))


def _d_twstat(f: bytes) -> tuple[int, Twstat]:
    if len(f) < 13:
        raise ProtocolError(f"Twstat: short frame of {len(f)} bytes")
    fid = f[7] | f[8] << 8 | f[9] << 16 | f[10] << 24
    return f[5] | f[6] << 8, _new_twstat(fid, _wrapped(f, 11, "Twstat"))


def _d_rwstat(f: bytes) -> tuple[int, Rwstat]:
    if len(f) != 7:
        raise ProtocolError(f"Rwstat: {len(f)} bytes, expected 7")
    return f[5] | f[6] << 8, _RWSTAT


ENCODERS: dict[type, Callable[[int, Any], bytes]] = {
    Tstat: _e_tstat, Rstat: _e_rstat, Twstat: _e_twstat, Rwstat: _e_rwstat,
}
DECODERS: dict[int, Callable[[bytes], tuple[int, Any]]] = {
    C.TSTAT: _d_tstat, C.RSTAT: _d_rstat, C.TWSTAT: _d_twstat, C.RWSTAT: _d_rwstat,
}
