"""9P2000.lp49 end to end: a Session pipelining requests to lib9p's serve (docs/ninep.md).

The server is lib9p over an in-process pipe with ``GateFs``: its root walks inline and its
files run every request in a task of their own (``mayblock``), so the requests held back
behind a walk or an open are set free from a request task, not from the reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from lib9p_helpers import GateFs, gate_served
from test_client import ROOTQID, Peer, attached

from lp49fs.errors import Ehungup, Error
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import Fid, attach
from lp49fs.ninep import (
    NOTAG,
    OREAD,
    VERSIONLP49,
    Qid,
    Rerror,
    Rflush,
    Ropen,
    Rread,
    Rversion,
    Rwalk,
    Tclunk,
    Tflush,
    Topen,
    Tread,
    Tversion,
    Twalk,
)
from tests.waiting import DEADLINE


@asynccontextmanager
async def gate_session() -> AsyncIterator[tuple[GateFs, Fid]]:
    async with gate_served() as (fs, client), trio.open_nursery() as nursery:
        session = Session(client)
        await nursery.start(session.run)
        assert await session.version(version=VERSIONLP49) == VERSIONLP49
        assert session.pipelined
        yield fs, await attach(session, "glenda", "")
        await session.aclose()


async def test_walk_open_and_read_in_one_write_to_a_blocking_file() -> None:
    async with gate_session() as (fs, root):
        s = root.session
        nf = s.newfid()
        got: list[object] = []

        async def release_when_reading() -> None:
            await fs.reading.wait()  # the read ran: after the open, held back till then
            fs.release.set()

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as n:
                n.start_soon(release_when_reading)
                got = await s.pipeline(
                    Twalk(root.fid, nf, ("slow",)), Topen(nf, OREAD), Tread(nf, 0, 100))
        rw, ro, rr = got
        assert isinstance(rw, Rwalk) and isinstance(ro, Ropen)
        assert rr == Rread(b"slow data")


async def test_walkopen_of_a_missing_file_creates_nothing() -> None:
    async with gate_session() as (fs, root):
        before = root.session.fids()
        with trio.fail_after(DEADLINE):
            f, qids = await root.walkopen(["nope"], OREAD)
            assert f is None and qids == []
            f, _ = await root.walkopen(["fast"], OREAD)
        assert f is not None and f.mode == OREAD
        assert await f.read(100, 0) == b"slow data"
        await f.clunk(wait=False)
        with trio.fail_after(DEADLINE):
            while root.session.fids() != before:  # the Rclunk is read by the next caller
                await root.stat()
        assert fs.clunks >= 1


async def test_a_cancelled_walkopen_is_flushed_and_its_late_fid_clunked() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    session, peer = Session(client_end), Peer(server_end)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        async with trio.open_nursery() as inner:
            inner.start_soon(session.version, 8216, VERSIONLP49)
            tag, msg = await peer.receive()
            assert tag == NOTAG
            assert isinstance(msg, Tversion) and msg.version == VERSIONLP49
            await peer.reply(NOTAG, Rversion(msize=8216, version=VERSIONLP49))
        root = await attached(session, peer)
        with trio.fail_after(DEADLINE):
            cancel = trio.CancelScope()

            async def opener() -> None:
                with cancel:
                    await root.walkopen(["f"], OREAD)

            nursery.start_soon(opener)
            (wt, walk), (ot, _) = await peer.receive(), await peer.receive()
            cancel.cancel()
            flushed = {}
            for _ in range(2):
                ft, fl = await peer.receive()
                assert isinstance(fl, Tflush)
                flushed[fl.oldtag] = ft
            assert set(flushed) == {wt, ot}
            assert isinstance(walk, Twalk)
            await peer.reply(wt, Rwalk((Qid(0, 0, 5),)))  # the walk was done after all
            await peer.reply(ot, Rerror("flushed"))
            for old in (wt, ot):
                await peer.reply(flushed[old], Rflush())
            _, msg = await peer.receive()
            assert msg == Tclunk(fid=walk.newfid)  # late_reply gives the fid back
        nursery.cancel_scope.cancel()
    assert root.qid == ROOTQID


async def test_a_pipelined_request_on_a_closed_link_fails_with_hungup() -> None:
    async with gate_session() as (_, root):
        await root.session.aclose()
        with pytest.raises(Error, match=Ehungup):
            await root.walkopen(["fast"], OREAD)
