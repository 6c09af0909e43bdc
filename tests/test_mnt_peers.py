"""#M against a 9P server nobody here wrote: p9fs's py9p, reached through a #| pipe.

The server link of a mount is a Chan; here it is one end of a ``#|`` pipe whose other end a
test task pumps to and from a TCP connection to py9p (the role ``#I`` will play for imports).
The mount, the walks, the reads and the writes all go through the ``#M`` servant and the
system calls, so this checks the proxy against an independent server implementation, and
checks that killing the server turns every call into ``i/o on hungup channel``.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from mnt_helpers import CONFIG, fdlink, pipe
from servant_tree import boot
from test_interop_servers import py9p_addr  # noqa: F401 (fixture)

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.core.proc import Proc
from lp49fs.errors import Ehungup, Error
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.servants.mnt import ChanLink
from lp49fs.transport import dial
from tests.waiting import DEADLINE

pytestmark = pytest.mark.peers


async def _pump_in(link: ChanLink, net: object) -> None:
    while data := await net.receive_some(65536):  # type: ignore[attr-defined]
        await link.send_all(data)
    await link.aclose()


async def _pump_out(link: ChanLink, net: object) -> None:
    try:
        while data := await link.receive_some(65536):
            await net.send_all(data)  # type: ignore[attr-defined]
    except trio.BrokenResourceError:
        pass
    await net.aclose()  # type: ignore[attr-defined]


@asynccontextmanager
async def bridged(p: Proc, addr: str) -> AsyncIterator[tuple[int, trio.CancelScope]]:
    """An fd of ``p`` on a pipe whose far end is pumped to ``addr``; cancel the scope to cut it."""
    near, far = await pipe(p)
    link = await fdlink(p, far)
    net = await dial(addr)
    cut = trio.CancelScope()

    async def pumps() -> None:
        try:
            with cut:
                async with trio.open_nursery() as n:
                    n.start_soon(_pump_in, link, net)
                    n.start_soon(_pump_out, link, net)
        finally:
            with trio.CancelScope(shield=True):
                await net.aclose()
                await link.aclose()

    async with trio.open_nursery() as n:
        n.start_soon(pumps)
        yield near, cut
        cut.cancel()


async def test_mount_py9p_through_a_pipe(py9p_addr: tuple[str, pathlib.Path]) -> None:  # noqa: F811
    addr, export = py9p_addr
    p = await boot(config=CONFIG)
    async with bridged(p, addr) as (fd, _):
        await sys.mount(p, fd, -1, "/n", MREPL, "")
        names = {d.name for d in await sys.dirread(p, await sys.open(p, "/n", OREAD))}
        assert "hello" in names
        assert (await sys.stat(p, "/n/hello")).length == len(b"hello from py9p\n")
        rfd = await sys.open(p, "/n/hello", OREAD)
        assert await sys.readall(p, rfd) == b"hello from py9p\n"
        with pytest.raises(Error) as e:
            await sys.stat(p, "/n/nothing")
        assert e.value.ename == "'/n/nothing' does not exist"
        await sys.close(p, rfd)
        with pytest.raises(Error) as e:  # mounted without -c: no creates
            await sys.create(p, "/n/new", OWRITE, 0o644)
        assert e.value.ename == "mounted directory forbids creation"
        await sys.mount(p, fd, -1, "/mnt", MREPL | MCREATE, "")  # a second attach, same link
        assert len(p.core.devtab["M"].mnts) == 1  # type: ignore[attr-defined]
        wfd = await sys.create(p, "/mnt/new", OWRITE, 0o644)
        assert await sys.write(p, wfd, b"via #M") == 6
        await sys.close(p, wfd)
        assert (export / "new").read_bytes() == b"via #M"
        assert (await sys.stat(p, "/n/new")).length == 6
        await sys.remove(p, "/n/new")
        assert not (export / "new").exists()
        await sys.close(p, fd)


async def test_server_gone_fails_calls_with_hungup(py9p_addr: tuple[str, pathlib.Path]) -> None:  # noqa: F811
    addr, _ = py9p_addr
    p = await boot(config=CONFIG)
    async with bridged(p, addr) as (fd, cut):
        await sys.mount(p, fd, -1, "/n", MREPL, "")
        await sys.close(p, fd)
        rfd = await sys.open(p, "/n/hello", OREAD)
        cut.cancel()  # the far end of the link goes away
        with trio.fail_after(DEADLINE):  # a guard against a hang, not a timing assertion
            for call in (sys.read(p, rfd, 5), sys.stat(p, "/n/hello"), sys.stat(p, "/n")):
                with pytest.raises(Error) as e:
                    await call
                assert Ehungup in e.value.ename
            await sys.close(p, rfd)  # closing cannot fail
            await sys.unmount(p, None, "/n")
        assert not p.core.devtab["M"].mnts  # type: ignore[attr-defined]
