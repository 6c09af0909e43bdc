"""The *at system calls (lp49fs.core.sysat): walk, openat, createat, removeat.

Every test runs as an LP49 process on a booted node, through the real L4 IPC path; the ramfs
ones go through ``#M`` and the ramfs server process, the others through servants.
"""

from __future__ import annotations

import pytest

from lp49fs import lib
from lp49fs.errors import Ebadfd, Ebadusefd, Eisopen, Eperm, Error
from lp49fs.ninep import DMDIR, OREAD, OWRITE, decode_dirs
from lp49fs.node.boot import Node
from tests.lib_helpers import node, rnode, run_as

__all__ = ["node", "rnode"]


async def _names(fd: int) -> set[str]:
    out: set[str] = set()
    while data := await lib.read(fd, 8192):
        out |= {d.name for d in decode_dirs(data)}
    return out


async def test_walk_gives_an_unopened_fd_for_stat_and_at_calls(node: Node) -> None:
    async def body() -> None:
        fd = await lib.create("/env/k", OWRITE, 0o644)
        await lib.write(fd, b"value")
        await lib.close(fd)
        w, d = await lib.walkstat("/env/k")
        assert d == await lib.stat("/env/k") == await lib.fstat(w)
        for bad in (lib.read(w, 5), lib.write(w, b"x")):  # Rule 2: not open for I/O
            with pytest.raises(Error) as e:
                await bad
            assert e.value.ename == Ebadusefd
        r = await lib.openat(w, "", OREAD)  # Rule 3: dirfd's own file, on a new fd
        assert r != w and await lib.read(r, 100) == b"value"
        with pytest.raises(Error) as e:
            await lib.walk("x", r)  # an open fd is not walked from
        assert e.value.ename == Eisopen
        await lib.close(r)
        assert (await lib.fstat(w)).name == "k"  # w stays walked
        assert await lib.fd2path(w) == "/env/k"
        await lib.close(w)
        with pytest.raises(Error) as e:
            await lib.fstat(w)
        assert e.value.ename == Ebadfd

    await run_as(node, body)


async def test_walk_of_a_union_keeps_the_union(node: Node) -> None:
    """/dev is a union (#c, then #S ...): a name of a later member is found from its fd,
    and opening the fd reads every member, as open("/dev") does."""

    async def body() -> None:
        fd = await lib.open("/dev", OREAD)
        want = await _names(fd)
        await lib.close(fd)
        d = await lib.walk("/dev")
        r = await lib.openat(d, "", OREAD)
        assert await _names(r) == want
        await lib.close(r)
        later = sorted(want - {"sysname", "cons", "null"})
        for name in ("sysname", *later[:3]):
            w, st = await lib.walkstat(name, d)
            assert st == await lib.stat(f"/dev/{name}")
            await lib.close(w)
        up, st = await lib.walkstat("..", d)  # lexical, as from the path
        assert st.qid == (await lib.stat("/")).qid
        await lib.close(up)
        await lib.close(d)

    await run_as(node, body)


async def test_at_calls_on_a_mounted_server(rnode: Node) -> None:
    async def body() -> None:
        t = await lib.walk("/tmp")  # the ramfs root, crossed at the mount point
        assert (await lib.fstat(t)).qid == (await lib.stat("/tmp")).qid
        fd = await lib.createat(t, "sub", OREAD, DMDIR | 0o755)
        await lib.close(fd)
        s = await lib.walk("sub", t)
        fd = await lib.createat(s, "f", OWRITE, 0o644)
        await lib.write(fd, b"hello")
        await lib.close(fd)
        f = await lib.walk("f", s)
        r = await lib.openat(f, "", OREAD)
        assert await lib.read(r, 100) == b"hello"
        await lib.close(r)
        r = await lib.openat(s, "f", OREAD)
        assert await lib.read(r, 100) == b"hello"
        await lib.close(r)
        up, st = await lib.walkstat("..", t)  # back over the mount point: "/"
        assert st.qid == (await lib.stat("/")).qid
        await lib.close(up)
        await lib.removeat(s, "f")  # the walked fd f now names a removed file
        with pytest.raises(Error):
            await lib.stat("/tmp/sub/f")
        with pytest.raises(Error):  # Rule 4: it does not come back by being opened
            await lib.close(await lib.openat(f, "", OREAD))
        await lib.close(f)
        await lib.removeat(t, "sub")
        for fd in (s, t):
            await lib.close(fd)

    await run_as(rnode, body)


async def test_at_calls_check_permissions_as_open_does(rnode: Node) -> None:
    async def body() -> None:
        fd = await lib.create("/tmp/ro", OWRITE, 0o444)
        await lib.close(fd)
        w = await lib.walk("/tmp/ro")  # a walk needs no permission on the file itself
        for call in (lib.openat(w, "", OWRITE), lib.open("/tmp/ro", OWRITE)):
            with pytest.raises(Error) as e:
                await call
            assert e.value.ename == Eperm
        await lib.close(await lib.openat(w, "", OREAD))
        await lib.close(w)
        fd = await lib.create("/tmp/shut", OREAD, DMDIR | 0o500)  # no write permission
        await lib.close(fd)
        d = await lib.walk("/tmp/shut")
        errs = []
        for call in (lib.createat(d, "f", OWRITE, 0o644), lib.create("/tmp/shut/f", OWRITE,
                                                                    0o644)):  # fmt: skip
            with pytest.raises(Error) as e:
                await lib.close(await call)
            errs.append(e.value.ename)
        assert errs[0] == errs[1] and Eperm in errs[0]  # refused alike
        await lib.close(d)

    await run_as(rnode, body)
