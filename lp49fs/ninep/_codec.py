"""The 9P2000 wire format, declared once with construct: the spec, the oracle, the cold codec.

``BODIES`` maps each message type number to the construct ``Struct`` of the bytes after
``size[4] type[1] tag[2]``; ``FRAME`` wraps a body in that header, with ``size`` counting its
own four bytes.  Every integer is a little-endian ``...ul`` type, every string is
``PascalString(Int16ul, "utf8")``, every array is prefixed by a 2-byte count, and a stat entry
is ``Prefixed(Int16ul, ...)``; in Rstat/Twstat that entry is wrapped in one more ``n[2]``,
so the length appears twice (stat(5)), and the entry must fill ``n`` exactly.

This table is the reference: the hand-written fast paths in ``_fast.py`` (hot messages) and
``_faststat.py`` (stat entries, stat and wstat) must produce and accept exactly the same
bytes (tests compare them), and the messages they do not cover (version, auth, attach,
error, flush, create) go through here.

Rules kept at this boundary:

Rule 1. construct ``Container`` objects never leave this module: ``build_message`` takes a
        message dataclass, ``parse_message`` returns one.
Rule 2. Anything malformed (short, trailing bytes in a frame or a stat entry, unknown type,
        bad UTF-8, NUL in a string, a count that overruns) raises ``ProtocolError``.
Rule 3. A value that cannot be encoded (too large for its field, NUL in a string) raises
        ``ValueError``; nothing half-built is returned.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from construct import (
    ConstructError,
    ExprAdapter,
    FocusedSeq,
    GreedyBytes,
    Int8ul,
    Int16ul,
    Int32ul,
    Int64ul,
    PascalString,
    Prefixed,
    PrefixedArray,
    Struct,
    Switch,
    Terminated,
    this,
)
from construct import Error as Refuse

from . import _constants as C
from ._dir import Dir, Qid
from ._errors import ProtocolError
from ._messages import MESSAGE_CLASSES, Message

String = PascalString(Int16ul, "utf8")
QidStruct = Struct("type" / Int8ul, "vers" / Int32ul, "path" / Int64ul)
DirEntry = Prefixed(
    Int16ul,
    Struct(
        "type" / Int16ul,
        "dev" / Int32ul,
        "qid" / QidStruct,
        "mode" / Int32ul,
        "atime" / Int32ul,
        "mtime" / Int32ul,
        "length" / Int64ul,
        "name" / String,
        "uid" / String,
        "gid" / String,
        "muid" / String,
        Terminated,
    ),
)
# n[2] then the entry, which must fill it exactly (Plan 9's statcheck: n == size + 2)
Stat = Prefixed(Int16ul, FocusedSeq("entry", "entry" / DirEntry, Terminated))
Fid = Int32ul
Data = Prefixed(Int32ul, GreedyBytes)  # count[4] data[count]

BODIES = {
    C.TVERSION: Struct("msize" / Int32ul, "version" / String),
    C.RVERSION: Struct("msize" / Int32ul, "version" / String),
    C.TAUTH: Struct("afid" / Fid, "uname" / String, "aname" / String),
    C.RAUTH: Struct("aqid" / QidStruct),
    C.TATTACH: Struct("fid" / Fid, "afid" / Fid, "uname" / String, "aname" / String),
    C.RATTACH: Struct("qid" / QidStruct),
    C.RERROR: Struct("ename" / String),
    C.TFLUSH: Struct("oldtag" / Int16ul),
    C.RFLUSH: Struct(),
    C.TWALK: Struct("fid" / Fid, "newfid" / Fid, "wname" / PrefixedArray(Int16ul, String)),
    C.RWALK: Struct("wqid" / PrefixedArray(Int16ul, QidStruct)),
    C.TOPEN: Struct("fid" / Fid, "mode" / Int8ul),
    C.ROPEN: Struct("qid" / QidStruct, "iounit" / Int32ul),
    C.TCREATE: Struct("fid" / Fid, "name" / String, "perm" / Int32ul, "mode" / Int8ul),
    C.RCREATE: Struct("qid" / QidStruct, "iounit" / Int32ul),
    C.TREAD: Struct("fid" / Fid, "offset" / Int64ul, "count" / Int32ul),
    C.RREAD: Struct("data" / Data),
    C.TWRITE: Struct("fid" / Fid, "offset" / Int64ul, "data" / Data),
    C.RWRITE: Struct("count" / Int32ul),
    C.TCLUNK: Struct("fid" / Fid),
    C.RCLUNK: Struct(),
    C.TREMOVE: Struct("fid" / Fid),
    C.RREMOVE: Struct(),
    C.TSTAT: Struct("fid" / Fid),
    C.RSTAT: Struct("stat" / Stat),
    C.TWSTAT: Struct("fid" / Fid, "stat" / Stat),
    C.RWSTAT: Struct(),
}

FRAME = Prefixed(
    ExprAdapter(Int32ul, decoder=lambda n, ctx: n - 4, encoder=lambda n, ctx: n + 4),
    Struct(
        "type" / Int8ul,
        "tag" / Int16ul,
        "body" / Switch(this.type, BODIES, default=Refuse),
        Terminated,
    ),
)

_DECODE_ERRORS = (ConstructError, UnicodeError, ValueError, OverflowError)
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in (*MESSAGE_CLASSES.values(), Dir)}


def build_message(tag: int, msg: Message) -> bytes:
    """The whole frame of ``msg`` (size prefix included); ValueError if a value does not fit."""
    body = {name: _to_wire(getattr(msg, name)) for name in _FIELDS[type(msg)]}
    try:
        return bytes(FRAME.build({"type": msg.TYPE, "tag": tag, "body": body}))
    except (ConstructError, UnicodeError, OverflowError) as e:
        raise ValueError(f"cannot encode {type(msg).__name__}: {e}") from None


def parse_message(frame: bytes) -> tuple[int, Message]:
    """Decode exactly one whole frame; ProtocolError on anything malformed."""
    check_header(frame)
    try:
        c = FRAME.parse(frame)
    except _DECODE_ERRORS as e:
        raise ProtocolError(f"malformed {_typename(frame[4])}: {_first_line(e)}") from None
    cls = MESSAGE_CLASSES[c.type]
    kw = {name: _from_wire(name, c.body[name]) for name in _FIELDS[cls]}
    return c.tag, cls(**kw)


def build_dir(d: Dir) -> bytes:
    """One stat entry with its own size[2]; ValueError if a value does not fit."""
    try:
        return bytes(DirEntry.build(_to_wire(d)))
    except (ConstructError, UnicodeError, OverflowError) as e:
        raise ValueError(f"cannot encode Dir: {e}") from None


def parse_dirs(data: bytes) -> list[Dir]:
    """Decode the concatenated stat entries of a directory read (whole entries only)."""
    out: list[Dir] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 2:
            raise ProtocolError("partial stat entry in directory data")
        n = int.from_bytes(data[pos : pos + 2], "little") + 2
        if pos + n > len(data):
            raise ProtocolError("stat entry overruns directory data")
        try:
            c = DirEntry.parse(data[pos : pos + n])
        except _DECODE_ERRORS as e:
            raise ProtocolError(f"malformed stat entry: {_first_line(e)}") from None
        out.append(_from_wire("stat", c))
        pos += n
    return out


def check_header(frame: bytes) -> None:
    """Raise ProtocolError unless ``frame`` has a plausible header for one whole message."""
    if len(frame) < C.HDRSZ:
        raise ProtocolError(f"short frame: {len(frame)} bytes")
    size = int.from_bytes(frame[:4], "little")
    if size != len(frame):
        raise ProtocolError(f"size {size} does not match frame length {len(frame)}")
    if frame[4] not in MESSAGE_CLASSES:
        raise ProtocolError(f"unknown message type {frame[4]}")


def _typename(t: int) -> str:
    cls = MESSAGE_CLASSES.get(t)
    return cls.__name__ if cls else f"type {t}"


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _to_wire(v: Any) -> Any:
    if isinstance(v, Qid):
        return {"type": v.type, "vers": v.vers, "path": v.path}
    if isinstance(v, Dir):
        return {name: _to_wire(getattr(v, name)) for name in _FIELDS[Dir]}
    if isinstance(v, tuple):
        return [_to_wire(x) for x in v]
    if isinstance(v, str) and "\0" in v:
        raise ValueError(f"NUL in 9P string {v!r}")
    return v


def _checkstr(s: str) -> str:
    if "\0" in s:
        raise ProtocolError(f"NUL in string {s!r}")
    return s


def _qid(c: Any) -> Qid:
    return Qid(c.type, c.vers, c.path)


def _dir(c: Any) -> Dir:
    return Dir(c.type, c.dev, _qid(c.qid), c.mode, c.atime, c.mtime, c.length,
               _checkstr(c.name), _checkstr(c.uid), _checkstr(c.gid), _checkstr(c.muid))


def _from_wire(name: str, v: Any) -> Any:
    if name in ("qid", "aqid"):
        return _qid(v)
    if name == "wqid":
        return tuple(_qid(q) for q in v)
    if name == "wname":
        return tuple(_checkstr(s) for s in v)
    if name == "stat":
        return _dir(v)
    if name == "data":
        return bytes(v)
    if isinstance(v, str):
        return _checkstr(v)
    return v
