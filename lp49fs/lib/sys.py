"""Plan 9 libc's file system calls, each one L4 IPC ``call`` to the core's Mngr.

Every function builds the message of its ``Sys`` number (layouts in ``lp49fs.syscall``) and
runs it on an L4 thread of the calling process (``workers.run``).  Names travel as StringItems;
data travels through the thread's own buffer: ``write`` stores the bytes there and sends the
pages as a MapItem (R), ``read`` sends the pages (R|W) and loads what the core stored.
Failures raise ``Error(ename)`` with the Plan 9 string, also kept for ``errstr()``.

An fd that ``open``/``create`` got a service-bus channel for (``lp49fs.lib.bus``) reads and
writes by IPC to its server instead; ``seek``, ``dup``, ``close`` and ``spawn`` keep its
offset right (``settle`` writes it back to the core when the fd leaves the bus).

``walk`` gives an fd on a file walked but not opened; ``openat``, ``createat``, ``removeat``
and ``walk`` itself resolve a relative name from such an fd (``lp49fs.core.sysat``).
"""

from __future__ import annotations

from contextvars import ContextVar

from kernel.types import Item as _Item
from kernel.types import Msg as _Msg
from kernel.types import R, W
from kernel.types import StringItem as _S
from lp49fs.errors import Ebadarg, Error
from lp49fs.lib import bus
from lp49fs.lib.items import mapitem
from lp49fs.lib.uctx import UThread
from lp49fs.lib.workers import run
from lp49fs.ninep import Dir, decode_dirs, encode_dir
from lp49fs.syscall import MAXIO, MAXSTR, NOFD, Sys

STATBUF = 8192  # buffer for one stat entry (an entry may reach ninep.STATMAX)
DIRREAD = 8192  # bytes asked per dirread


def _s(text: str) -> _S:
    b = text.encode()
    if len(b) > MAXSTR:
        raise Error("file name too long")
    return _S(b)


async def _simple(label: Sys, words: tuple[int, ...] = (), *names: str) -> tuple[int, ...]:
    msg = _Msg(label, words, tuple(_s(n) for n in names))

    async def op(ut: UThread) -> tuple[int, ...]:
        return (await ut.call(msg)).words

    return await run(op)


async def _string(label: Sys, words: tuple[int, ...] = ()) -> str:
    async def op(ut: UThread) -> str:
        r = await ut.call(_Msg(label, words))
        item = r.items[0]
        assert isinstance(item, _S)
        return item.data.decode()

    return await run(op)


async def _bufcall(
    label: Sys, words: tuple[int, ...], n: int, *names: str
) -> tuple[tuple[int, ...], bytes]:
    """A call whose result the core stores into our buffer (read, pread, stat, fstat, walk):
    the reply's words, whose last is the count stored, and the bytes."""
    n = max(0, min(n, MAXIO))

    async def op(ut: UThread) -> tuple[tuple[int, ...], bytes]:
        addr = ut.buf + ut.iooff
        await ut.prefault(addr, n)
        items: tuple[_Item, ...] = (*(_s(x) for x in names), mapitem(addr, n, R | W))
        r = await ut.call(_Msg(label, (*words, addr, n), items))
        got = r.words[-1]
        return r.words, await ut.thread.load(addr, got) if got else b""

    return await run(op)


async def _readbuf(label: Sys, words: tuple[int, ...], n: int, *names: str) -> bytes:
    return (await _bufcall(label, words, n, *names))[1]


async def _writebuf(
    label: Sys, words: tuple[int, ...], data: bytes | memoryview, *names: str
) -> int:
    """A call that hands the core bytes from our buffer (write, pwrite, wstat, fwstat)."""

    async def op(ut: UThread) -> int:
        addr = ut.buf + ut.iooff
        await ut.thread.store(addr, data)
        items: tuple[_Item, ...] = (*(_s(x) for x in names), mapitem(addr, len(data), R))
        r = await ut.call(_Msg(label, (*words, addr, len(data)), items))
        return r.words[0] if r.words else 0

    return await run(op)


