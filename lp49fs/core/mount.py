"""Name spaces: the mount table of a process group (Plan 9 ``Pgrp``, ``Mhead``, ``Mount``).

A ``Pgrp`` maps a mount point, identified by (servant letter, dev, qid.path) (``mhkey``;
qid.vers ignored), to an ``Mhead``: the mounted-on Chan (``from_``) and the ordered list of
``Mount`` members.  The list order *is* the union order: a lookup tries members first to last,
and a union directory read reads them in that order.

Rules (Plan 9 bind(2)):

1. Both ends are directories or both are files, else ``inconsistent mount``; -a/-b only on
   directories.
2. The first -a/-b onto a directory that is not yet a mount point makes the directory itself
   the first member (flag 0: it keeps being visible but takes no creates).  MREPL drops every
   member and leaves ``new`` alone.
3. Binding a union (``new`` is itself a mount point, its head given as ``newmh``) brings all of
   its members: ``new`` (already its first member, since namec crossed the mount) with the bind
   flag, the others with the bind order (MAFTER for MREPL), as Plan 9 does.
4. ``-c`` (MCREATE) with a union as ``new`` whose members are not exactly one MCREATE member
   -> ``inconsistent mount``.
5. Ownership: the table holds one reference on ``from_`` and on each member's ``to``; removing
   an entry drops them (``cclose``).  ``copy`` (RFNAMEG) takes new references on everything.
6. ``unmount(old)`` removes the whole entry; ``unmount(new, old)`` removes the member whose
   Chan is ``new`` (or whose server link is ``new``, for mounts), else ``not in union``.
   Removing the last member removes the entry.  No entry -> ``not mounted``.

``Pgrp`` objects are shared by the processes of a name space group (``ref``); ``lp49fs.core.
proc`` does the rfork share/copy/clean operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lp49fs.core.chan import Chan, Path, cclose, eqchantdqid, incref, mhkey
from lp49fs.errors import Einconsistent, Enotmounted, Enotunion, Error
from lp49fs.ninep import QTDIR
from lp49fs.syscall import MAFTER as MAFTER
from lp49fs.syscall import MBEFORE as MBEFORE
from lp49fs.syscall import MCACHE as MCACHE
from lp49fs.syscall import MCREATE as MCREATE
from lp49fs.syscall import MMASK as MMASK
from lp49fs.syscall import MORDER as MORDER
from lp49fs.syscall import MREPL as MREPL


@dataclass(slots=True)
class Mount:
    """One member of a union (Plan 9 ``Mount``)."""

    mountid: int  # the number bind/mount return
    to: Chan  # what is visible here (a servant root, a server root, another dir)
    flag: int  # MCREATE, MCACHE; order bits as given
    spec: str = ""  # the attach spec of a mount ("" for binds)


@dataclass(slots=True)
class Mhead:
    """A mount point and its union (Plan 9 ``Mhead``)."""

    from_: Chan  # the mounted-on file
    mounts: list[Mount] = field(default_factory=list)  # union order


class Pgrp:
    """A name space: the mount table shared by a group of processes."""

    def __init__(self) -> None:
        self.mnthash: dict[tuple[str, int, int], Mhead] = {}  # mhkey(from) -> union
        self.ref = 1  # processes sharing this name space
        self.noattach = False  # RFNOMNT: no mounts, few # paths
        self.nextid = 1  # next mountid
        self.vers = 0  # bumped by every mount and unmount: the qid.vers of #p/N/ns

    def copy(self) -> Pgrp:
        """A new name space with the same mounts (RFNAMEG); takes references (Rule 5)."""
        n = Pgrp()
        n.noattach = self.noattach
        n.nextid = self.nextid
        for key, mh in self.mnthash.items():
            n.mnthash[key] = Mhead(
                incref(mh.from_),
                [Mount(m.mountid, incref(m.to), m.flag, m.spec) for m in mh.mounts],
            )
        return n

    async def close(self) -> None:
        """Drop one sharer; the last one releases every Chan the table holds."""
        self.ref -= 1
        if self.ref > 0:
            return
        heads, self.mnthash = list(self.mnthash.values()), {}
        for mh in heads:
            await _dropmhead(mh)

    def heads(self) -> list[Mhead]:
        """The mount points in the order they were made (for /proc/N/ns)."""
        return sorted(self.mnthash.values(), key=lambda mh: min(m.mountid for m in mh.mounts))


async def _dropmhead(mh: Mhead) -> None:
    for m in mh.mounts:
        await cclose(m.to)
    mh.mounts = []
    await cclose(mh.from_)


def findmount(pg: Pgrp, c: Chan) -> Mhead | None:
    """The union mounted on ``c`` in ``pg``, or None (Plan 9: port/chan.c:/^findmount)."""
    mh = pg.mnthash.get(mhkey(c))
    return mh if mh is not None and mh.mounts else None


def domount(pg: Pgrp, c: Chan) -> tuple[Chan, Mhead | None]:
    """Cross a mount point: the first member of ``c``'s union (a new reference), or ``c``.

    Returns (chan, union head).  When a crossing happens the caller still owns ``c`` and gets
    a new reference on the member; the member carries ``c``'s path (Plan 9: chan.c:/^domount).
    """
    mh = findmount(pg, c)
    if mh is None:
        return c, None
    to = incref(mh.mounts[0].to)
    return to, mh


def undomount(c: Chan, path: Path) -> Chan:
    """Where ``..`` must start from: the mount point left behind by the last element.

    If the last element of ``path`` was reached by crossing a mount, the ``..`` is taken
    from the mounted-on Chan (lexical ``..``); otherwise from ``c`` itself.  No reference is
    taken (Plan 9: chan.c:/^undomount).
    """
    if path.mtpt and path.mtpt[-1] is not None:
        return path.mtpt[-1]
    return c


async def cmount(
    pg: Pgrp, new: Chan, old: Chan, flag: int, spec: str = "", newmh: Mhead | None = None
) -> int:
    """Mount ``new`` on ``old`` with ``flag``; returns the mountid (Plan 9: chan.c:/^cmount).

    ``newmh`` is the union ``new`` was taken from, if ``new`` is a mount point (Rule 3).
    Takes its own references on ``new``, ``old`` and copied members; the caller keeps its own.
    The table is complete before the references MREPL drops are released.
    """
    if (old.qid.type ^ new.qid.type) & QTDIR:
        raise Error(Einconsistent)
    order = flag & MORDER
    if not old.qid.type & QTDIR and order != MREPL:
        raise Error(Einconsistent)
    if (
        flag & MCREATE
        and newmh is not None
        and (len(newmh.mounts) > 1 or not newmh.mounts[0].flag & MCREATE)
    ):
        raise Error(Einconsistent)

    mountid = pg.nextid
    pg.nextid += 1
    pg.vers += 1
    nm = [Mount(mountid, incref(new), flag, spec)]
    if newmh is not None:
        rest = order if order != MREPL else MAFTER
        nm += [Mount(mountid, incref(m.to), rest, m.spec) for m in newmh.mounts[1:]]

    key = mhkey(old)
    mh = pg.mnthash.get(key)
    if mh is None:
        mh = Mhead(incref(old))
        pg.mnthash[key] = mh
        if order != MREPL:
            mh.mounts.append(Mount(mountid, incref(old), 0))
    dropped: list[Mount] = []
    if order == MREPL:
        dropped, mh.mounts = mh.mounts, nm
    elif order == MBEFORE:
        mh.mounts[:0] = nm
    else:
        mh.mounts.extend(nm)
    for m in dropped:
        await cclose(m.to)
    return mountid


async def cunmount(pg: Pgrp, old: Chan, mounted: Chan | None) -> None:
    """Remove ``mounted`` from ``old``'s union, or the whole union (Rule 6)."""
    key = mhkey(old)
    mh = pg.mnthash.get(key)
    if mh is None:
        raise Error(Enotmounted)
    pg.vers += 1
    if mounted is None:
        del pg.mnthash[key]
        await _dropmhead(mh)
        return
    for i, m in enumerate(mh.mounts):
        if _same(m.to, mounted) or (m.to.mchan is not None and _same(m.to.mchan, mounted)):
            del mh.mounts[i]
            await cclose(m.to)
            if not mh.mounts:
                del pg.mnthash[key]
                await cclose(mh.from_)
            return
    raise Error(Enotunion)


def _same(a: Chan, b: Chan) -> bool:
    return a is b or eqchantdqid(a, b.type, b.dev, b.qid)
