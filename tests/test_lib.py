"""lp49fs.lib system calls through the real path: lib -> L4 IPC -> Mngr -> clerk -> sysfile."""

from __future__ import annotations

import pytest

from lp49fs import lib
from lp49fs.errors import (
    Ebadarg,
    Ebadfd,
    Ebadsharp,
    Ebadusefd,
    Enonexist,
    Error,
)
from lp49fs.lib.uctx import current
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OTRUNC
from lp49fs.node.boot import Node
from tests.lib_helpers import node, run_as

__all__ = ["node"]


async def test_open_read_close_and_the_calls_arrive_at_the_mngr(node: Node) -> None:
    before = node.mngr.calls

    async def body() -> None:
        fd = await lib.open("/dev/sysname", OREAD)
        assert await lib.read(fd, 100) == b"lp49"
        assert await lib.read(fd, 100) == b""
        await lib.close(fd)

    assert await run_as(node, body) == ""
    assert node.mngr.calls - before >= 4  # open, read, read, close (+ exits)


async def test_file_calls_on_env(node: Node) -> None:
    async def body() -> None:
        fd = await lib.create("/env/x", ORDWR, 0o664)
        assert await lib.write(fd, b"hello world") == 11
        assert await lib.seek(fd, 0, 0) == 0
        assert await lib.read(fd, 5) == b"hello"
        assert await lib.pread(fd, 5, 6) == b"world"
        assert await lib.pwrite(fd, b"W", 6) == 1
        assert await lib.seek(fd, 0, 2) == 11
        d = await lib.fstat(fd)
        assert (d.name, d.length) == ("x", 11)
        assert await lib.fd2path(fd) == "/env/x"
        fd2 = await lib.dup(fd)
        assert fd2 != fd and await lib.pread(fd2, 20, 0) == b"hello World"
        assert await lib.dup(fd, 20) == 20
        for f in (fd, fd2, 20):
            await lib.close(f)
        assert (await lib.stat("/env/x")).length == 11
        await lib.remove("/env/x")
        with pytest.raises(Error):
            await lib.stat("/env/x")

    assert await run_as(node, body) == ""


async def test_directories_cwd_bind_unmount(node: Node) -> None:
    async def body() -> None:
        fd = await lib.open("/", OREAD)
        names = [d.name for d in await lib.dirreadall(fd)]
        assert {"dev", "env", "proc", "srv"} <= set(names)
        assert await lib.dirread(fd) == []
        await lib.close(fd)
        await lib.chdir("/dev")
        assert await lib.getwd() == "/dev"
        assert (await lib.stat("sysname")).name == "sysname"
        assert await lib.bind("#c", "/env", 0) > 0
        assert (await lib.stat("/env/sysname")).name == "sysname"
        await lib.unmount(None, "/env")
        with pytest.raises(Error):
            await lib.stat("/env/sysname")
        assert (await lib.stat("/dev")).mode & DMDIR

    assert await run_as(node, body) == ""


async def test_pipe_and_big_unaligned_buffers(node: Node) -> None:
    data = bytes(range(256)) * 80  # 20480 bytes: five pages

    async def body() -> None:
        r, w = await lib.pipe()
        assert (await lib.fd2path(r), await lib.fd2path(w)) == ("#|/data", "#|/data1")
        for off in (0, 123, 4095):
            current().iooff = off
            assert await lib.write(w, data) == len(data)
            assert await lib.read(r, 65536) == data
        current().iooff = 0
        await lib.close(w)
        await lib.close(r)

    assert await run_as(node, body) == ""


@pytest.mark.parametrize(
    "call, ename",
    [
        (lambda: lib.read(42, 10), Ebadfd),
        (lambda: lib.close(-1), Ebadfd),
        (lambda: lib.open("/dev/sysname", 0x777), Ebadarg),
        (lambda: lib.open("#Q/x", OREAD), Ebadsharp),
        (lambda: lib.open("/no/such/file", OREAD), "'/no' " + Enonexist.replace("file ", "")),
        (lambda: lib.dup(42), Ebadfd),
        (lambda: lib.bind("/dev", "/env", 3), Ebadarg),
        (lambda: lib.spawn("no-such-program", []), Enonexist),
        (lambda: lib.spawn("x", ["y" * 10000]), Ebadarg),
    ],
)
async def test_errors_reach_the_caller_and_it_survives(node: Node, call, ename: str) -> None:
    async def body() -> None:
        with pytest.raises(Error) as e:
            await call()
        assert ename in e.value.ename
        assert lib.errstr() == e.value.ename
        fd = await lib.open("/dev/sysname", OREAD)  # still alive and well
        assert await lib.read(fd, 4) == b"lp49"

    assert await run_as(node, body) == ""


async def test_write_on_a_read_fd_is_inappropriate(node: Node) -> None:
    async def body() -> None:
        fd = await lib.open("/dev/null", OREAD | OTRUNC & 0)
        with pytest.raises(Error) as e:
            await lib.write(fd, b"x")
        assert e.value.ename == Ebadusefd

    assert await run_as(node, body) == ""


async def test_link_over_a_pipe(node: Node) -> None:
    async def body() -> None:
        r, w = await lib.pipe()
        a, b = lib.FdLink(r), lib.FdLink(w)
        await b.send_all(b"Tversion")
        assert await a.receive_some(100) == b"Tversion"
        await b.aclose()
        await b.aclose()
        assert await a.receive_some(100) == b""
        await a.aclose()

    assert await run_as(node, body) == ""


async def test_console_input_arrives_through_the_uart_interrupt_thread(node: Node) -> None:
    async def body() -> None:
        node.machine.uart.feed(b"typed line\n")
        assert await lib.read(0, 100) == b"typed line\n"  # fd 0 is /dev/cons

    assert await run_as(node, body) == ""
