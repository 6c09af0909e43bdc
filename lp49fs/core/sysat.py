"""The *at system calls: an fd on a walked, unopened file, and names resolved from it.

Theory of operation.  Plan 9 resolves a name from ``/`` or from dot on every call, so a
program that comes back to the same files again and again (the FUSE view: one request per
kernel operation on an inode) pays the whole walk each time.  ``walk`` gives it an fd on the
Chan ``namec`` reaches with ``Aaccess`` -- the file ``stat`` of that name looks at, crossed if
its last element is a mount point -- without opening it (Linux's ``O_PATH``; in 9P terms a
fid walked but not opened).  The other calls take such an fd, ``dirfd``, as where a relative
name starts: it is namec's ``dot`` for that one call, so everything else is the ordinary
path (``sysfile.open``, ``create``, ``remove`` with ``dot``).

Rules:

1. ``walk(dirfd, name)`` -> fd: namec's walk of ``name`` from ``dirfd`` (or, with
   ``syscall.NOFD``, from ``/`` or dot as ``open`` would), optionally with the file's stat
   entry (one call for the FUSE lookup).  It runs the walk ``open`` and ``stat`` run, so the
   same permission checks apply (a server checks search permission on each directory it
   walks; ``Aopen``'s mode check happens at ``openat``).
2. A walked fd is good for ``fstat``, ``fwstat``, ``fd2path``, ``dup``, ``close`` and as a
   ``dirfd``; ``read``, ``write``, ``seek`` semantics and ``mount`` need an open fd and refuse
   it (``inappropriate use of fd``, ``sysfile.fdtochan``).  A ``dirfd`` that is open for
   I/O cannot be walked from (9P: an open fid is not walked): ``file already open for I/O``.
3. ``openat(dirfd, name, mode)``: ``""`` or ``"."`` opens ``dirfd``'s own file, on a new
   Chan (``dirfd`` stays walked), in one servant step where the servant can walk and open
   at once (``walkopen`` with no names: one 9P exchange on ``#M``); a walked union
   directory opens as that union (``umh``, kept on the walked Chan for this).  Other names
   are ``open(name)`` from ``dirfd``; ``createat`` and ``removeat`` alike.  Names that
   start with ``/`` or ``#`` ignore ``dirfd``, as in Linux.
4. The fd names the file, not the name: a later bind, rename or remove does not change what
   it reaches (an open fd behaves the same).  A removed file's fd answers as its servant or
   server does for a removed file.  So that a program keeping fds per name can tell when
   names may mean other files now, ``walk``, ``openat`` and ``createat`` answer the
   caller's name space version too (the qid.vers of ``#p/N/ns``: moved by every bind,
   mount and unmount), as the FUSE view uses it (lp49fs.fuse.fids).
5. Walked fds are fds: they count against ``proc.NFD`` and close with the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel.types import MapItem, Msg
from lp49fs.core import bus, sysfile
from lp49fs.core.chan import COPEN, CRCLOSE, Chan, cclone, closeonerror
from lp49fs.core.namec import Aaccess, _open, namec_mh
from lp49fs.core.prochandlers import OKMSG, _ok, _strs
from lp49fs.core.sysfile import checkmode, named, putfd, syscall
from lp49fs.core.walk import _crossed, _openable, _svwalk
from lp49fs.errors import Eisopen, Error
from lp49fs.ninep import OCEXEC, ORCLOSE, Dir, encode_dir
from lp49fs.syscall import NOFD

if TYPE_CHECKING:
    from lp49fs.core.clerk import Clerk
    from lp49fs.core.proc import Proc
    from lp49fs.core.procmgr import PInfo


def dirchan(p: Proc, dirfd: int) -> Chan | None:
    """The walked Chan of ``dirfd`` (no new reference), None for NOFD (Rule 2)."""
    if dirfd == NOFD:
        return None
    c = p.fgrp.get(dirfd)
    if c.flag & COPEN:
        raise Error(Eisopen)
    return c


@syscall
async def walk(p: Proc, dirfd: int, name: str, want: bool = False) -> tuple[int, Dir | None]:
    """Rule 1: an fd on ``name`` walked, not opened; and its stat entry if ``want``."""
    c, mh = await namec_mh(p, name or ".", Aaccess, dot=dirchan(p, dirfd))
    if mh is not None:  # record the crossing, so ".." from the fd goes back over it
        c.path = _crossed(c.path, mh.from_)
    d = None
    async with closeonerror(c):
        if want:
            d = named(await c.sv.stat(c), c)
        if mh is not None and c.isdir() and len(mh.mounts) > 1:
            c.umh = mh  # Rule 3: opened again, it reads as the union
    return await putfd(p, c, 0), d


async def _reopen(p: Proc, d: Chan, omode: int) -> Chan:
    """Rule 3: a new Chan on walked ``d``'s file, open for ``omode``."""
    mh = d.umh
    if mh is None and _openable(p, d, None):
        oc = await _svwalk(d, [], omode & ~OCEXEC)
        if oc is not None:
            oc.path = d.path
            oc.flag |= CRCLOSE if omode & ORCLOSE else 0
            return oc  # type: ignore[no-any-return]
    return await _open(await cclone(d), mh, omode)


@syscall
async def openat(p: Proc, dirfd: int, name: str, omode: int) -> int:
    """Rule 3: open ``name`` from ``dirfd``; "" or "." opens dirfd's own file."""
    checkmode(omode)
    d = dirchan(p, dirfd)
    if d is None or name not in ("", "."):
        return await sysfile.open(p, name or ".", omode, d)
    return await putfd(p, await _reopen(p, d, omode), omode)


@syscall
async def createat(p: Proc, dirfd: int, name: str, omode: int, perm: int) -> int:
    return await sysfile.create(p, name, omode, perm, dirchan(p, dirfd))


@syscall
async def removeat(p: Proc, dirfd: int, name: str) -> None:
    await sysfile.remove(p, name, dirchan(p, dirfd))


# -- the handlers (layouts: lp49fs.syscall.Sys) --
async def sys_walk(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    want = any(isinstance(it, MapItem) for it in m.items)
    if want:
        c._local(m)  # a bad buffer fails before the walk
    fd, d = await walk(pi.proc, m.words[0], _strs(m)[0], want)
    if d is None:
        return _ok(fd, pi.proc.pgrp.vers, 0)
    try:
        return _ok(fd, pi.proc.pgrp.vers, c.copyout(m, encode_dir(d)))
    except Error:
        await sysfile.close(pi.proc, fd)
        raise


async def sys_openat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    fd = await openat(pi.proc, m.words[0], _strs(m)[0], m.words[1])
    return _ok(fd, pi.proc.pgrp.vers, *await bus.grant(c, pi, fd))


async def sys_createat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    fd = await createat(pi.proc, m.words[0], _strs(m)[0], m.words[1], m.words[2])
    return _ok(fd, pi.proc.pgrp.vers, *await bus.grant(c, pi, fd))


async def sys_removeat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await removeat(pi.proc, m.words[0], _strs(m)[0])
    return OKMSG
