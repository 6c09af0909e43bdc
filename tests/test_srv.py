"""#s srv: post a channel by fd number, reopen it (the very same Chan), remove, errors."""

from __future__ import annotations

import pytest

from lp49fs.core.chan import Chan, cclose
from lp49fs.core.core import Core
from lp49fs.core.proc import Proc, newproc
from lp49fs.errors import Ebadusefd, Eexist, Enonexist, Eperm, Error, Eshutdown
from lp49fs.ninep import ORDWR, OREAD, OTRUNC, OWRITE, decode_dirs
from lp49fs.servants import boot_core
from lp49fs.servants.pipe import Pipe
from lp49fs.servants.srv import Srv


class World:
    def __init__(self, core: Core, srv: Srv, pipe: Pipe, proc: Proc) -> None:
        self.core, self.srv, self.pipe, self.proc = core, srv, pipe, proc

    async def pipefd(self) -> tuple[int, Chan, Chan]:
        """A pipe: data1 goes in the fd table (as a server's end), data is returned."""
        d = await self.pipe.attach("")
        ends = []
        for name in ("data", "data1"):
            wq = await self.pipe.walk(d, [name])
            assert wq.clone is not None
            ends.append(await self.pipe.open(wq.clone, ORDWR))
        await cclose(d)
        return self.proc.fgrp.newfd(ends[1]), ends[0], ends[1]

    async def post(self, name: str, fd: int) -> Chan:
        c = await self.srv.create(await self.srv.attach(""), name, OWRITE, 0o600)
        assert await self.srv.write(c, b"%d" % fd, 0) == len(b"%d" % fd)
        return c

    async def open(self, name: str, omode: int = ORDWR) -> Chan:
        wq = await self.srv.walk(await self.srv.attach(""), [name])
        assert wq.clone is not None
        return await self.srv.open(wq.clone, omode)


@pytest.fixture
async def w() -> World:
    core = boot_core(Core(), ("root", "pipe", "srv"))
    srv, pipe = core.devtab["s"], core.devtab["|"]
    assert isinstance(srv, Srv) and isinstance(pipe, Pipe)
    slash = await core.attach("R")
    p = newproc(core, slash)
    await cclose(slash)
    return World(core, srv, pipe, p)


async def test_post_and_reopen_is_the_same_chan(w: World) -> None:
    with w.proc.running():
        fd, near, far = await w.pipefd()
        await w.post("ramfs", fd)
        c = await w.open("ramfs")
        assert c is far  # the posted channel itself
        assert far.ref == 3  # fd table, srv entry, our open
        await w.pipe.write(c, b"Tversion", 0)
        assert await w.pipe.read(near, 100, 0) == b"Tversion"
        d = await w.srv.open(await w.srv.attach(""), OREAD)
        [ent] = decode_dirs(await w.srv.read(d, 8192, 0))
        assert (ent.name, ent.mode, ent.uid) == ("ramfs", 0o600, "glenda")
        assert w.srv.srvname(far) == "#s/ramfs"
        assert w.srv.srvname(near) is None


async def test_registry_is_per_node_not_per_process(w: World) -> None:
    with w.proc.running():
        fd, _, far = await w.pipefd()
        await w.post("x", fd)
    slash = await w.core.attach("R")
    other = newproc(w.core, slash, name="other")
    with other.running():
        assert await w.open("x") is far


async def test_errors(w: World) -> None:
    with w.proc.running():
        fd, _, _ = await w.pipefd()
        c = await w.srv.create(await w.srv.attach(""), "s", OWRITE, 0o666)
        with pytest.raises(Error) as e:
            await w.open("s")  # nothing posted yet
        assert e.value.ename == Eshutdown
        await w.srv.write(c, b"%d" % fd, 0)
        with pytest.raises(Error) as e:
            await w.srv.write(c, b"%d" % fd, 0)  # exactly once
        assert e.value.ename == Ebadusefd
        with pytest.raises(Error) as e:
            await w.srv.create(await w.srv.attach(""), "s", OWRITE, 0o666)
        assert e.value.ename == Eexist
        with pytest.raises(Error) as e:
            await w.open("s", OWRITE | OTRUNC)
        assert e.value.ename == Eexist
        with pytest.raises(Error) as e:
            await w.srv.create(await w.srv.attach(""), "t", OREAD, 0o666)
        assert e.value.ename == Eperm
        with pytest.raises(Error) as e:
            await w.srv.write(await w.srv.create(await w.srv.attach(""), "u", OWRITE, 0), b"99", 0)
        assert e.value.ename == "fd out of range or not open"


async def test_mode_must_match_unless_ordwr(w: World) -> None:
    with w.proc.running():
        d = await w.pipe.attach("")
        wq = await w.pipe.walk(d, ["data1"])
        assert wq.clone is not None
        ro = await w.pipe.open(wq.clone, OREAD)
        await w.post("ro", w.proc.fgrp.newfd(ro))
        assert await w.open("ro", OREAD) is ro
        with pytest.raises(Error) as e:
            await w.open("ro", ORDWR)
        assert e.value.ename == Eperm


async def test_remove_drops_the_reference(w: World) -> None:
    with w.proc.running():
        fd, _, far = await w.pipefd()
        await w.post("gone", fd)
        assert far.ref == 2
        wq = await w.srv.walk(await w.srv.attach(""), ["gone"])
        assert wq.clone is not None
        await w.srv.remove(wq.clone)
        assert far.ref == 1
        with pytest.raises(Error) as e:
            await w.srv.walk(await w.srv.attach(""), ["gone"])
        assert e.value.ename == Enonexist
