"""The fids of a recovering #M session (``mntrecover``): their numbers and how to remake them.

A ``Recovering`` session hands out fid numbers of its own (the *client* numbers #M and its
proxies hold) and keeps, in a ``Wires``, the number each stands for on the session it now
speaks through (the *wire* number).  While the first link lives the two are the same, so a
fid number means the same on the link (the service bus grants it there); after a restart
the fids are made again under numbers of the new session, and only the map changes, so a
client number never changes meaning and never names two fids at once.

Every fid walked from an attach is also kept as a ``FidRec``: the attach (uname, aname),
the names it was walked by from that root with ``..`` resolved lexically (``walked``), the
qid it reached and the mode it was opened with, so that after the server restarts the
session can attach, walk and open it again (``remake``) and check that it is the same file.
The records are kept (``note``) only for the first link: after a restart the fids live on
another mount channel, whose own session keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from lp49fs.errors import Enonexist, Ereplaced, Error
from lp49fs.ninep import (
    MAXWELEM,
    NOFID,
    OTRUNC,
    Qid,
    Rattach,
    Rcreate,
    Ropen,
    Rwalk,
    Tattach,
    Tclunk,
    Tcreate,
    Topen,
    Tremove,
    Twalk,
    Twstat,
)

if TYPE_CHECKING:
    from lp49fs.lib9p.client import Session

SPARE = 0x80000000  # client numbers from here on when the wire number is taken


@dataclass(frozen=True)
class FidRec:
    """How to make a fid again: its attach, its walked path, its qid and open mode."""

    uname: str
    aname: str
    names: tuple[str, ...]  # from the attach root, ".." resolved
    qid: Qid
    omode: int = -1  # -1: not open


def walked(names: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    out = list(names)
    for n in more:
        if n == "..":
            if out:
                out.pop()
        elif n != ".":
            out.append(n)
    return tuple(out)


class Wires:
    """Client fid number -> wire fid number, for every fid handed out and not yet freed."""

    def __init__(self) -> None:
        self.wire: dict[int, int] = {}
        self._spare = SPARE

    def add(self, w: int) -> int:
        """A new client number for wire number ``w``: ``w`` itself unless it is taken."""
        c = w
        while c in self.wire or c == NOFID:
            c, self._spare = self._spare, (self._spare + 1) & 0xFFFFFFFF or SPARE
        self.wire[c] = w
        return c

    def get(self, c: int) -> int:
        """The wire number of client fid ``c`` (NOFID for a number never handed out)."""
        return self.wire.get(c, NOFID)

    def pop(self, c: int) -> int | None:
        return self.wire.pop(c, None)

    def __contains__(self, c: object) -> bool:
        return c in self.wire

    def __len__(self) -> int:
        return len(self.wire)


def note(recs: dict[int, FidRec], msg: object, r: object) -> None:
    """Keep the fid records up to date with a request that succeeded on the first link."""
    if isinstance(msg, Tattach) and isinstance(r, Rattach) and msg.afid == NOFID:
        recs[msg.fid] = FidRec(msg.uname, msg.aname, (), r.qid)
    elif isinstance(msg, Twalk) and isinstance(r, Rwalk):
        p = recs.get(msg.fid)
        if p is not None and len(r.wqid) == len(msg.wname):
            q = r.wqid[-1] if r.wqid else p.qid
            recs[msg.newfid] = FidRec(p.uname, p.aname, walked(p.names, msg.wname), q)
    elif isinstance(msg, Topen) and isinstance(r, Ropen) and msg.fid in recs:
        recs[msg.fid] = replace(recs[msg.fid], qid=r.qid, omode=msg.mode & ~OTRUNC)
    elif isinstance(msg, Tcreate) and isinstance(r, Rcreate) and msg.fid in recs:
        p = recs[msg.fid]
        recs[msg.fid] = replace(p, names=(*p.names, msg.name), qid=r.qid,
                                omode=msg.mode & ~OTRUNC)  # fmt: skip
    elif isinstance(msg, Twstat) and msg.fid in recs and msg.stat.name:
        p = recs[msg.fid]
        if p.names and msg.stat.name != p.names[-1]:
            recs[msg.fid] = replace(p, names=(*p.names[:-1], msg.stat.name))
    elif isinstance(msg, (Tclunk, Tremove)):
        recs.pop(msg.fid, None)


async def remake(s: Session, fid: int, rec: FidRec) -> None:
    """Attach, walk and open ``fid`` on ``s`` as ``rec`` says; Ereplaced if it reaches
    another file (mntrecover Rule 3), Enonexist if the path is gone."""
    r = await s.rpc(Tattach(fid=fid, afid=NOFID, uname=rec.uname, aname=rec.aname))
    assert isinstance(r, Rattach)
    qid = r.qid
    names = rec.names
    while names:
        step, names = names[:MAXWELEM], names[MAXWELEM:]
        w = await s.rpc(Twalk(fid=fid, newfid=fid, wname=step))
        assert isinstance(w, Rwalk)
        if len(w.wqid) < len(step):
            await s.rpc(Tclunk(fid=fid))
            raise Error(Enonexist)
        qid = w.wqid[-1]
    if qid.path != rec.qid.path:
        await s.rpc(Tclunk(fid=fid))
        raise Error(Ereplaced)  # Rule 3
    if rec.omode >= 0:
        await s.rpc(Topen(fid=fid, mode=rec.omode))
