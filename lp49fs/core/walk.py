"""The walk of a name's elements through a process's name space (Plan 9: port/chan.c:/^walk).

``walk(proc, c, names, nomount)`` is the loop ``namec`` runs after it has picked the start:
batches of at most MAXWELEM names, each crossing the mount point it starts at, walked on the
first union member that can walk it, stopping at an intermediate mount point to go on from
its first member.  ``..`` is lexical: it goes back to where the last crossing came from.
``walk`` consumes the reference it is given and returns a new one; on failure it raises
``WalkError`` with the number of elements consumed, from which ``namec`` names the prefix
that failed.  With an open mode (Aopen) a last batch no mount point can stop is handed to
the servant's ``walkopen``, which may walk and open in one step (one 9P exchange on ``#M``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

from lp49fs import trace as _t
from lp49fs.core.chan import COPEN, Chan, Held, Path, Walkqid, cclone, cclose, closeonerror, incref
from lp49fs.core.mount import Mhead, domount, undomount
from lp49fs.errors import Edoesnotexist, Enonexist, Enotdir, Error
from lp49fs.ninep import MAXWELEM, OCEXEC, QTDIR, Qid

if TYPE_CHECKING:
    from lp49fs.core.proc import Proc


class WalkError(Error):
    """A walk failure: ``nerror`` elements were consumed when ``ename`` happened."""

    def __init__(self, ename: str, nerror: int) -> None:
        super().__init__(ename)
        self.nerror = nerror


async def walk(p: Proc, c: Chan, names: Sequence[str], nomount: bool, omode: int = -1) -> Chan:
    """Walk ``names`` from ``c`` through ``p``'s name space; all or nothing.

    Consumes the caller's reference on ``c``; returns a new Chan whose ``path`` extends
    ``c.path``.  On failure raises ``WalkError`` with the number of elements consumed.
    The loop (Plan 9: port/chan.c:/^walk), for each batch of at most MAXWELEM names:

    1. ``..`` is walked alone and lexically (``_dotdot``): from the mount point the last
       element crossed (``undomount``), so ``P/..`` is P without its last element.
    2. Otherwise cross a mount point at ``c`` (``_cross``, unless ``nomount``): ``c`` becomes
       the first union member and the element records the crossing.
    3. Walk the batch (``_batch``) on ``c``; if the first name fails, try the other union
       members in order (``_unionwalk``: the first that walks wins, earlier members shadow
       later ones).
    4. If an intermediate qid is a mount point, stop there and continue from its first
       member (``_arrive``; the next batch restarts at it); else take what the walk
       reached, or fail.
    With ``omode`` >= 0 (Aopen), a last batch no mount can stop (``_openable``: no union at
    ``c``, no mounts on its servant's files) goes to ``walkopen``, which may return it open.
    """
    path = c.path
    nhave = 0
    # the union step 4 crossed into (c is its first member); a walked fd's Chan (sysat.py)
    # keeps the union it was crossed into, so a walk from it searches every member
    crossedmh: Mhead | None = c.umh if not nomount and not c.flag & COPEN else None
    async with closeonerror(c) as h:
        while nhave < len(names):
            if names[nhave] == "..":  # step 1
                crossedmh = None
                await h.replace(await _dotdot(h.c, path))
                path = path.dotdot()
                nhave += 1
                continue
            mh, crossedmh = crossedmh, None
            if not nomount and mh is None:  # step 2
                mh, path = await _cross(p, h, path)
            batch = _batch(names, nhave)
            if omode >= 0 and nhave + len(batch) == len(names) and _openable(p, h.c, mh) and (
                    oc := await _svwalk(h.c, batch, omode & ~OCEXEC)) is not None:  # fmt: skip
                path = reduce(Path.addelem, batch, path)
                await h.replace(oc)
                break
            wq, wc = await _unionwalk(h.c, mh, batch, nhave)  # step 3
            nc, n, crossedmh = await _arrive(p, wq, wc, batch, nhave, nomount)  # step 4
            for i in range(n):
                mtpt = crossedmh.from_ if crossedmh is not None and i == n - 1 else None
                path = path.addelem(batch[i], mtpt)
            await h.replace(nc)
            nhave += n
    h.c.path = path
    return h.c


async def _cross(p: Proc, h: Held, path: Path) -> tuple[Mhead | None, Path]:
    """Step 2: if ``h.c`` is a mount point, go on from its union's first member (``h`` holds
    it instead); the last element of the returned path records the crossing."""
    crossed, mh = domount(p.pgrp, h.c)
    if mh is None:
        return None, path
    if _t.on:
        _t.ev("namec", "namec", f"mount table: {path.s}: union of {len(mh.mounts)}")
    await h.replace(crossed)
    return mh, _crossed(path, mh.from_)


def _batch(names: Sequence[str], nhave: int) -> Sequence[str]:
    """Step 3's names: at most MAXWELEM from ``nhave`` on, and none past the next ``..``."""
    ntry = min(len(names) - nhave, MAXWELEM)
    if ".." in names[nhave : nhave + ntry]:
        ntry = names.index("..", nhave) - nhave
    return names[nhave : nhave + ntry]


