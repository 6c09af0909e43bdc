"""The 9P2000 messages as frozen, slotted dataclasses, named as in intro(5) and fcall.h.

Each class carries its wire type number in ``TYPE`` and has a one-line, tagless Plan 9
``%F``-style ``__str__`` (``Twalk fid 1 newfid 2 nwname 1 0:usr``); ``trace.fmt(tag, msg)``
adds the tag the way chatty9p prints it.  ``Qid`` and ``Dir`` live in ``_dir.py``.

Invariants: messages are immutable and never subclassed; the codecs (``_codec.py``,
``_fast.py``) convert between these objects and bytes, and nothing else here knows about
bytes.  Field values are not range-checked on construction: an integer that does not fit its
wire width is refused by ``encode``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias, TypeGuard

from ._dir import Dir, Qid, dirmode, dumpsome


@dataclass(frozen=True, slots=True)
class Tversion:
    TYPE: ClassVar[int] = 100
    msize: int
    version: str

    def __str__(self) -> str:
        return f"Tversion msize {self.msize} version '{self.version}'"


@dataclass(frozen=True, slots=True)
class Rversion:
    TYPE: ClassVar[int] = 101
    msize: int
    version: str

    def __str__(self) -> str:
        return f"Rversion msize {self.msize} version '{self.version}'"


@dataclass(frozen=True, slots=True)
class Tauth:
    TYPE: ClassVar[int] = 102
    afid: int
    uname: str
    aname: str

    def __str__(self) -> str:
        return f"Tauth afid {self.afid} uname {self.uname} aname {self.aname}"


@dataclass(frozen=True, slots=True)
class Rauth:
    TYPE: ClassVar[int] = 103
    aqid: Qid

    def __str__(self) -> str:
        return f"Rauth qid {self.aqid}"


@dataclass(frozen=True, slots=True)
class Tattach:
    TYPE: ClassVar[int] = 104
    fid: int
    afid: int
    uname: str
    aname: str

    def __str__(self) -> str:
        return f"Tattach fid {self.fid} afid {self.afid} uname {self.uname} aname {self.aname}"


@dataclass(frozen=True, slots=True)
class Rattach:
    TYPE: ClassVar[int] = 105
    qid: Qid

    def __str__(self) -> str:
        return f"Rattach qid {self.qid}"


@dataclass(frozen=True, slots=True)
class Rerror:
    TYPE: ClassVar[int] = 107
    ename: str

    def __str__(self) -> str:
        return f"Rerror ename {self.ename}"


@dataclass(frozen=True, slots=True)
class Tflush:
    TYPE: ClassVar[int] = 108
    oldtag: int

    def __str__(self) -> str:
        return f"Tflush oldtag {self.oldtag}"


@dataclass(frozen=True, slots=True)
class Rflush:
    TYPE: ClassVar[int] = 109

    def __str__(self) -> str:
        return "Rflush"


@dataclass(frozen=True, slots=True)
class Twalk:
    TYPE: ClassVar[int] = 110
    fid: int
    newfid: int
    wname: tuple[str, ...]

    def __str__(self) -> str:
        names = "".join(f" {i}:{n}" for i, n in enumerate(self.wname))
        return f"Twalk fid {self.fid} newfid {self.newfid} nwname {len(self.wname)}{names}"


@dataclass(frozen=True, slots=True)
class Rwalk:
    TYPE: ClassVar[int] = 111
    wqid: tuple[Qid, ...]

    def __str__(self) -> str:
        qids = "".join(f" {i}:{q}" for i, q in enumerate(self.wqid))
        return f"Rwalk nwqid {len(self.wqid)}{qids}"


@dataclass(frozen=True, slots=True)
class Topen:
    TYPE: ClassVar[int] = 112
    fid: int
    mode: int

    def __str__(self) -> str:
        return f"Topen fid {self.fid} mode {self.mode}"


@dataclass(frozen=True, slots=True)
class Ropen:
    TYPE: ClassVar[int] = 113
    qid: Qid
    iounit: int

    def __str__(self) -> str:
        return f"Ropen qid {self.qid} iounit {self.iounit}"


@dataclass(frozen=True, slots=True)
class Tcreate:
    TYPE: ClassVar[int] = 114
    fid: int
    name: str
    perm: int
    mode: int

    def __str__(self) -> str:
        return (f"Tcreate fid {self.fid} name {self.name} perm {dirmode(self.perm)} "
                f"mode {self.mode}")


@dataclass(frozen=True, slots=True)
class Rcreate:
    TYPE: ClassVar[int] = 115
    qid: Qid
    iounit: int

    def __str__(self) -> str:
        return f"Rcreate qid {self.qid} iounit {self.iounit}"


@dataclass(frozen=True, slots=True)
class Tread:
    TYPE: ClassVar[int] = 116
    fid: int
    offset: int
    count: int

    def __str__(self) -> str:
        return f"Tread fid {self.fid} offset {self.offset} count {self.count}"


@dataclass(frozen=True, slots=True)
class Rread:
    TYPE: ClassVar[int] = 117
    data: bytes

    def __str__(self) -> str:
        return f"Rread count {len(self.data)} {dumpsome(self.data)}"


@dataclass(frozen=True, slots=True)
class Twrite:
    TYPE: ClassVar[int] = 118
    fid: int
    offset: int
    data: bytes

    def __str__(self) -> str:
        return (f"Twrite fid {self.fid} offset {self.offset} count {len(self.data)} "
                f"{dumpsome(self.data)}")


@dataclass(frozen=True, slots=True)
class Rwrite:
    TYPE: ClassVar[int] = 119
    count: int

    def __str__(self) -> str:
        return f"Rwrite count {self.count}"


@dataclass(frozen=True, slots=True)
class Tclunk:
    TYPE: ClassVar[int] = 120
    fid: int

    def __str__(self) -> str:
        return f"Tclunk fid {self.fid}"


@dataclass(frozen=True, slots=True)
class Rclunk:
    TYPE: ClassVar[int] = 121

    def __str__(self) -> str:
        return "Rclunk"


@dataclass(frozen=True, slots=True)
class Tremove:
    TYPE: ClassVar[int] = 122
    fid: int

    def __str__(self) -> str:
        return f"Tremove fid {self.fid}"


@dataclass(frozen=True, slots=True)
class Rremove:
    TYPE: ClassVar[int] = 123

    def __str__(self) -> str:
        return "Rremove"


@dataclass(frozen=True, slots=True)
class Tstat:
    TYPE: ClassVar[int] = 124
    fid: int

    def __str__(self) -> str:
        return f"Tstat fid {self.fid}"


@dataclass(frozen=True, slots=True)
class Rstat:
    TYPE: ClassVar[int] = 125
    stat: Dir

    def __str__(self) -> str:
        return f"Rstat {self.stat}"


@dataclass(frozen=True, slots=True)
class Twstat:
    TYPE: ClassVar[int] = 126
    fid: int
    stat: Dir

    def __str__(self) -> str:
        return f"Twstat fid {self.fid} {self.stat}"


@dataclass(frozen=True, slots=True)
class Rwstat:
    TYPE: ClassVar[int] = 127

    def __str__(self) -> str:
        return "Rwstat"


TMessage: TypeAlias = (
    Tversion | Tauth | Tattach | Tflush | Twalk | Topen | Tcreate | Tread | Twrite | Tclunk
    | Tremove | Tstat | Twstat
)
RMessage: TypeAlias = (
    Rversion | Rauth | Rattach | Rerror | Rflush | Rwalk | Ropen | Rcreate | Rread | Rwrite
    | Rclunk | Rremove | Rstat | Rwstat
)
Message: TypeAlias = TMessage | RMessage

T_CLASSES: tuple[type[TMessage], ...] = (
    Tversion, Tauth, Tattach, Tflush, Twalk, Topen, Tcreate, Tread, Twrite, Tclunk, Tremove,
    Tstat, Twstat,
)
R_CLASSES: tuple[type[RMessage], ...] = (
    Rversion, Rauth, Rattach, Rerror, Rflush, Rwalk, Ropen, Rcreate, Rread, Rwrite, Rclunk,
    Rremove, Rstat, Rwstat,
)
MESSAGE_CLASSES: dict[int, type[Message]] = {c.TYPE: c for c in (*T_CLASSES, *R_CLASSES)}


def is_reply_to(reply: Message, request: Message) -> bool:
    """True if ``reply`` may answer ``request``: its R-message, or Rerror (never for Tflush)."""
    if isinstance(reply, Rerror):
        return not isinstance(request, Tflush)
    return reply.TYPE == request.TYPE + 1


def is_rmessage(msg: Message) -> TypeGuard[RMessage]:
    """True for an R-message (odd type number)."""
    return bool(msg.TYPE & 1)
