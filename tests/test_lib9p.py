"""The lib9p server framework: concurrency, Tflush, Tversion reset, msize, dispatch."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from functools import partial

import pytest
import trio
import trio.testing
from lib9p_helpers import Raw, gate_served

from lp49fs.errors import Error, Eunknownfid
from lp49fs.lib9p import DISPATCH, serve
from lp49fs.lib9p.srv import GATHER_MIN
from lp49fs.ninep import (
    IOHDRSZ,
    NOTAG,
    ORDWR,
    OREAD,
    T_CLASSES,
    Rclunk,
    Rcreate,
    Rerror,
    Rflush,
    Ropen,
    Rread,
    Rstat,
    Rversion,
    Rwalk,
    Rwrite,
    Tclunk,
    Tcreate,
    Tflush,
    Topen,
    Tread,
    Tstat,
    Tversion,
    Twrite,
    decode_dirs,
    encode,
)
from lp49fs.servers.ramfs import Ramfs
from lp49fs.transport import Link, SocketLink


def test_dispatch_covers_every_request_but_version_and_flush() -> None:
    wanted = set(T_CLASSES) - {Tversion, Tflush}
    assert set(DISPATCH) == wanted


async def open_slow_and_fast(raw: Raw) -> None:
    await raw.start()
    assert isinstance(await raw.walk(0, 1, "slow"), Rwalk)
    assert isinstance(await raw.walk(0, 2, "fast"), Rwalk)
    assert isinstance(await raw.rpc(3, Topen(1, OREAD)), Ropen)


async def test_slow_read_does_not_delay_stat() -> None:
    async with gate_served() as (fs, client):
        raw = Raw(client)
        await open_slow_and_fast(raw)
        await raw.send(10, Tread(1, 0, 100))
        await fs.reading.wait()
        await raw.send(11, Tstat(2))
        tag, r = await raw.recv()
        assert tag == 11 and isinstance(r, Rstat) and r.stat.name == "fast"
        fs.release.set()
        tag, r = await raw.recv()
        assert tag == 10 and r == Rread(b"slow data")
    assert fs.clunks == 2  # both files clunked when the connection ended


async def test_flush_cancels_a_blocked_read_then_rflush() -> None:
    async with gate_served() as (fs, client):
        raw = Raw(client)
        await open_slow_and_fast(raw)
        await raw.send(10, Tread(1, 0, 100))
        await fs.reading.wait()
        await raw.send(11, Tflush(10))
        tag, r = await raw.recv()
        assert (tag, r) == (11, Rflush())
        assert fs.cancelled == 1  # the read was cancelled before the Rflush went out
        assert await raw.rpc(12, Tclunk(1)) == Rclunk()  # nothing came for tag 10
        assert await raw.rpc(10, Tflush(999)) == Rflush()  # tag 10 is free again


async def test_flush_of_a_finished_request_is_answered_at_once() -> None:
    async with gate_served() as (_fs, client):
        raw = Raw(client)
        await open_slow_and_fast(raw)
        assert isinstance(await raw.rpc(10, Tstat(2)), Rstat)
        assert await raw.rpc(11, Tflush(10)) == Rflush()


async def test_version_aborts_pending_and_clunks_fids() -> None:
    async with gate_served() as (fs, client):
        raw = Raw(client)
        await open_slow_and_fast(raw)
        await raw.send(10, Tread(1, 0, 100))
        await fs.reading.wait()
        await raw.send(NOTAG, Tversion(8216, "9P2000"))
        tag, r = await raw.recv()
        assert (tag, r) == (NOTAG, Rversion(8216, "9P2000"))
        await trio.testing.wait_all_tasks_blocked()
        assert fs.cancelled == 1
        assert fs.clunks == 2  # fids 1 (slow) and 2 (fast); the root dir has no counter
        r = await raw.rpc(11, Tstat(2))
        assert r == Rerror(Eunknownfid)  # the old fids are gone


async def test_msize_is_negotiated_and_reads_clamped() -> None:
    async with gate_served() as (_fs, client):
        raw = Raw(client)
        r = await raw.rpc(NOTAG, Tversion(1 << 20, "9P2000.u"))
        assert r == Rversion(8216, "9P2000")
        assert await raw.rpc(NOTAG, Tversion(8216, "HTTP/1.1")) == Rversion(8216, "unknown")
        await raw.start(msize=300)
        await raw.walk(0, 5, "fast")
        r = await raw.rpc(3, Topen(5, OREAD))
        assert isinstance(r, Ropen) and r.iounit == 300 - 24


async def test_directory_reads_pack_whole_entries() -> None:
    async with gate_served() as (_fs, client):
        raw = Raw(client)
        await raw.start()
        await raw.walk(0, 1)
        assert isinstance(await raw.rpc(3, Topen(1, OREAD)), Ropen)
        first = await raw.rpc(4, Tread(1, 0, 70))  # room for one entry only
        assert isinstance(first, Rread)
        (d,) = decode_dirs(first.data)
        rest = await raw.rpc(5, Tread(1, len(first.data), 8000))
        assert isinstance(rest, Rread)
        assert [e.name for e in decode_dirs(rest.data)] == ["fast"] and d.name == "slow"
        assert await raw.rpc(6, Tread(1, 3, 8000)) == Error("bad offset").to_rerror()
        end = await raw.rpc(7, Tread(1, len(first.data) + len(rest.data), 8000))
        assert end == Rread(b"")


class SpyLink(SocketLink):
    """A real SocketLink that records the part sizes of every gathered send."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.gathered: list[list[int]] = []

    async def send_parts(self, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        self.gathered.append([len(p) for p in parts])
        await super().send_parts(parts)


@pytest.mark.parametrize("kind", ["socket", "stream"])
async def test_big_pipelined_reads_over_either_kind_of_link(kind: str) -> None:
    """A SocketLink is read with receive_into and written with send_parts (Rread data sent
    unjoined); a plain trio stream has neither and gets the same bytes."""
    msize = (256 << 10) + IOHDRSZ
    spy: SpyLink | None = None
    if kind == "socket":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        spy = SpyLink(b)
        client: Link = SocketLink(a)
        server: Link = spy
    else:
        pair = trio.testing.memory_stream_pair()  # receive_some gives bytearray: fine here
        client, server = pair  # type: ignore[assignment]
    payload = bytes(range(251)) * 1000  # 251000 B, not a multiple of any buffer size
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(serve, server, Ramfs("glenda"), msize=msize))
        raw = Raw(client)
        await raw.start(msize=msize)
        assert isinstance(await raw.rpc(2, Tcreate(0, "f", 0o644, ORDWR)), Rcreate)
        assert await raw.rpc(3, Twrite(0, 0, payload)) == Rwrite(len(payload))
        assert await raw.rpc(4, Tread(0, 0, 5)) == Rread(payload[:5])  # two small parts
        reads = [(10, 0, len(payload)), (11, 1000, 5), (12, 250990, 100), (13, 7, 0)]
        await client.send_all(b"".join(encode(t, Tread(0, off, n)) for t, off, n in reads))
        for tag, off, n in reads:
            assert await raw.recv() == (tag, Rread(payload[off:off + n]))
        await client.aclose()
    if spy is not None:  # the big Rread left as header + data, never joined
        assert any(sizes[:2] == [4 + 1 + 2 + 4, len(payload)] for sizes in spy.gathered)
        assert all(sum(sizes) >= GATHER_MIN for sizes in spy.gathered)  # small: joined