async def _arrive(
    p: Proc, wq: Walkqid, wc: Chan, batch: Sequence[str], nhave: int, nomount: bool
) -> tuple[Chan, int, Mhead | None]:
    """Step 4: (the Chan reached, names consumed, the union crossed into at the end or None).

    ``wq`` is the walk of ``batch`` on ``wc``, the union member that walked.
    """
    if not nomount:
        for i, q in enumerate(wq.qids[: len(batch) - 1]):
            nmh = _findmountq(p, wc, q)
            if nmh is not None:
                if _t.on:
                    _t.ev("namec", "namec", f"mount table: {batch[i]} is a mount point")
                if wq.clone is not None:
                    await cclose(wq.clone)
                return incref(nmh.mounts[0].to), i + 1, nmh
    if wq.clone is None:
        n = len(wq.qids)
        last = wq.qids[-1] if wq.qids else None
        if last is None or last.type & QTDIR:
            raise WalkError(Edoesnotexist, nhave + n + 1)
        raise WalkError(Enotdir, nhave + n)
    return wq.clone, len(wq.qids), None


def _crossed(path: Path, frm: Chan) -> Path:
    """``path`` with its last element marked as reached by crossing the mount on ``frm``."""
    if not path.mtpt:
        return path
    return Path(path.s, (*path.mtpt[:-1], frm))


async def _dotdot(c: Chan, path: Path) -> Chan:
    if not path.elems() and path.s.startswith("/"):
        return await cclone(c)  # "/.." is "/", even when / is a union
    start = undomount(c, path)
    wq = await start.sv.walk(start, [".."])
    if wq.clone is None:
        raise AssertionError(f"servant {start.sv.name} cannot walk ..")
    return wq.clone


async def _unionwalk(
    c: Chan, mh: Mhead | None, batch: Sequence[str], nhave: int
) -> tuple[Walkqid, Chan]:
    """Walk ``batch`` on ``c``, then on the other members of ``mh``; (Walkqid, walked chan)."""
    try:
        return await _svwalk(c, batch), c
    except Error as e:
        first = e
    if mh is not None:
        for m in mh.mounts[1:]:
            try:
                return await _svwalk(m.to, batch), m.to
            except Error:
                continue
    if first.ename == Enotdir:  # name the non-directory, as Plan 9 does
        raise WalkError(Enotdir, nhave)
    ename = Edoesnotexist if first.ename in (Enonexist, "file not found") else first.ename
    raise WalkError(ename, nhave + 1)


def _openable(p: Proc, c: Chan, mh: Mhead | None) -> bool:
    """Whether a last batch from ``c`` may be walked and opened at once: no union at ``c``
    and no mount on any file of ``c``'s servant, so no mount point can stop the walk."""
    if mh is not None and len(mh.mounts) != 1:
        return False
    return not any(k[:2] == (c.type, c.dev) for k in p.pgrp.mnthash)


def _svwalk(c: Chan, batch: Sequence[str], omode: int = -1) -> Awaitable[Any]:
    w = c.sv.walk(c, batch) if omode < 0 else c.sv.walkopen(c, batch, omode)
    what = ("walk " if omode < 0 else "walkopen ") + "/".join(batch)
    return _t.svcall("namec", c, what, w) if _t.on else w


def _findmountq(p: Proc, wc: Chan, q: Qid) -> Mhead | None:
    """The union mounted on the file ``q`` of ``wc``'s servant (findmount without a Chan)."""
    mh = p.pgrp.mnthash.get((wc.type, wc.dev, q.path))
    return mh if mh is not None and mh.mounts else None