async def open(path: str, mode: int) -> int:
    return bus.record(await _simple(Sys.OPEN, (mode,), path))


async def create(path: str, mode: int, perm: int) -> int:
    return bus.record(await _simple(Sys.CREATE, (mode, perm), path))


_nsvers: ContextVar[int] = ContextVar("lp49_nsvers", default=-1)


def nsvers() -> int:
    """The name space version the calling task's last walk, openat or createat answered
    (-1 before any): a program keeping walked fds compares it (lp49fs.core.sysat Rule 4)."""
    return _nsvers.get()


def _at(words: tuple[int, ...]) -> int:
    """Keep the version of an *at reply ``(fd, nsvers, *channel)``; record the fd."""
    _nsvers.set(words[1])
    return bus.record((words[0], *words[2:]))


async def walk(path: str, dirfd: int = NOFD) -> int:
    """An fd on ``path`` walked but not opened, for fstat, fwstat and the *at calls;
    a relative ``path`` starts at walked fd ``dirfd`` (lp49fs.core.sysat)."""
    w = await _simple(Sys.WALK, (dirfd,), path)
    _nsvers.set(w[1])
    return w[0]


async def walkstat(path: str, dirfd: int = NOFD) -> tuple[int, Dir]:
    """``walk`` and ``fstat`` of the new fd in one call."""
    words, b = await _bufcall(Sys.WALK, (dirfd,), STATBUF, path)
    _nsvers.set(words[1])
    return words[0], _dir(b)


async def openat(dirfd: int, path: str, mode: int) -> int:
    """``open`` of ``path`` from walked fd ``dirfd``; "" opens dirfd's own file."""
    return _at(await _simple(Sys.OPENAT, (dirfd, mode), path))


async def createat(dirfd: int, path: str, mode: int, perm: int) -> int:
    return _at(await _simple(Sys.CREATEAT, (dirfd, mode, perm), path))


async def removeat(dirfd: int, path: str) -> None:
    await _simple(Sys.REMOVEAT, (dirfd,), path)


async def settle(fd: int) -> None:
    """Take fd off the bus, writing its offset back to the core (lp49fs.lib.bus Rule 2)."""
    ch = bus.drop(fd)
    if ch is not None and ch.offset:
        await _simple(Sys.SEEK, (fd, ch.offset, 0))


async def read(fd: int, n: int) -> bytes:
    """At most ``n`` (and at most MAXIO) bytes at the fd's offset; b"" at end of file."""
    ch = bus.chan(fd)
    if ch is not None:
        data = await bus.read(ch, max(0, min(n, MAXIO)), ch.offset)
        if data is not None:
            ch.offset += len(data)
            return data
        await settle(fd)
    return await _readbuf(Sys.READ, (fd,), n)


async def pread(fd: int, n: int, offset: int) -> bytes:
    ch = bus.chan(fd)
    if ch is not None and offset >= 0:
        data = await bus.read(ch, max(0, min(n, MAXIO)), offset)
        if data is not None:
            return data
        await settle(fd)
    return await _readbuf(Sys.PREAD, (fd, offset), n)


async def _write1(fd: int, piece: bytes | memoryview, offset: int | None) -> int:
    """One piece of a write (offset None: at the fd's offset)."""
    ch = bus.chan(fd)
    if ch is not None and (offset is None or offset >= 0):
        n = await bus.write(ch, piece, ch.offset if offset is None else offset)
        if n is not None:
            if offset is None:
                ch.offset += n
            return n
        await settle(fd)
    if offset is None:
        return await _writebuf(Sys.WRITE, (fd,), piece)
    return await _writebuf(Sys.PWRITE, (fd, offset), piece)


def _piece(data: bytes | memoryview, done: int) -> bytes | memoryview:
    """The next MAXIO bytes of ``data`` from ``done``: ``data`` itself when it fits, else a view
    (the store into the buffer is the only copy)."""
    if done == 0 and len(data) <= MAXIO:
        return data
    return memoryview(data)[done : done + MAXIO]


