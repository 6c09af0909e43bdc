"""Session Rule 6: a peer that stops answering is found out by pings; a slow call is not.

Virtual time (trio's autojump clock): the periods are the session's own, so the tests are exact
and take no real time.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from test_client import attached, scripted

from lp49fs.errors import Ehungup, Error
from lp49fs.ninep import Dir, Qid, Rflush, Rstat, Tflush, Tstat

T = 5.0  # the session's ping period in these tests


async def test_a_frozen_peer_fails_the_waiting_call_within_two_periods(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with scripted(ping=T) as (session, peer):
        root = await attached(session, peer)
        t0 = trio.current_time()
        failed: list[float] = []

        async def stat() -> None:
            with pytest.raises(Error, match=Ehungup):
                await session.rpc(Tstat(fid=root.fid))
            failed.append(trio.current_time() - t0)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stat)
            tag, msg = await peer.receive()
            assert msg == Tstat(fid=root.fid)  # ... and the peer freezes: no reply, ever
            ptag, ping = await peer.receive()
            assert isinstance(ping, Tflush) and ping.oldtag not in (tag, ptag)
        assert T < failed[0] <= 2 * T + 0.5
        assert session.hungup
        with pytest.raises(Error, match=Ehungup):
            await session.rpc(Tstat(fid=root.fid))


async def test_a_live_peer_keeps_a_long_call_waiting_and_answers_the_pings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with scripted(ping=T) as (session, peer):
        root = await attached(session, peer)
        got: list[object] = []

        async def stat() -> None:
            got.append(await session.rpc(Tstat(fid=root.fid)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stat)
            tag, _ = await peer.receive()
            t0 = trio.current_time()
            pings = 0
            while trio.current_time() - t0 < 20 * T:  # a console read nobody types at
                ptag, ping = await peer.receive()
                assert isinstance(ping, Tflush) and ping.oldtag != tag
                pings += 1
                await peer.reply(ptag, Rflush())
            assert not got and not session.hungup
            reply = Rstat(stat=Dir(qid=Qid(0x80, 0, 1), mode=0o555, name="/"))
            await peer.reply(tag, reply)
        assert got == [reply]
        assert 10 <= pings <= 20  # one per period of silence, not more
        assert session.pending() == []  # the pings' tags are all free again


async def test_an_idle_session_sends_no_pings(autojump_clock: trio.testing.MockClock) -> None:
    async with scripted(ping=T) as (session, peer):
        await attached(session, peer)
        with trio.move_on_after(50 * T):
            await peer.receive()
            pytest.fail("an idle session pinged its peer")
        assert not session.hungup
