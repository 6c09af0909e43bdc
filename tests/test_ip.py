"""#I ip over host sockets, driven by system calls of one process (no L4 round trips).

Real sockets on 127.0.0.1: host echo servers and host clients are plain trio sockets in the
test's own nursery; the LP49 side is ``sysfile`` calls on ``#I`` files.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from conformance import check_tree
from servant_tree import SysTree, boot

from lp49fs.core import sysfile
from lp49fs.core.proc import Proc
from lp49fs.errors import Ebadctl, Econrefused, Econreset, Ehungup, Enetaddr, Error
from lp49fs.host.demo.netns import free_port
from lp49fs.ninep import ORDWR, OREAD, OWRITE
from lp49fs.servants.ip import Ip


@pytest.fixture
async def p() -> AsyncIterator[Proc]:
    proc = await boot(Ip)
    yield proc
    proc.core.devtab["I"].shutdown()  # closes every host socket the test left open


async def echo_server(nursery: trio.Nursery) -> int:
    """A host TCP echo server on 127.0.0.1; returns its port."""
    listeners = await nursery.start(functools.partial(trio.serve_tcp, host="127.0.0.1"), _echo, 0)
    return int(listeners[0].socket.getsockname()[1])


async def _echo(stream: trio.SocketStream) -> None:
    async with stream:
        async for data in stream:
            await stream.send_all(data)


async def rd(p: Proc, path: str) -> str:
    fd = await sysfile.open(p, path, OREAD)
    try:
        return (await sysfile.read(p, fd, 1024)).decode()
    finally:
        await sysfile.close(p, fd)


async def ctlmsg(p: Proc, fd: int, msg: str) -> None:
    await sysfile.write(p, fd, msg.encode())


async def clone(p: Proc, proto: str = "tcp") -> tuple[int, str]:
    fd = await sysfile.open(p, f"#I/{proto}/clone", ORDWR)
    n = (await sysfile.read(p, fd, 32)).decode()
    return fd, f"#I/{proto}/{n}"


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async with trio.open_nursery() as n:
        yield await echo_server(n)
        n.cancel_scope.cancel()


async def test_tree(p: Proc) -> None:
    ctl, _ = await clone(p)
    tree = SysTree(p, "#I")
    await check_tree(tree, {"": "dir", "cs": "file", "tcp": "dir", "udp": "dir",
                            "tcp/clone": "file", "tcp/stats": "file", "tcp/0": "dir",
                            "tcp/0/local": "file", "tcp/0/remote": "file",
                            "tcp/0/status": "file"})  # fmt: skip
    names = [e.name for e in await tree.listdir("tcp/0")]
    assert names == ["ctl", "data", "err", "listen", "local", "remote", "status"]
    await sysfile.close(p, ctl)


async def test_dial_host_echo_server(p: Proc, echo_port: int) -> None:
    ctl, d = await clone(p)
    assert d == "#I/tcp/0"
    await ctlmsg(p, ctl, f"connect 127.0.0.1!{echo_port}")
    data = await sysfile.open(p, f"{d}/data", ORDWR)
    await sysfile.write(p, data, b"hello, plan 9")
    assert await sysfile.read(p, data, 100) == b"hello, plan 9"
    assert (await rd(p, f"{d}/status")).startswith("Established ")
    assert await rd(p, f"{d}/remote") == f"127.0.0.1!{echo_port}\n"
    lip, lport = (await rd(p, f"{d}/local")).strip().split("!")
    assert lip == "127.0.0.1" and 0 < int(lport) != echo_port
    assert await rd(p, f"{d}/err") == ""
    assert "ActiveOpens: 1\n" in await rd(p, "#I/tcp/stats")
    await ctlmsg(p, ctl, "hangup")
    assert (await rd(p, f"{d}/status")).startswith("Closed")
    assert await sysfile.read(p, data, 100) == b""  # read after hangup: end of file
    with pytest.raises(Error) as e:
        await sysfile.write(p, data, b"more")
    assert e.value.ename == Ehungup
    await sysfile.close(p, data)
    await sysfile.close(p, ctl)


async def test_host_client_calls_announced_conversation(p: Proc) -> None:
    ctl, d = await clone(p)
    await ctlmsg(p, ctl, "announce 0")
    assert (await rd(p, f"{d}/status")).startswith("Listen")
    port = int((await rd(p, f"{d}/local")).strip().split("!")[1])
    assert port > 0

    async def client() -> None:
        s = await trio.open_tcp_stream("127.0.0.1", port)
        async with s:
            await s.send_all(b"ping")
            assert await s.receive_some(100) == b"PING"

    async with trio.open_nursery() as n:
        n.start_soon(client)
        nctl = await sysfile.open(p, f"{d}/listen", ORDWR)  # blocks for the call
        num = (await sysfile.read(p, nctl, 32)).decode()
        nd = f"#I/tcp/{num}"
        assert nd != d
        assert (await rd(p, f"{nd}/status")).startswith("Established")
        data = await sysfile.open(p, f"{nd}/data", ORDWR)
        msg = await sysfile.read(p, data, 100)
        await sysfile.write(p, data, msg.upper())
        assert await sysfile.read(p, data, 100) == b""  # the client closed
        assert (await rd(p, f"{nd}/status")).startswith("Close_wait")
        rip, rport = (await rd(p, f"{nd}/remote")).strip().split("!")
        assert rip == "127.0.0.1" and int(rport) > 0
    await sysfile.close(p, data)
    await sysfile.close(p, nctl)
    assert "PassiveOpens: 1\n" in await rd(p, "#I/tcp/stats")
    await sysfile.close(p, ctl)


async def test_clone_numbering_and_reuse(p: Proc) -> None:
    a, da = await clone(p)
    b, db = await clone(p)
    c, dc = await clone(p)
    assert (da, db, dc) == ("#I/tcp/0", "#I/tcp/1", "#I/tcp/2")
    data = await sysfile.open(p, f"{db}/data", ORDWR)
    await sysfile.close(p, b)
    again, d2 = await clone(p)
    assert d2 == "#I/tcp/3"  # 1 still in use through its data file
    await sysfile.close(p, data)
    again1, d1 = await clone(p)
    assert d1 == "#I/tcp/1"  # reused after its last close
    u, du = await clone(p, "udp")
    assert du == "#I/udp/0"  # numbering is per protocol
    for fd in (a, c, again, again1, u):
        await sysfile.close(p, fd)
    _, d0 = await clone(p)
    assert d0 == "#I/tcp/0"


async def test_connection_refused_is_one_clear_error(p: Proc) -> None:
    ctl, d = await clone(p)
    with pytest.raises(Error) as e:
        await ctlmsg(p, ctl, f"connect 127.0.0.1!{free_port()}")
    assert e.value.ename == Econrefused
    assert await rd(p, f"{d}/err") == Econrefused
    assert (await rd(p, f"{d}/status")).startswith("Closed")
    assert "AttemptFails: 1\n" in await rd(p, "#I/tcp/stats")


@pytest.mark.parametrize(
    ("msg", "ename"),
    [("connect kremvax!564", Enetaddr), ("connect 127.0.0.1", Enetaddr),
     ("connect 127.0.0.1!99999", Enetaddr), ("frobnicate", Ebadctl), ("", Ebadctl),
     ("announce 1.2.3!4", Enetaddr), ("headers", Ebadctl)],
)  # fmt: skip
async def test_bad_ctl(p: Proc, msg: str, ename: str) -> None:
    ctl, _ = await clone(p)
    with pytest.raises(Error) as e:
        await ctlmsg(p, ctl, msg or " ")
    assert e.value.ename == ename


async def test_connect_with_local_address_and_keepalive(p: Proc, echo_port: int) -> None:
    ctl, d = await clone(p)
    lport = free_port()
    await ctlmsg(p, ctl, f"connect 127.0.0.1!{echo_port}!r 127.0.0.1!{lport}")
    assert await rd(p, f"{d}/local") == f"127.0.0.1!{lport}\n"
    await ctlmsg(p, ctl, "keepalive 5000")
    sv = p.core.devtab["I"]
    assert isinstance(sv, Ip)
    sock = sv.convs["tcp"][0].sock
    assert sock is not None and sock.keepalive_state() == (True, 5)


async def test_ownership_and_permissions(p: Proc) -> None:
    _, d = await clone(p)
    st = await sysfile.stat(p, f"{d}/ctl")
    assert (st.uid, st.mode & 0o777) == (p.user, 0o660)
    assert (await sysfile.stat(p, f"{d}/status")).mode & 0o777 == 0o444
    with pytest.raises(Error):
        await sysfile.open(p, f"{d}/local", OWRITE)


async def test_cancel_blocked_listen_and_read(p: Proc, echo_port: int) -> None:
    ctl, d = await clone(p)
    await ctlmsg(p, ctl, "announce 127.0.0.1!0")
    with trio.move_on_after(0.05) as scope:
        await sysfile.open(p, f"{d}/listen", ORDWR)
    assert scope.cancelled_caught
    assert (await rd(p, f"{d}/status")).startswith("Listen")  # still announced
    c2, d2 = await clone(p)
    assert d2 == "#I/tcp/1"  # the cancelled listen made no conversation

    await ctlmsg(p, c2, f"connect 127.0.0.1!{echo_port}")
    data = await sysfile.open(p, f"{d2}/data", ORDWR)
    with trio.move_on_after(0.05) as scope:
        await sysfile.read(p, data, 100)
    assert scope.cancelled_caught
    await sysfile.write(p, data, b"still works")
    assert await sysfile.read(p, data, 100) == b"still works"


async def test_hangup_wakes_blocked_read(p: Proc, echo_port: int) -> None:
    ctl, d = await clone(p)
    await ctlmsg(p, ctl, f"connect 127.0.0.1!{echo_port}")
    data = await sysfile.open(p, f"{d}/data", ORDWR)
    got: list[bytes] = []

    async def reader() -> None:
        got.append(await sysfile.read(p, data, 100))

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await ctlmsg(p, ctl, "hangup")
    assert got == [b""]


async def test_udp_connected_and_headers(p: Proc) -> None:
    host = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await host.bind(("127.0.0.1", 0))
    hport = host.getsockname()[1]
    ctl, d = await clone(p, "udp")
    await ctlmsg(p, ctl, f"connect 127.0.0.1!{hport}")
    assert (await rd(p, f"{d}/status")).startswith("Open")
    data = await sysfile.open(p, f"{d}/data", ORDWR)
    await sysfile.write(p, data, b"datagram one")
    msg, frm = await host.recvfrom(100)
    assert msg == b"datagram one"
    assert await rd(p, f"{d}/local") == f"127.0.0.1!{frm[1]}\n"
    await host.sendto(b"reply", frm)
    assert await sysfile.read(p, data, 100) == b"reply"

    ctl2, d2 = await clone(p, "udp")
    await ctlmsg(p, ctl2, "announce 127.0.0.1!0")
    await ctlmsg(p, ctl2, "headers")
    port2 = int((await rd(p, f"{d2}/local")).strip().split("!")[1])
    data2 = await sysfile.open(p, f"{d2}/data", ORDWR)
    await host.sendto(b"hdr", ("127.0.0.1", port2))
    got = await sysfile.read(p, data2, 200)
    assert len(got) == 52 + 3 and got[52:] == b"hdr"
    assert got[:16] == bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])  # raddr, v4-mapped
    assert int.from_bytes(got[48:50], "big") == hport  # rport
    assert int.from_bytes(got[50:52], "big") == port2  # lport
    await sysfile.write(p, data2, got[:52] + b"back")  # reply with the same header
    assert (await host.recvfrom(100))[0] == b"back"
    host.close()


async def test_write_after_peer_reset(p: Proc) -> None:
    ls = trio.socket.socket()
    await ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ctl, d = await clone(p)
    await ctlmsg(p, ctl, f"connect 127.0.0.1!{ls.getsockname()[1]}")
    conn, _ = await ls.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    conn.close()  # RST
    ls.close()
    data = await sysfile.open(p, f"{d}/data", ORDWR)
    with pytest.raises(Error) as e:
        for _ in range(50):
            await sysfile.write(p, data, b"x" * 1000)
            await trio.sleep(0.001)
    assert e.value.ename == Ehungup
    assert await rd(p, f"{d}/err") in (Econreset, Ehungup)  # ECONNRESET or EPIPE, as text
    with pytest.raises(Error) as e:
        await sysfile.write(p, data, b"again")
    assert e.value.ename == Ehungup
