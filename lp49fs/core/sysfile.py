"""The file system calls of a process (Plan 9 port/sysfile.c), as async functions.

Every call takes the calling ``Proc`` first, runs with ``up`` set to it (so servants can ask
who calls), and raises ``Error`` with the Plan 9 string on failure.  What the L4 message path
(lib, Mngr, clerks) delivers ends here.

Rules:

1. An fd is an index into ``proc.fgrp``; a bad one -> ``fd out of range or not open``; using
   an fd against its open mode -> ``inappropriate use of fd``; bad mode bits or bind/mount
   flags -> ``bad arg in system call``.
2. ``read``/``write`` use and advance the fd's offset; ``pread``/``pwrite`` take one and leave
   it.  Directories read in whole stat entries; a union directory (an opened mount point with
   several members) reads each member in order, each from offset 0, skipping members that
   fail to open or read; duplicates are kept (``unionread``).  ``seek`` to 0 restarts it.
3. ``bind(new, old, flag)`` and ``mount(fd, afd, old, flag, spec)`` return the mount id.
   ``mount`` calls the ``#M`` servant's ``mntattach(c, ac, spec, flag)`` (see ``MountDev``);
   without ``#M`` in the devtab it is ``mount/attach disallowed``, as after RFNOMNT.
4. ``unmount(None, old)`` removes all of old's union; ``unmount(new, old)`` the member that is
   ``new`` (opened, so ``/srv/x`` names the posted server link) or ``not in union``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import replace
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from lp49fs import trace as _t
from lp49fs.core.chan import CCEXEC, COPEN, Chan, Dev, cclose, incref
from lp49fs.core.mount import MCACHE, MMASK, MORDER, cmount, cunmount
from lp49fs.core.namec import Aaccess, Abind, Acreate, Amount, Aopen, Aremove, Atodir, namec_mh
from lp49fs.core.proc import NFD, charged, up
from lp49fs.errors import (
    Ebadarg,
    Ebadfd,
    Ebadusefd,
    Eisdir,
    Enoattach,
    Error,
)
from lp49fs.ninep import OCEXEC, ORDWR, OREAD, OTRUNC, OWRITE, Dir, decode_dirs

if TYPE_CHECKING:
    from lp49fs.core.proc import Proc

P = ParamSpec("P")
R = TypeVar("R")


class MountDev(Dev, Protocol):
    """The extra entry point of ``#M``: attach a 9P server on the link ``c``."""

    async def mntattach(self, c: Chan, ac: Chan | None, spec: str, flag: int) -> Chan: ...


