"""Name resolution: from a path string to a Chan, through a process's name space.

``namec(proc, name, amode, omode, perm)`` (Plan 9: port/chan.c:/^namec) parses the name,
picks the starting Chan, walks the elements with ``walk`` and finishes according to the
access mode:

* the start is ``proc.slash`` for ``/...``, an attach of servant ``x`` for ``#x[spec]/...``
  (``spec`` is everything up to the next ``/``), else ``proc.dot``;
* ``.`` and empty elements are dropped; ``..`` is kept and is **lexical** (see ``walk``);
* ``#`` paths never cross mount points; others cross a mount point before each step.

Access modes and what happens at the last element:

======== ============================================ ======================================
amode    used by                                      last element
======== ============================================ ======================================
Aaccess  stat, access                                 crossed if a mount point
Atodir   chdir                                        not crossed; must be a directory
Abind    bind's ``new``                               crossed; the union head is returned too
Amount   bind/mount ``old``, unmount                  not crossed (it is the mount point)
Aopen    open                                         crossed, then opened
Acreate  create                                       see ``_create``
Aremove  remove                                       not crossed
======== ============================================ ======================================

Errors keep Plan 9's shape: a walk failure names the prefix that failed, e.g.
``'/x/y' does not exist`` or ``'/env/a/b' not a directory``.

References: ``namec`` returns a new reference that the caller owns.  ``walk`` consumes the
reference it is given and returns a new one.  ``Path.mtpt`` entries hold no counted
reference: they are only ever used as a walk origin for ``..``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import TYPE_CHECKING, Any

from lp49fs import trace as _t
from lp49fs.core.chan import CCREATE, COPEN, CRCLOSE, Chan, Path, Walkqid, cclone, cclose, incref
from lp49fs.core.mount import MCREATE, Mhead, domount, findmount, undomount
from lp49fs.errors import (
    Ebadchar,
    Ebadsharp,
    Edoesnotexist,
    Eemptyname,
    Eexist,
    Enoattach,
    Enocreate,
    Enonexist,
    Enotdir,
    Error,
)
from lp49fs.ninep import MAXWELEM, OCEXEC, OEXCL, ORCLOSE, OTRUNC, QTDIR, Qid

if TYPE_CHECKING:
    from lp49fs.core.proc import Proc

Aaccess, Atodir, Abind, Amount, Aopen, Acreate, Aremove = range(7)

NOMNT_OK = "|decp"  # the # letters still allowed after RFNOMNT


@dataclass(frozen=True, slots=True)
class Name:
    """A parsed name: where it starts and the elements to walk."""

    start: str  # "/", "#x<spec>" or "" (dot)
    dc: str  # the servant letter for "#x" names, else ""
    spec: str  # the attach spec for "#x" names
    elems: tuple[str, ...]  # without "." and empty elements

    def prefix(self, n: int) -> str:
        """The name up to and including element n (for error messages)."""
        parts = self.elems[:n]
        if self.start == "/":
            return "/" + "/".join(parts)
        if self.start:
            return "/".join((self.start, *parts))
        return "/".join(parts) or "."


class WalkError(Error):
    """A walk failure: ``nerror`` elements were consumed when ``ename`` happened."""

    def __init__(self, ename: str, nerror: int) -> None:
        super().__init__(ename)
        self.nerror = nerror


_BADCHAR = re.compile("[\x00-\x1f\x7f]")


@lru_cache(maxsize=512)
def parsename(name: str) -> Name:
    """Split ``name`` (Plan 9 parsename); bad characters -> ``Error(Ebadchar)``.

    A Name is immutable, so the same string parses once: the names a process uses again
    and again (``/dev/null``, a file it reopens) cost one cache lookup.
    """
    if not name:
        raise Error(Eemptyname)
    if _BADCHAR.search(name):
        raise Error(Ebadchar)
    if name[0] == "/":
        start, dc, spec, rest = "/", "", "", name[1:]
    elif name[0] == "#":
        if len(name) < 2 or name[1] == "/":
            raise Error(Ebadsharp)
        head, _, rest = name.partition("/")
        start, dc, spec = head, head[1], head[2:]
    else:
        start, dc, spec, rest = "", "", "", name
    elems = tuple(e for e in rest.split("/") if e and e != ".")
    return Name(start, dc, spec, elems)


async def walk(p: Proc, c: Chan, names: Sequence[str], nomount: bool, omode: int = -1) -> Chan:
    """Walk ``names`` from ``c`` through ``p``'s name space; all or nothing.

    Consumes the caller's reference on ``c``; returns a new Chan whose ``path`` extends
    ``c.path``.  On failure raises ``WalkError`` with the number of elements consumed.
    The loop (Plan 9: port/chan.c:/^walk), for each batch of at most MAXWELEM names:

    1. ``..`` is walked alone and lexically: from the mount point the last element
       crossed (``undomount``), so ``P/..`` is P without its last element.
    2. Otherwise cross a mount point at ``c`` (unless ``nomount``): ``c`` becomes the first
       union member and the element records the crossing.
    3. Walk the batch on ``c``; if the first name fails, try the other union members in
       order (the first that walks wins: earlier members shadow later ones).
    4. If an intermediate qid is a mount point, stop there and continue from its first
       member (the next batch restarts at it); else take what the walk reached, or fail.
    With ``omode`` >= 0 (Aopen), a last batch no mount can stop (no union at ``c``, no mounts
    on its servant's files) goes to ``walkopen``, which may return it open.
    """
    pg = p.pgrp
    path = c.path
    nhave = 0
    crossedmh: Mhead | None = None  # the union step 4 crossed into (c is its first member)
    try:
        while nhave < len(names):
            if names[nhave] == "..":  # step 1
                crossedmh = None
                nc = await _dotdot(c, path)
                path = path.dotdot()
                await cclose(c)
                c = nc
                nhave += 1
                continue
            mh, crossedmh = crossedmh, None
            if not nomount and mh is None:  # step 2
                crossed, mh = domount(pg, c)
                if mh is not None:
                    if _t.on:
                        _t.ev("namec", "namec", f"mount table: {path.s}: union of {len(mh.mounts)}")
                    path = _crossed(path, mh.from_)
                    await cclose(c)
                    c = crossed
            ntry = min(len(names) - nhave, MAXWELEM)
            if ".." in names[nhave : nhave + ntry]:
                ntry = names.index("..", nhave) - nhave
            batch = names[nhave : nhave + ntry]
            if omode >= 0 and nhave + ntry == len(names) and (mh is None or len(mh.mounts) == 1
                    ) and not any(k[:2] == (c.type, c.dev) for k in pg.mnthash) and (
                    oc := await _svwalk(c, batch, omode & ~OCEXEC)) is not None:
                path = reduce(Path.addelem, batch, path)
                await cclose(c)
                c = oc
                break
            wq, wc = await _unionwalk(c, mh, batch, nhave)  # step 3
            n = len(wq.qids)
            nmh: Mhead | None = None
            stop = -1
            if not nomount:  # step 4
                for i, q in enumerate(wq.qids[: ntry - 1]):
                    nmh = _findmountq(p, wc, q)
                    if nmh is not None:
                        stop = i
                        break
            if nmh is not None:
                if _t.on:
                    _t.ev("namec", "namec", f"mount table: {batch[stop]} is a mount point")
                if wq.clone is not None:
                    await cclose(wq.clone)
                nc = incref(nmh.mounts[0].to)
                n = stop + 1
                crossedmh = nmh
            elif wq.clone is None:
                last = wq.qids[-1] if wq.qids else None
                if last is None or last.type & QTDIR:
                    raise WalkError(Edoesnotexist, nhave + n + 1)
                raise WalkError(Enotdir, nhave + n)
            else:
                nc = wq.clone
            for i in range(n):
                path = path.addelem(batch[i], nmh.from_ if nmh is not None and i == n - 1 else None)
            await cclose(c)
            c = nc
            nhave += n
    except BaseException:
        await cclose(c)
        raise
    c.path = path
    return c


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


def _svwalk(c: Chan, batch: Sequence[str], omode: int = -1) -> Awaitable[Any]:
    w = c.sv.walk(c, batch) if omode < 0 else c.sv.walkopen(c, batch, omode)
    what = ("walk " if omode < 0 else "walkopen ") + "/".join(batch)
    return _t.svcall("namec", c, what, w) if _t.on else w


def _findmountq(p: Proc, wc: Chan, q: Qid) -> Mhead | None:
    """The union mounted on the file ``q`` of ``wc``'s servant (findmount without a Chan)."""
    mh = p.pgrp.mnthash.get((wc.type, wc.dev, q.path))
    return mh if mh is not None and mh.mounts else None


async def namec(p: Proc, name: str, amode: int, omode: int = 0, perm: int = 0) -> Chan:
    """Resolve ``name`` for ``p`` as ``amode`` says (see the module table); new reference."""
    c, _ = await namec_mh(p, name, amode, omode, perm)
    return c


async def namec_mh(
    p: Proc, name: str, amode: int, omode: int = 0, perm: int = 0
) -> tuple[Chan, Mhead | None]:
    """``namec`` that also returns the union head crossed at the last element (for Abind)."""
    if _t.on:
        _t.ev("clerk", "namec", f"namec {name!r}")
    nm = parsename(name)
    nomount = bool(nm.dc)
    if nm.dc:
        if nm.dc == "M" or (p.pgrp.noattach and nm.dc not in NOMNT_OK):
            raise Error(Enoattach)
        c = await p.core.dev(nm.dc).attach(nm.spec)
        c.path = Path(nm.start)
    else:
        c = incref(p.slash if nm.start == "/" else p.dot)
    elems = list(nm.elems)
    last = ""
    if amode == Acreate:
        if not elems:
            await cclose(c)
            raise Error(Eexist)
        last = elems.pop()
    try:
        c = await walk(p, c, elems, nomount, omode if amode == Aopen else -1)
    except WalkError as e:
        raise Error(f"'{nm.prefix(e.nerror)}' {e.ename}") from None
    mh: Mhead | None = None
    try:
        if amode == Aopen and c.flag & COPEN:  # walkopen did both
            c.flag |= CRCLOSE if omode & ORCLOSE else 0
        elif amode in (Aaccess, Abind, Aopen):
            c, mh = await _crossfinal(p, c, nomount)
        else:
            c = await cunique(c)
        if amode == Atodir and not c.isdir():
            raise Error(Enotdir)
    except BaseException:
        await cclose(c)
        raise
    if amode == Aopen and not c.flag & COPEN:
        c = await _open(c, mh, omode)
    elif amode == Acreate:
        c = await _create(p, c, last, omode, perm, nomount)
    if _t.on:
        _t.ev("namec", "clerk", f"-> #{c.sv.dc} {c.path.s} qid {c.qid}")
    return c, mh


async def _open(c: Chan, mh: Mhead | None, omode: int) -> Chan:
    """Open ``c`` (consumed); union directories remember their head for unionread."""
    try:
        o = c.sv.open(c, omode & ~OCEXEC)
        c = await (_t.svcall("namec", c, f"open {omode}", o) if _t.on else o)
    except BaseException:
        await cclose(c)
        raise
    c.flag |= CRCLOSE if omode & ORCLOSE else 0
    if mh is not None and c.isdir() and len(mh.mounts) > 1:
        c.umh = mh
    return c


async def _create(p: Proc, c: Chan, name: str, omode: int, perm: int, nomount: bool) -> Chan:
    """create(2) in directory ``c`` (consumed): open OTRUNC if ``name`` exists, else create.

    ``c`` is the parent as walked, not crossed: the lookup of ``name`` searches its whole
    union.  The create goes to the first MCREATE member; none -> ``Enocreate``; a plain
    directory (no mount) takes the create itself.
    """
    if name == "..":
        await cclose(c)
        raise Error(Eexist)
    mh = None if nomount else findmount(p.pgrp, c)
    try:
        e = await walk(p, incref(c), [name], nomount)
    except WalkError:
        e = None
    except BaseException:
        await cclose(c)
        raise
    if e is not None:
        await cclose(c)
        if omode & OEXCL:
            await cclose(e)
            raise Error(Eexist)
        e, emh = await _crossfinal(p, e, nomount)
        return await _open(e, emh, omode | OTRUNC)
    if mh is not None:
        member = next((m.to for m in mh.mounts if m.flag & MCREATE), None)
        if member is None:
            await cclose(c)
            raise Error(Enocreate)
        dirc = await cclone(member)
    else:
        dirc = await cclone(c)
    path = c.path.addelem(name)
    await cclose(c)
    try:
        nc = await dirc.sv.create(dirc, name, omode & ~(OCEXEC | OEXCL), perm)
    except BaseException:
        await cclose(dirc)
        raise
    nc.path = path
    nc.flag |= CCREATE
    if omode & ORCLOSE:
        nc.flag |= CRCLOSE
    return nc


async def _crossfinal(p: Proc, c: Chan, nomount: bool) -> tuple[Chan, Mhead | None]:
    """Cross a mount point at the final element; the result is unshared (``cunique``)."""
    mh = None
    if not nomount:
        crossed, mh = domount(p.pgrp, c)
        if mh is not None:
            path = c.path
            try:
                nc = await cunique(crossed)  # may fail: a #M clone is a 9P walk
            except BaseException:
                await cclose(crossed)  # the caller still owns c
                raise
            await cclose(c)
            c = nc
            c.path = path
    return await cunique(c), mh


async def cunique(c: Chan) -> Chan:
    """``c`` if this is its only reference, else a private clone (Plan 9 cunique)."""
    if c.ref == 1:
        return c
    nc = await cclone(c)
    await cclose(c)
    return nc
