"""dial(2) for LP49 processes: lib.dial/announce/listen/accept/reject and /net/cs, on a node.

Every LP49 side here is a process of a booted node making ``lp49fs.lib`` calls (L4 IPC to
the core); the other side is a host socket on 127.0.0.1 in the test's nursery.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from lp49fs import lib
from lp49fs.core.mount import MAFTER
from lp49fs.errors import Econrefused, Error, Etranslate
from lp49fs.host.demo.netns import free_port
from lp49fs.ninep import ORDWR, OWRITE
from lp49fs.node.boot import Node
from lp49fs.servants.ip import Ip
from lp49fs.servants.ip.cs import translate
from tests.lib_helpers import node, run_as, start
from tests.waiting import DEADLINE, await_until

__all__ = ["node"]


async def _echo(stream: trio.SocketStream) -> None:
    async with stream:
        async for data in stream:
            await stream.send_all(data)


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async with trio.open_nursery() as n:
        serve = functools.partial(trio.serve_tcp, host="127.0.0.1")
        listeners = await n.start(serve, _echo, 0)
        yield int(listeners[0].socket.getsockname()[1])
        n.cancel_scope.cancel()


async def netbind() -> None:
    """``bind -a '#I' /net`` in the calling process (the boot name space may lack it)."""
    await lib.bind("#I", "/net", MAFTER)


async def readtext(path: str) -> str:
    fd = await lib.open(path, 0)
    try:
        return (await lib.read(fd, 256)).decode()
    finally:
        await lib.close(fd)


# --- cs --------------------------------------------------------------------------------------

CS_TABLE = [
    ("tcp!127.0.0.1!564", ["/net/tcp/clone 127.0.0.1!564"]),
    ("tcp!127.0.0.1!9fs", ["/net/tcp/clone 127.0.0.1!564"]),
    ("tcp!10.0.0.1!exportfs", ["/net/tcp/clone 10.0.0.1!17007"]),
    ("net!127.0.0.1!styx", ["/net/tcp/clone 127.0.0.1!6666"]),
    ("udp!127.0.0.1!7", ["/net/udp/clone 127.0.0.1!7"]),
    ("tcp!*!564", ["/net/tcp/clone 564"]),
    ("tcp!*!venti", ["/net/tcp/clone 17034"]),
    ("tcp!::1!564", ["/net/tcp/clone ::1!564"]),
    ("127.0.0.1", ["/net/tcp/clone 127.0.0.1"]),
    ("tcp!127.0.0.1", ["/net/tcp/clone 127.0.0.1"]),
]


@pytest.mark.parametrize(("addr", "lines"), CS_TABLE)
async def test_cs_table(addr: str, lines: list[str]) -> None:
    assert await translate(addr) == lines


@pytest.mark.parametrize(
    "addr", ["", "il!host!564", "tcp!127.0.0.1!nosuchservice", "tcp!127.0.0.1!70000",
             "tcp!!564", "a!b!c!d", "tcp!*", "tcp!no-such-host.invalid!564"],
)  # fmt: skip
async def test_cs_bad_strings(addr: str) -> None:
    with pytest.raises(Error) as e:
        await translate(addr)
    assert e.value.ename.startswith(Etranslate)


async def test_cs_resolves_host_names() -> None:
    lines = await translate("tcp!localhost!9fs")
    assert lines and lines[0] == "/net/tcp/clone 127.0.0.1!564"


async def test_cs_file_protocol(node: Node) -> None:
    async def body() -> None:
        await netbind()
        fd = await lib.open("/net/cs", ORDWR)
        await lib.write(fd, b"tcp!localhost!9fs")
        await lib.seek(fd, 0, 0)
        lines = []
        while line := await lib.read(fd, 256):
            lines.append(line.decode())
        assert lines[0] == "/net/tcp/clone 127.0.0.1!564"
        assert all(x.startswith("/net/tcp/clone ") for x in lines)
        with pytest.raises(Error) as e:
            await lib.write(fd, b"bogus!x!y")
        assert e.value.ename.startswith(Etranslate)
        await lib.close(fd)

    await run_as(node, body)


# --- dial ------------------------------------------------------------------------------------


def test_netmkaddr() -> None:
    assert lib.netmkaddr("kremvax") == "net!kremvax"
    assert lib.netmkaddr("kremvax", "tcp", "9fs") == "tcp!kremvax!9fs"
    assert lib.netmkaddr("kremvax", None, "9fs") == "net!kremvax!9fs"
    assert lib.netmkaddr("tcp!kremvax", "udp", "9fs") == "tcp!kremvax!9fs"
    assert lib.netmkaddr("tcp!kremvax!564", "udp", "9fs") == "tcp!kremvax!564"
    assert lib.netmkaddr("tcp!kremvax") == "tcp!kremvax"


async def test_dial_host_echo_server(node: Node, echo_port: int) -> None:
    async def body() -> None:
        await netbind()
        fd = await lib.dial(f"tcp!localhost!{echo_port}")
        await lib.write(fd, b"hello from lp49")
        assert await lib.read(fd, 100) == b"hello from lp49"
        await lib.close(fd)
        data, ctl, d = await lib.dialctl(f"tcp!127.0.0.1!{echo_port}", f"127.0.0.1!{free_port()}")
        assert d.startswith("/net/tcp/")
        assert (await readtext(f"{d}/status")).startswith("Established")
        assert await readtext(f"{d}/remote") == f"127.0.0.1!{echo_port}\n"
        await lib.write(ctl, b"hangup")
        with pytest.raises(Error):
            await lib.write(data, b"x")
        await lib.close(data)
        await lib.close(ctl)

    await run_as(node, body)


async def test_dial_refused(node: Node) -> None:
    async def body() -> None:
        await netbind()
        with pytest.raises(Error) as e:
            await lib.dial(f"tcp!127.0.0.1!{free_port()}")
        assert e.value.ename == Econrefused
        with pytest.raises(Error) as e:
            await lib.dial("tcp!no-such-host.invalid!564")
        assert e.value.ename.startswith(Etranslate)

    await run_as(node, body)


async def test_announce_listen_accept_host_client(node: Node) -> None:
    port: list[int] = []
    ready = trio.Event()

    async def server() -> None:
        await netbind()
        actl, adir = await lib.announce("tcp!*!0")
        port.append(int((await readtext(f"{adir}/local")).strip().rsplit("!", 1)[1]))
        ready.set()
        for answer in (True, False):
            lctl, ldir = await lib.listen(adir)
            assert ldir != adir and ldir.startswith("/net/tcp/")
            if not answer:
                await lib.reject(lctl, ldir, "go away")
                await lib.close(lctl)
                continue
            dfd = await lib.accept(lctl, ldir)
            msg = await lib.read(dfd, 100)
            await lib.write(dfd, msg[::-1])
            await lib.close(dfd)
            await lib.close(lctl)
        await lib.close(actl)

    async def client() -> None:
        await ready.wait()
        s = await trio.open_tcp_stream("127.0.0.1", port[0])
        async with s:
            await s.send_all(b"stressed")
            assert await s.receive_some(100) == b"desserts"
        s = await trio.open_tcp_stream("127.0.0.1", port[0])
        async with s:
            assert await s.receive_some(100) == b""  # rejected: closed at once

    async with trio.open_nursery() as n:
        n.start_soon(client)
        await run_as(node, server)


async def test_lp49_to_lp49_over_tcp(node: Node) -> None:
    """One process announces and listens, another dials it: both through #I and the host."""
    port: list[int] = []
    ready = trio.Event()

    async def server() -> None:
        await netbind()
        actl, adir = await lib.announce("tcp!127.0.0.1!0")
        port.append(int((await readtext(f"{adir}/local")).strip().rsplit("!", 1)[1]))
        ready.set()
        lctl, ldir = await lib.listen(adir)
        dfd = await lib.accept(lctl, ldir)
        while data := await lib.read(dfd, 100):
            await lib.write(dfd, data.upper())
        for fd in (dfd, lctl, actl):
            await lib.close(fd)

    async def client() -> None:
        await netbind()
        await ready.wait()
        fd = await lib.dial(f"tcp!127.0.0.1!{port[0]}")
        await lib.write(fd, b"plan 9")
        assert await lib.read(fd, 100) == b"PLAN 9"
        await lib.close(fd)

    async with trio.open_nursery() as n:
        n.start_soon(run_as, node, server)
        await run_as(node, client)


async def test_kill_interrupts_blocked_listen_and_read(node: Node, echo_port: int) -> None:
    """A process killed in listen (or in a data read) dies and its conversations end."""
    sv = node.core.devtab["I"]
    assert isinstance(sv, Ip)
    for how in ("listen", "read"):

        async def victim(how: str = how) -> None:
            await netbind()
            if how == "listen":
                _, adir = await lib.announce("tcp!127.0.0.1!0")
                await lib.listen(adir)
            else:
                fd = await lib.dial(f"tcp!127.0.0.1!{echo_port}")
                await lib.read(fd, 10)  # the echo server never speaks first

        pid, _ = await start(node, victim)
        await await_until(lambda: any(cv.inuse for cv in sv.convs["tcp"]), "the victim's call")
        await trio.testing.wait_all_tasks_blocked(0.01)

        async def killer(pid: int = pid) -> None:
            fd = await lib.open(f"/proc/{pid}/ctl", OWRITE)
            await lib.write(fd, b"kill")

        await run_as(node, killer)
        with trio.fail_after(DEADLINE):
            assert await node.wait(pid) == "killed"
        assert all(cv.inuse == 0 and cv.state == "Closed" for cv in sv.convs["tcp"]), how