def syscall(
    f: Callable[Concatenate[Proc, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Proc, P], Coroutine[Any, Any, R]]:
    """Run ``f`` with ``up`` set to its process (the entry point of every system call)."""

    @wraps(f)
    async def call(p: Proc, /, *args: P.args, **kw: P.kwargs) -> R:
        token = up.set(p)  # Proc.running() without a generator context manager per call
        charged.set(p.times)
        try:
            return await f(p, *args, **kw)
        finally:
            up.reset(token)

    return call


def fdtochan(p: Proc, fd: int, mode: int = -1) -> Chan:
    """The Chan at ``fd`` checked against ``mode`` (-1: any, walked or open); no new
    reference."""
    c = p.fgrp.get(fd)
    if mode < 0:
        return c
    if not c.flag & COPEN:  # a walked fd (sysat.walk) is for stat, wstat and *at only
        raise Error(Ebadusefd)
    if c.mode == ORDWR:
        return c
    if mode & OTRUNC and c.mode == OREAD:
        raise Error(Ebadusefd)
    if (mode & ~OTRUNC) != c.mode:
        raise Error(Ebadusefd)
    return c


def checkmode(omode: int) -> None:
    if omode & ~(3 | OTRUNC | OCEXEC | 0x40 | 0x1000):
        raise Error(Ebadarg)


async def putfd(p: Proc, c: Chan, omode: int) -> int:
    """Put ``c`` (the caller's reference) in a free fd; on failure it is closed."""
    if omode & OCEXEC:
        c.flag |= CCEXEC
    try:
        return p.fgrp.newfd(c)
    except Error:
        await cclose(c)
        raise


@syscall
async def open(p: Proc, name: str, omode: int, dot: Chan | None = None) -> int:
    """open(2); ``dot``: where a relative ``name`` starts (the *at calls, sysat.py)."""
    checkmode(omode)
    c, _ = await namec_mh(p, name, Aopen, omode, dot=dot)
    return await putfd(p, c, omode)


@syscall
async def create(p: Proc, name: str, omode: int, perm: int, dot: Chan | None = None) -> int:
    checkmode(omode)
    c, _ = await namec_mh(p, name, Acreate, omode, perm, dot)
    return await putfd(p, c, omode)


@syscall
async def close(p: Proc, fd: int) -> None:
    await cclose(p.fgrp.take(fd))


async def _read(c: Chan, count: int, offset: int) -> bytes:
    if count < 0:
        raise Error(Ebadarg)
    if c.umh is not None:
        return await unionread(c, count)
    if _t.on:
        return await _t.svcall("clerk", c, f"read {count}@{offset}", c.sv.read(c, count, offset))
    return await c.sv.read(c, count, offset)


@syscall
async def read(p: Proc, fd: int, count: int) -> bytes:
    c = fdtochan(p, fd, OREAD)
    data = await _read(c, count, c.offset)
    c.offset += len(data)
    return data


@syscall
async def pread(p: Proc, fd: int, count: int, offset: int) -> bytes:
    c = fdtochan(p, fd, OREAD)
    if c.isdir() and offset != c.offset:
        raise Error(Eisdir)  # directories are read in sequence only
    data = await _read(c, count, offset)
    if c.isdir():
        c.offset += len(data)
    return data


async def _write(c: Chan, data: bytes, offset: int) -> int:
    if c.isdir():
        raise Error(Eisdir)
    if _t.on:
        w = c.sv.write(c, data, offset)
        return await _t.svcall("clerk", c, f"write {len(data)}@{offset}", w)
    return await c.sv.write(c, data, offset)


@syscall
async def write(p: Proc, fd: int, data: bytes) -> int:
    c = fdtochan(p, fd, OWRITE)
    n = await _write(c, data, c.offset)
    c.offset += n
    return n


@syscall
async def pwrite(p: Proc, fd: int, data: bytes, offset: int) -> int:
    return await _write(fdtochan(p, fd, OWRITE), data, offset)


@syscall
async def seek(p: Proc, fd: int, offset: int, whence: int) -> int:
    """Set the offset: whence 0 = absolute, 1 = relative, 2 = from the end (stat length)."""
    c = fdtochan(p, fd)
    if c.isdir() and (whence != 0 or offset != 0):
        raise Error(Eisdir)
    if whence == 0:
        n = offset
    elif whence == 1:
        n = c.offset + offset
    elif whence == 2:
        n = (await c.sv.stat(c)).length + offset
    else:
        raise Error(Ebadarg)
    if n < 0:
        raise Error(Ebadarg)
    if c.isdir():
        umc, c.umc, c.uri = c.umc, None, 0
        await cclose(umc)
    c.offset = n
    return n


async def unionread(c: Chan, count: int) -> bytes:
    """Read the union ``c.umh``: member by member, each from offset 0 (Rule 2)."""
    assert c.umh is not None
    mounts = c.umh.mounts
    while c.uri < len(mounts):
        if c.umc is None:
            to = mounts[c.uri].to
            try:
                wq = await to.sv.walk(to, [])
                assert wq.clone is not None
                c.umc = await wq.clone.sv.open(wq.clone, OREAD)
            except Error:
                c.uri += 1
                continue
        try:
            data = await c.umc.sv.read(c.umc, count, c.umc.offset)
        except Error:
            data = b""
        if data:
            c.umc.offset += len(data)
            return data
        umc, c.umc = c.umc, None
        c.uri += 1
        await cclose(umc)
    return b""


def named(d: Dir, c: Chan) -> Dir:
    """The Dir with the name as looked up (Plan 9 dirsetname)."""
    name = c.path.last()
    return replace(d, name=name) if name and name != d.name else d


@syscall
async def stat(p: Proc, name: str) -> Dir:
    c, _ = await namec_mh(p, name, Aaccess)
    try:
        s = c.sv.stat(c)
        return named(await (_t.svcall("clerk", c, "stat", s) if _t.on else s), c)
    finally:
        await cclose(c)


@syscall
async def fstat(p: Proc, fd: int) -> Dir:
    c = fdtochan(p, fd)
    return await c.sv.stat(c)


@syscall
async def wstat(p: Proc, name: str, d: Dir) -> None:
    c, _ = await namec_mh(p, name, Aaccess)
    try:
        await c.sv.wstat(c, d)
    finally:
        await cclose(c)


@syscall
async def fwstat(p: Proc, fd: int, d: Dir) -> None:
    c = fdtochan(p, fd)
    await c.sv.wstat(c, d)


@syscall
async def remove(p: Proc, name: str, dot: Chan | None = None) -> None:
    """Remove ``name``; the Chan is released even if the servant refuses (9P Tremove)."""
    c, _ = await namec_mh(p, name, Aremove, dot=dot)
    try:
        await c.sv.remove(c)
    finally:
        await cclose(c, clunked=True)


@syscall
async def chdir(p: Proc, name: str) -> None:
    c, _ = await namec_mh(p, name, Atodir)
    old, p.dot = p.dot, c
    await cclose(old)


def _checkflag(flag: int, ismount: bool) -> None:
    if flag & ~MMASK or (flag & MORDER) == MORDER or (not ismount and flag & MCACHE):
        raise Error(Ebadarg)


@syscall
async def bind(p: Proc, new: str, old: str, flag: int) -> int:
    """bind(2): ``new`` is evaluated now (crossing its mount), ``old`` is the mount point."""
    _checkflag(flag, False)  # RFNOMNT refuses mounts and most # paths (namec), not binds
    c0, mh = await namec_mh(p, new, Abind)
    try:
        c1, _ = await namec_mh(p, old, Amount)
        try:
            return await cmount(p.pgrp, c0, c1, flag, "", mh)
        finally:
            await cclose(c1)
    finally:
        await cclose(c0)


@syscall
async def mount(p: Proc, fd: int, afd: int, old: str, flag: int, spec: str = "") -> int:
    """mount(2): attach the server on ``fd`` through ``#M`` and mount it on ``old``."""
    _checkflag(flag, True)
    sv = p.core.devtab.get("M")
    if p.pgrp.noattach or sv is None or not hasattr(sv, "mntattach"):
        raise Error(Enoattach)
    mnt: MountDev = sv  # type: ignore[assignment]
    c = fdtochan(p, fd, ORDWR)
    ac = fdtochan(p, afd, ORDWR) if afd >= 0 else None
    c0 = await mnt.mntattach(c, ac, spec, flag)
    try:
        c1, _ = await namec_mh(p, old, Amount)
        try:
            return await cmount(p.pgrp, c0, c1, flag, spec, None)
        finally:
            await cclose(c1)
    finally:
        await cclose(c0)


@syscall
async def unmount(p: Proc, new: str | None, old: str) -> None:
    c1, _ = await namec_mh(p, old, Amount)
    try:
        if new is None:
            await cunmount(p.pgrp, c1, None)
            return
        c0, _ = await namec_mh(p, new, Aopen, OREAD)
        try:
            await cunmount(p.pgrp, c1, c0)
        finally:
            await cclose(c0)
    finally:
        await cclose(c1)


@syscall
async def dup(p: Proc, oldfd: int, newfd: int = -1) -> int:
    """Copy fd ``oldfd`` to ``newfd`` (closing what was there), or to the lowest free fd."""
    c = incref(p.fgrp.get(oldfd))
    if newfd < 0:
        if newfd != -1:
            await cclose(c)
            raise Error(Ebadfd)
        return await putfd(p, c, 0)
    if newfd >= NFD:
        await cclose(c)
        raise Error(Ebadfd)
    fds = p.fgrp.fd
    fds.extend([None] * (newfd + 1 - len(fds)))
    old, fds[newfd] = fds[newfd], c
    await cclose(old)
    return newfd


@syscall
async def fd2path(p: Proc, fd: int) -> str:
    return p.fgrp.get(fd).path.s


async def dirread(p: Proc, fd: int, count: int = 8192) -> list[Dir]:
    """One read of directory ``fd``, decoded (libc dirread)."""
    return decode_dirs(await read(p, fd, count))


async def readall(p: Proc, fd: int, chunk: int = 8192) -> bytes:
    """Read ``fd`` to EOF."""
    out = bytearray()
    while data := await read(p, fd, chunk):
        out += data
    return bytes(out)


__all__ = [
    "bind", "chdir", "checkmode", "close", "create", "dirread", "dup", "fd2path", "fdtochan",
    "fstat", "fwstat", "mount", "named", "open", "pread", "putfd", "pwrite", "read", "readall",
    "remove", "seek", "stat", "unionread", "unmount", "write", "wstat",
]  # fmt: skip
