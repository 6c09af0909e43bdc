"""The lib9p server framework: concurrency, Tflush, Tversion reset, msize, dispatch."""

from __future__ import annotations

import trio
from lib9p_helpers import GateFs, Raw

from lp49fs.errors import Error, Eunknownfid
from lp49fs.lib9p import DISPATCH, serve
from lp49fs.ninep import (
    NOTAG,
    OREAD,
    T_CLASSES,
    Rclunk,
    Rerror,
    Rflush,
    Ropen,
    Rread,
    Rstat,
    Rversion,
    Rwalk,
    Tclunk,
    Tflush,
    Topen,
    Tread,
    Tstat,
    Tversion,
    decode_dirs,
)
from lp49fs.transport import pipe_pair


def test_dispatch_covers_every_request_but_version_and_flush() -> None:
    wanted = set(T_CLASSES) - {Tversion, Tflush}
    assert set(DISPATCH) == wanted


async def open_slow_and_fast(raw: Raw) -> None:
    await raw.start()
    assert isinstance(await raw.walk(0, 1, "slow"), Rwalk)
    assert isinstance(await raw.walk(0, 2, "fast"), Rwalk)
    assert isinstance(await raw.rpc(3, Topen(1, OREAD)), Ropen)


async def test_slow_read_does_not_delay_stat() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
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
        await client.aclose()
    assert fs.clunks == 2  # both files clunked when the connection ended


async def test_flush_cancels_a_blocked_read_then_rflush() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
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
        await client.aclose()


async def test_flush_of_a_finished_request_is_answered_at_once() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
        raw = Raw(client)
        await open_slow_and_fast(raw)
        assert isinstance(await raw.rpc(10, Tstat(2)), Rstat)
        assert await raw.rpc(11, Tflush(10)) == Rflush()
        await client.aclose()


async def test_version_aborts_pending_and_clunks_fids() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
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
        await client.aclose()


async def test_msize_is_negotiated_and_reads_clamped() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
        raw = Raw(client)
        r = await raw.rpc(NOTAG, Tversion(1 << 20, "9P2000.u"))
        assert r == Rversion(8216, "9P2000")
        assert await raw.rpc(NOTAG, Tversion(8216, "HTTP/1.1")) == Rversion(8216, "unknown")
        await raw.start(msize=300)
        await raw.walk(0, 5, "fast")
        r = await raw.rpc(3, Topen(5, OREAD))
        assert isinstance(r, Ropen) and r.iounit == 300 - 24
        await client.aclose()


async def test_directory_reads_pack_whole_entries() -> None:
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
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
        await client.aclose()
