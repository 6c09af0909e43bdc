"""The own IP stack between two booted nodes on a hub: ARP, ping, UDP, TCP, errors, faults.

Both nodes run ``#I`` on the own stack (``servants.OWNSTACK``) over ``#l`` over a NIC on
one hub; everything the programs do goes through /net files and L4 IPC system calls.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from lib_helpers import run_as

from hwsim.hub import Hub
from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers
from lp49fs.servants import OWNSTACK
from lp49fs.servants.inet import pkt
from tests.waiting import await_until

A, B = "10.66.0.1", "10.66.0.2"


@asynccontextmanager
async def pair(path: str, **faults: float) -> AsyncIterator[tuple[Node, Node, Hub]]:
    hub = Hub(path, **faults)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.serve)
        # the nodes shut down before the hub stops, a (the client, the importer) first: a
        # node that went away answers nothing, so a's clunks would wait for TCP's timeout
        async with AsyncExitStack() as stack:
            nodes = {}
            for name, ip in (("b", B), ("a", A)):
                nodes[name] = await stack.enter_async_context(
                    boot(name, ram=16 << 20, config=OWNSTACK, nics=[f"hub:{path}"],
                         ips=[f"{ip}/24"]))  # fmt: skip
            yield nodes["a"], nodes["b"], hub
        nursery.cancel_scope.cancel()


def test_checksum_matches_the_rfc1071_example() -> None:
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement 220d)
    assert pkt.cksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    d = pkt.ip_build(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 17, b"x" * 9, 7)
    assert pkt.cksum(d[:20]) == 0 and pkt.ip_parse(d) is not None
    bad = d[:11] + bytes([d[11] ^ 1]) + d[12:]
    assert pkt.ip_parse(bad) is None and pkt.ip_parse(d[:15]) is None


async def test_ping_arp_and_files(tmp_path: os.PathLike[str]) -> None:
    async with pair(f"{tmp_path}/hub") as (a, _b, _):
        out: list[str] = []

        async def body() -> None:
            r, w = await lib.pipe()
            await lib.spawn("ping", ["ping", "-n", "2", B], lib.RFPROC | lib.RFFDG, fds={1: w})
            await lib.close(w)
            out.append((await lib.readall(r)).decode())
            out.append((await lib.readall(await lib.open("/net/arp", OREAD))).decode())
            out.append((await lib.readall(await lib.open("/net/iproute", OREAD))).decode())
            out.append((await lib.readall(await lib.open("/net/ipifc/0/status", OREAD))).decode())

        await run_as(a, body)
        assert out[0].count("rtt") == 2, out[0]
        assert B in out[1] and "OK" in out[1]
        assert out[2].startswith("10.66.0.0") and "255.255.255.0" in out[2]
        assert "/net/ether0" in out[3] and A in out[3]


async def tcp_echo_server(port: int, nbytes: int) -> None:
    """Announce, take one call, read ``nbytes`` and send their sha256 back."""
    ctl, d = await lib.announce(f"tcp!*!{port}")
    lctl, ld = await lib.listen(d)
    fd = await lib.accept(lctl, ld)
    h, got = hashlib.sha256(), 0
    while got < nbytes:
        chunk = await lib.read(fd, 65536)
        assert chunk, "early EOF"
        h.update(chunk)
        got += len(chunk)
    await lib.write(fd, h.hexdigest().encode())
    await lib.close(fd)
    await lib.close(lctl)
    await lib.close(ctl)


async def tcp_transfer(a: Node, b: Node, nbytes: int) -> str:
    blob = bytes(hashlib.sha256(str(i).encode()).digest()[0] for i in range(4096)) * (
        nbytes // 4096
    )
    answer: list[str] = []

    async def client() -> None:
        fd = await lib.dial(f"tcp!{B}!7777")
        for i in range(0, len(blob), 32768):
            await lib.write(fd, blob[i : i + 32768])
        answer.append((await lib.read(fd, 64)).decode())
        assert await lib.read(fd, 64) == b""  # the server closed: EOF
        await lib.close(fd)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_as, b, lambda: tcp_echo_server(7777, len(blob)))
        await trio.testing.wait_all_tasks_blocked()
        await run_as(a, client)
    assert answer == [hashlib.sha256(blob).hexdigest()]
    return answer[0]


async def test_tcp_transfer(tmp_path: os.PathLike[str]) -> None:
    async with pair(f"{tmp_path}/hub") as (a, b, _):
        await tcp_transfer(a, b, 1 << 20)


async def test_tcp_over_a_lossy_hub(tmp_path: os.PathLike[str]) -> None:
    """2% loss, 2% duplication and 5% reordering: the bytes still arrive whole."""
    async with pair(f"{tmp_path}/hub", loss=0.02, dup=0.02, reorder=0.05, seed=7) as (a, b, hub):
        await tcp_transfer(a, b, 1 << 20)
        assert hub.counts["lost"] > 0 and hub.counts["duplicated"] > 0
        assert hub.counts["reordered"] > 0


async def test_refused_and_reset(tmp_path: os.PathLike[str]) -> None:
    async with pair(f"{tmp_path}/hub") as (a, b, _):

        async def refused() -> None:
            with pytest.raises(Error, match="connection refused"):
                await lib.dial(f"tcp!{B}!9")

        await run_as(a, refused)
        ready = trio.Event()

        async def server() -> None:
            _ctl, d = await lib.announce("tcp!*!7000")
            lctl, _ld = await lib.listen(d)
            ready.set()
            await lib.write(lctl, b"hangup")  # a reset to the caller
            await trio.sleep_forever()

        async def client() -> None:
            fd = await lib.dial(f"tcp!{B}!7000")
            await ready.wait()
            with pytest.raises(Error, match="connection reset by peer"):
                while True:
                    if not await lib.read(fd, 100):
                        break

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, server)
            await trio.testing.wait_all_tasks_blocked()
            await run_as(a, client)
            nursery.cancel_scope.cancel()


async def test_udp(tmp_path: os.PathLike[str]) -> None:
    async with pair(f"{tmp_path}/hub") as (a, b, _):
        got: list[bytes] = []

        async def server() -> None:
            ctl = await lib.open("/net/udp/clone", ORDWR)
            n = (await lib.read(ctl, 16)).decode()
            await lib.write(ctl, b"announce 5353")
            data = await lib.open(f"/net/udp/{n}/data", ORDWR)
            msg = await lib.read(data, 100)
            got.append(msg)
            await lib.write(data, msg.upper())  # answers the last sender

        async def client() -> None:
            fd = await lib.dial(f"udp!{B}!5353")
            await lib.write(fd, b"hello udp")
            got.append(await lib.read(fd, 100))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, server)
            await trio.testing.wait_all_tasks_blocked()
            await run_as(a, client)
        assert got == [b"hello udp", b"HELLO UDP"]


async def test_bad_frames_are_counted(tmp_path: os.PathLike[str]) -> None:
    """Garbage written raw to a's ether reaches b's stack: counted, dropped, b still pings."""
    async with pair(f"{tmp_path}/hub") as (a, b, _):
        from lp49fs.node.netboot import macaddr

        mb = macaddr("b", 0)

        async def garbage() -> None:
            ctl = await lib.open("/net/ether0/clone", ORDWR)
            n = (await lib.read(ctl, 16)).decode()
            await lib.write(ctl, b"connect 2048")
            d = await lib.open(f"/net/ether0/{n}/data", ORDWR)
            good = pkt.ip_build(pkt.ipbytes(A), pkt.ipbytes(B), 17, b"\0" * 20, 1)
            for bad in (b"\x45" + bytes(5), good[:10] + b"\0\0" + good[12:], b"\x65" + good[1:]):
                await lib.write(d, mb + bytes(6) + b"\x08\x00" + bad.ljust(46, b"\0"))

        await run_as(a, garbage)
        stack = b.core.devtab["I"].stack  # type: ignore[attr-defined]
        await await_until(lambda: stack.stats["InHdrErrors"] == 3, "three bad datagrams")
        assert await a.run("ping", ["ping", "-n", "1", B]) == ""
        assert stack.stats["InHdrErrors"] == 3 and stack.stats["IcmpOutEchoReps"] == 1


async def test_import_over_the_own_stack_on_a_lossy_hub(tmp_path: os.PathLike[str]) -> None:
    """b exports its name space (exportfs -l); a imports b's /dev and reads sysname, then a
    1 MiB ramfs file of b, through 9P over the own TCP with loss, duplication, reordering."""
    faults = {"loss": 0.02, "dup": 0.02, "reorder": 0.05, "seed": 11}
    async with pair(f"{tmp_path}/hub", **faults) as (a, b, hub):
        blob = os.urandom(1 << 20)

        async def put() -> None:
            fd = await lib.create("/tmp/blob", ORDWR, 0o644)
            await lib.write(fd, blob)
            await lib.close(fd)

        async with trio.open_nursery() as n:
            svs = await start_servers(b, n)  # ramfs on b's /tmp
            await run_as(b, put)
            await b.spawn("exportfs", ["exportfs", "-l", "tcp!*!17007"])
            await trio.testing.wait_all_tasks_blocked()
            got = await importer(a)
            await stop_servers(b, svs)
        assert got["sysname"] == b"b"
        assert hashlib.sha256(got["blob"]).digest() == hashlib.sha256(blob).digest()
        assert hub.counts["lost"] > 0


async def importer(a: Node) -> dict[str, bytes]:
    got: dict[str, bytes] = {}

    async def imp() -> None:
        for path, mtpt in (("/dev", "/n"), ("/tmp", "/mnt")):
            await lib.spawn("import", ["import", B, path, mtpt], lib.RFPROC | lib.RFFDG)
            assert (await lib.wait()).msg == ""
        got["sysname"] = await lib.readall(await lib.open("/n/sysname", OREAD))
        got["blob"] = await lib.readall(await lib.open("/mnt/blob", OREAD))

    await run_as(a, imp, timeout=60)
    return got
