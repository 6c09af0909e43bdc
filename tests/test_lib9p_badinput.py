"""Bad input closes only the offending connection, with one log line; others keep working.

Explicit cases (truncated body, oversized frame, unknown type, impossible size) run against
a live TCP server with ``serve_forever``; hypothesis then throws garbage (random bytes, and
random well-formed messages with corrupted bytes) at in-process connections.
"""

from __future__ import annotations

import logging
import socket
import struct

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lib9p_helpers import Raw
from ninep_strategies import messages

from lp49fs.lib9p import serve, serve_forever
from lp49fs.ninep import NOTAG, Rstat, Rversion, Tstat, Tversion, Twrite, encode
from lp49fs.servers.ramfs import Ramfs
from lp49fs.transport import SocketLink, announce, dial, pipe_pair
from tests.waiting import DEADLINE

SRV_LOG = "lp49fs.lib9p.srv"

BAD_FRAMES = {
    "truncated body": struct.pack("<IBHH", 9, 124, 1, 0),  # Tstat with a 2-byte fid
    "size below 7": struct.pack("<I", 5) + b"\x64\x00",
    "unknown type": struct.pack("<IBH", 7, 99, 1),
    "type Terror": struct.pack("<IBH", 7, 106, 1),
    "oversized": encode(1, Twrite(0, 0, b"x" * 9000)),  # > msize 8216
    "reply type": struct.pack("<IBH", 7, 121, 1),  # Rclunk sent to a server
}


async def assert_served(link: SocketLink) -> None:
    raw = Raw(link)
    await raw.start()
    r = await raw.rpc(5, Tstat(0))
    assert isinstance(r, Rstat) and r.stat.name == "/"


@pytest.mark.parametrize("why", list(BAD_FRAMES))
async def test_bad_frame_closes_only_that_connection(
    why: str, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await announce("tcp!127.0.0.1!0")
    addr = str(listener.addr)
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_forever, listener, Ramfs("glenda"))
        good = await dial(addr)
        await assert_served(good)
        bad = await dial(addr)
        raw = Raw(bad)
        assert await raw.rpc(NOTAG, Tversion(8216, "9P2000")) == Rversion(8216, "9P2000")
        with caplog.at_level(logging.INFO, logger=SRV_LOG):
            await bad.send_all(BAD_FRAMES[why])
            with trio.fail_after(DEADLINE):
                assert await bad.receive_some(100) == b""  # the server hung up
            await trio.testing.wait_all_tasks_blocked()
        lines = [r for r in caplog.records if r.name == SRV_LOG]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert "closing connection" in lines[0].getMessage()
        r = await Raw(good).rpc(6, Tstat(0))  # the other connection is untouched
        assert isinstance(r, Rstat)
        third = await dial(addr)
        await assert_served(third)  # and new ones are accepted
        for link in (good, bad, third):
            await link.aclose()
        nursery.cancel_scope.cancel()
    await listener.aclose()


garbage = st.one_of(
    st.binary(max_size=200),
    st.lists(messages, max_size=4).map(lambda ms: b"".join(encode(1, m) for m in ms)),
    st.tuples(messages, st.integers(0, 40), st.integers(0, 255)).map(
        lambda t: _corrupt(encode(7, t[0]), t[1], t[2])
    ),
)


def _corrupt(frame: bytes, at: int, value: int) -> bytes:
    at %= len(frame)
    return frame[:at] + bytes([value]) + frame[at + 1 :]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versioned=st.booleans(), data=garbage)
async def test_garbage_never_crashes_the_server(versioned: bool, data: bytes) -> None:
    fs = Ramfs("glenda")
    victim, vserver = pipe_pair()
    other, oserver = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, vserver, fs)
        nursery.start_soon(serve, oserver, fs)
        if versioned:
            await victim.send_all(encode(NOTAG, Tversion(8216, "9P2000")))
        await victim.send_all(data)
        victim.socket.shutdown(socket.SHUT_WR)  # then EOF: serve must end by itself
        with trio.fail_after(DEADLINE):
            while await victim.receive_some(65536):
                pass
        await assert_served(other)
        await other.aclose()
        await victim.aclose()
