"""The server's per-fid and per-request records, and the fid state table.

``Fid`` is lib9p's Fid: the number the client chose, its state, the qid it names, the open
mode, and ``aux`` for the backend.  ``Req`` is one request in flight.  ``FID_TRANSITIONS``
and ``FID_REQUIRES`` are the fid rules as data; ``ServerConn`` (``_state.py``) applies them.
``Flush`` and ``Answer`` are the two events the connection produces besides ``Req``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from lp49fs import errors as E

from ._dir import Qid
from ._messages import (
    RMessage,
    Tattach,
    Tauth,
    Tclunk,
    Tcreate,
    TMessage,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Twalk,
    Twrite,
    Twstat,
)


class FidState(enum.Enum):
    UNUSED = "UNUSED"  # not (yet) a fid: being created, or clunked
    WALKED = "WALKED"  # names a file, not open
    OPEN = "OPEN"  # opened (or created) with omode

    def __repr__(self) -> str:
        return self.value


UNUSED: Final = FidState.UNUSED
WALKED: Final = FidState.WALKED
OPEN: Final = FidState.OPEN

# (state before, request) -> state after a successful reply.  Exceptions, by design:
# Twalk with newfid == fid keeps the fid WALKED; Tclunk/Tremove free the fid on error too.
FID_TRANSITIONS: dict[tuple[FidState, type[TMessage]], FidState] = {
    (UNUSED, Tauth): OPEN,  # the afid is read and written without Topen
    (UNUSED, Tattach): WALKED,
    (UNUSED, Twalk): WALKED,  # newfid of a full walk
    (WALKED, Twalk): WALKED,  # newfid == fid
    (WALKED, Topen): OPEN,
    (WALKED, Tcreate): OPEN,  # the fid becomes the new file
    (WALKED, Tclunk): UNUSED,
    (OPEN, Tclunk): UNUSED,
    (WALKED, Tremove): UNUSED,
    (OPEN, Tremove): UNUSED,
}

# request -> (states its fid may be in, error otherwise)
FID_REQUIRES: dict[type[TMessage], tuple[frozenset[FidState], str]] = {
    Twalk: (frozenset({WALKED}), E.Ecloneopen),
    Topen: (frozenset({WALKED}), E.Ebotch),
    Tcreate: (frozenset({WALKED}), E.Ebotch),
    Tread: (frozenset({OPEN}), E.Ebotch),
    Twrite: (frozenset({OPEN}), E.Ebotch),
    Tclunk: (frozenset({WALKED, OPEN}), E.Eunknownfid),
    Tremove: (frozenset({WALKED, OPEN}), E.Eunknownfid),
    Tstat: (frozenset({WALKED, OPEN}), E.Eunknownfid),
    Twstat: (frozenset({WALKED, OPEN}), E.Eunknownfid),
}


@dataclass(slots=True, eq=False)
class Fid:
    """The server's record of one fid (lib9p's Fid)."""

    fid: int  # the number the client chose
    state: FidState = UNUSED  # see FID_TRANSITIONS
    qid: Qid | None = None  # the file it names, once WALKED
    omode: int = -1  # open mode once OPEN, else -1
    uid: str = ""  # the user of the Tattach it descends from
    aux: Any = None  # the backend's own state for this fid
    diroffset: int = 0  # where the next directory read must start
    dirindex: int = 0  # for the backend: entries already returned


@dataclass(slots=True, eq=False)
class Req:
    """One request handed to the backend (lib9p's Req)."""

    tag: int  # the client's tag
    msg: TMessage  # the request as the backend must see it (Tread count clamped)
    fid: Fid | None = None  # the fid the request names (Tauth: the new afid)
    newfid: Fid | None = None  # Twalk: the fid a full walk creates (is fid if equal)
    afid: Fid | None = None  # Tattach: the authentication fid, if any
    flushes: tuple[int, ...] = ()  # tags of Tflush waiting on it (no list per request)
    aborted: bool = False  # a new Tversion dropped it: its answer is never sent


@dataclass(frozen=True, slots=True)
class Flush:
    """Cancel ``oldreq``; its ``respond`` will carry the Rflush for ``tag``."""

    tag: int
    oldreq: Req


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer the connection made itself: send ``data`` (``msg`` with ``tag``)."""

    tag: int
    msg: RMessage
    data: bytes
    aborted: tuple[Req, ...] = ()  # Tversion: pending requests to cancel
