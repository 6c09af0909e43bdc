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
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from lp49fs import trace as _t
from lp49fs.core.chan import (
    CCREATE,
    COPEN,
    CRCLOSE,
    Chan,
    Path,
    cclone,
    cclose,
    closeonerror,
    incref,
)
from lp49fs.core.mount import MCREATE, Mhead, domount, findmount
from lp49fs.core.walk import WalkError, walk
from lp49fs.errors import (
    Ebadchar,
    Ebadsharp,
    Eemptyname,
    Eexist,
    Enoattach,
    Enocreate,
    Enotdir,
    Error,
)
from lp49fs.ninep import OCEXEC, OEXCL, ORCLOSE, OTRUNC

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


async def namec(p: Proc, name: str, amode: int, omode: int = 0, perm: int = 0) -> Chan:
    """Resolve ``name`` for ``p`` as ``amode`` says (see the module table); new reference."""
    c, _ = await namec_mh(p, name, amode, omode, perm)
    return c


async def namec_mh(
    p: Proc, name: str, amode: int, omode: int = 0, perm: int = 0, dot: Chan | None = None
) -> tuple[Chan, Mhead | None]:
    """``namec`` that also returns the union head crossed at the last element (for Abind);
    ``dot``: where a relative name starts instead of ``p.dot`` (the *at calls, sysat.py)."""
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
        c = incref(p.slash if nm.start == "/" else dot or p.dot)
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
    async with closeonerror(c) as h:  # each consumes the reference only if it succeeds
        if amode == Aopen and h.c.flag & COPEN:  # walkopen did both
            h.c.flag |= CRCLOSE if omode & ORCLOSE else 0
        elif amode in (Aaccess, Abind, Aopen):
            h.c, mh = await _crossfinal(p, h.c, nomount)
        else:
            h.c = await cunique(h.c)
        if amode == Atodir and not h.c.isdir():
            raise Error(Enotdir)
    c = h.c
    if amode == Aopen and not c.flag & COPEN:
        c = await _open(c, mh, omode)
    elif amode == Acreate:
        c = await _create(p, c, last, omode, perm, nomount)
    if _t.on:
        _t.ev("namec", "clerk", f"-> #{c.sv.dc} {c.path.s} qid {c.qid}")
    return c, mh


async def _open(c: Chan, mh: Mhead | None, omode: int) -> Chan:
    """Open ``c`` (consumed); union directories remember their head for unionread."""
    async with closeonerror(c) as h:  # open consumes c only if it succeeds
        o = c.sv.open(c, omode & ~OCEXEC)
        h.c = await (_t.svcall("namec", c, f"open {omode}", o) if _t.on else o)
    c = h.c
    if omode & ORCLOSE:
        c.flag |= CRCLOSE
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
    mh = None if nomount else findmount(p.pgrp, c) or c.umh  # umh: a walked union (sysat)
    async with closeonerror(c):
        try:
            e: Chan | None = await walk(p, incref(c), [name], nomount)
        except WalkError:
            e = None
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
    async with closeonerror(dirc):
        nc = await dirc.sv.create(dirc, name, omode & ~(OCEXEC | OEXCL), perm)
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
            async with closeonerror(crossed):  # a #M clone is a 9P walk; c stays the caller's
                nc = await cunique(crossed)
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