async def write(fd: int, data: bytes | memoryview) -> int:
    """Write all of ``data`` (in MAXIO pieces); returns the count written."""
    done = 0
    while True:
        piece = _piece(data, done)
        n = await _write1(fd, piece, None)
        done += n
        if done >= len(data) or n < len(piece):
            return done


async def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
    done = 0
    while True:
        piece = _piece(data, done)
        n = await _write1(fd, piece, offset + done)
        done += n
        if done >= len(data) or n < len(piece):
            return done


async def close(fd: int) -> None:
    bus.drop(fd)
    await _simple(Sys.CLOSE, (fd,))


async def seek(fd: int, offset: int, whence: int) -> int:
    ch = bus.chan(fd)
    if ch is None or whence not in (0, 1, 2):
        return (await _simple(Sys.SEEK, (fd, offset, whence)))[0]
    base = (0, ch.offset, 0)[whence] if whence != 2 else (await fstat(fd)).length
    if base + offset < 0:
        raise Error(Ebadarg)
    ch.offset = base + offset
    return ch.offset


def _dir(b: bytes) -> Dir:
    return decode_dirs(b)[0]


async def stat(path: str) -> Dir:
    return _dir(await _readbuf(Sys.STAT, (), STATBUF, path))


async def fstat(fd: int) -> Dir:
    return _dir(await _readbuf(Sys.FSTAT, (fd,), STATBUF))


async def wstat(path: str, d: Dir) -> None:
    await _writebuf(Sys.WSTAT, (), encode_dir(d), path)


async def fwstat(fd: int, d: Dir) -> None:
    await _writebuf(Sys.FWSTAT, (fd,), encode_dir(d))


async def remove(path: str) -> None:
    await _simple(Sys.REMOVE, (), path)


async def chdir(path: str) -> None:
    await _simple(Sys.CHDIR, (), path)


async def getwd() -> str:
    return await _string(Sys.GETWD)


async def bind(new: str, old: str, flag: int) -> int:
    return (await _simple(Sys.BIND, (flag,), new, old))[0]


async def mount(fd: int, afd: int, old: str, flag: int, aname: str = "") -> int:
    return (await _simple(Sys.MOUNT, (fd, afd, flag), old, aname))[0]


async def unmount(new: str | None, old: str) -> None:
    if new is None:
        await _simple(Sys.UNMOUNT, (0,), old)
    else:
        await _simple(Sys.UNMOUNT, (1,), new, old)


async def pipe() -> tuple[int, int]:
    w = await _simple(Sys.PIPE)
    return w[0], w[1]


async def dup(oldfd: int, newfd: int = -1) -> int:
    await settle(oldfd)  # the two fds share the core's Chan and its offset from now on
    bus.drop(newfd)
    return (await _simple(Sys.DUP, (oldfd, newfd)))[0]


async def fd2path(fd: int) -> str:
    return await _string(Sys.FD2PATH, (fd,))


async def iounit(fd: int) -> int:
    """The most bytes one read or write of ``fd`` moves at once, 0 if unknown (Plan 9
    iounit(2): field 7 of the fd's line in ``#d/Nctl``); for a pipe, what its queue holds."""
    ctl = await open(f"#d/{fd}ctl", 0)
    try:
        line = (await read(ctl, 256)).decode()
    finally:
        await close(ctl)
    f = line.split()
    return int(f[7]) if len(f) > 7 and f[7].isdigit() else 0


async def dirread(fd: int) -> list[Dir]:
    """One read's worth of directory entries; [] at the end."""
    return decode_dirs(await read(fd, DIRREAD))


async def dirreadall(fd: int) -> list[Dir]:
    """Every remaining entry, read in calls of up to MAXIO bytes (fewer calls than dirread)."""
    out: list[Dir] = []
    while ds := decode_dirs(await read(fd, MAXIO)):
        out += ds
    return out


async def readall(fd: int) -> bytes:
    """Read ``fd`` to end of file."""
    out = bytearray()
    while data := await read(fd, 65536):
        out += data
    return bytes(out)


async def fprint(fd: int, text: str) -> int:
    return await write(fd, text.encode())


async def print(text: str) -> int:  # Plan 9 print(2) on fd 1
    return await fprint(1, text)
