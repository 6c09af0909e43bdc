"""Transports: dial-string table, TCP / unix / pipe round trips, announce and accept."""

from __future__ import annotations

import os
import pathlib

import pytest
import trio

from lp49fs.errors import Error
from lp49fs.transport import (
    Addr,
    DialError,
    Link,
    announce,
    dial,
    parse,
    pipe_pair,
)

GOOD = [
    ("tcp!127.0.0.1!5640", False, Addr("tcp", "127.0.0.1", 5640)),
    ("tcp!localhost", False, Addr("tcp", "localhost", 564)),
    ("tcp!host!9fs", False, Addr("tcp", "host", 564)),
    ("net!10.0.0.1!17007", False, Addr("tcp", "10.0.0.1", 17007)),
    ("tcp!::1!564", False, Addr("tcp", "::1", 564)),
    ("tcp!*!5640", True, Addr("tcp", "*", 5640)),
    ("tcp!127.0.0.1!0", True, Addr("tcp", "127.0.0.1", 0)),
    ("unix!/tmp/ramfs", False, Addr("unix", "/tmp/ramfs", 0)),
    ("unix!/tmp/a!b", False, Addr("unix", "/tmp/a!b", 0)),
]

BAD = [
    ("", "unknown network"),
    ("udp!host!53", "unknown network"),
    ("127.0.0.1:564", "unknown network"),
    ("tcp", "want tcp!host!port"),
    ("tcp!", "want tcp!host!port"),
    ("tcp!!564", "want tcp!host!port"),
    ("tcp!a!b!c", "want tcp!host!port"),
    ("tcp!host!http9", "unknown service"),
    ("tcp!host!70000", "out of range"),
    ("tcp!*!564", "only for announcing"),
    ("tcp!host!0", "port 0"),
    ("unix!", "needs a path"),
]


@pytest.mark.parametrize(("text", "announcing", "want"), GOOD)
def test_parse_good(text: str, announcing: bool, want: Addr) -> None:
    assert parse(text, announce=announcing) == want


@pytest.mark.parametrize(("text", "why"), BAD)
def test_parse_bad(text: str, why: str) -> None:
    with pytest.raises(DialError, match=why) as info:
        parse(text)
    assert isinstance(info.value, Error)
    assert repr(text) in info.value.ename


def test_addr_str_round_trips() -> None:
    for text, announcing, want in GOOD:
        if want.host != "*" and want.port != 0:
            assert parse(str(want), announce=announcing) == want, text


async def echo_once(link: Link) -> None:
    while data := await link.receive_some(4096):
        await link.send_all(data)
    await link.aclose()


async def round_trip(client: Link, size: int) -> None:
    payload = os.urandom(size)
    got = b""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.send_all, payload)  # the echo fills buffers both ways
        while len(got) < size:
            chunk = await client.receive_some(1 << 20)
            assert chunk
            got += chunk
    assert got == payload


@pytest.mark.parametrize("size", [1, 9000, 3 << 20])
async def test_pipe_pair_round_trip(size: int) -> None:
    a, b = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo_once, b)
        await round_trip(a, size)
        await a.aclose()


@pytest.mark.parametrize("kind", ["tcp", "unix"])
async def test_announce_dial_accept(kind: str, tmp_path: pathlib.Path) -> None:
    addr = "tcp!127.0.0.1!0" if kind == "tcp" else f"unix!{tmp_path}/sock"
    listener = await announce(addr)
    if kind == "tcp":
        assert listener.addr.port != 0
    bound = str(listener.addr)
    async with trio.open_nursery() as nursery:

        async def acceptor() -> None:
            for _ in range(2):
                link = await listener.accept()
                nursery.start_soon(echo_once, link)

        nursery.start_soon(acceptor)
        c1 = await dial(bound)
        c2 = await dial(bound)
        await round_trip(c2, 100)
        await round_trip(c1, 200_000)
        assert "!" in c1.peer()
        await c1.aclose()
        await c2.aclose()
    await listener.aclose()
    if kind == "unix":
        assert not (tmp_path / "sock").exists()


async def test_dial_refused_is_an_error() -> None:
    listener = await announce("tcp!127.0.0.1!0")
    addr = str(listener.addr)
    await listener.aclose()
    with pytest.raises(Error, match="connection refused"):
        await dial(addr)


async def test_dial_missing_unix_socket(tmp_path: pathlib.Path) -> None:
    with pytest.raises(Error):
        await dial(f"unix!{tmp_path}/nothing")


async def test_eof_and_close_semantics() -> None:
    a, b = pipe_pair()
    await a.aclose()
    assert await b.receive_some(10) == b""
    with pytest.raises(trio.ClosedResourceError):
        await a.receive_some(10)
    with pytest.raises((trio.BrokenResourceError, trio.ClosedResourceError)):
        for _ in range(100):  # the first sends may land in the kernel buffer
            await b.send_all(b"x" * 65536)
    await b.aclose()


async def test_aclose_wakes_a_blocked_receiver() -> None:
    a, b = pipe_pair()
    async with trio.open_nursery() as nursery:

        async def blocked() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await a.receive_some(10)

        nursery.start_soon(blocked)
        await trio.testing.wait_all_tasks_blocked()
        await a.aclose()
    await b.aclose()


async def test_receive_is_cancellable() -> None:
    a, b = pipe_pair()
    with trio.move_on_after(0.01) as scope:
        await a.receive_some(10)
    assert scope.cancelled_caught
    await a.aclose()
    await b.aclose()


async def test_unix_announce_replaces_stale_socket(tmp_path: pathlib.Path) -> None:
    path = f"unix!{tmp_path}/s"
    first = await announce(path)
    first.socket.close()  # a crashed server leaves its socket file behind
    second = await announce(path)
    link = await dial(path)
    accepted = await second.accept()
    await link.send_all(b"hi")
    assert await accepted.receive_some(10) == b"hi"
    for x in (link, accepted, second):
        await x.aclose()


async def test_announce_a_plain_file_is_refused(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "file"
    f.write_text("keep me")
    with pytest.raises(Error):
        await announce(f"unix!{f}")
    assert f.read_text() == "keep me"
