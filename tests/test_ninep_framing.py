"""The zero-copy paths: Framer.recv_buffer/received/next_view, decode of a memoryview,
encode_parts, and the transport's receive_into/send_parts and its Rule 1 on checkpoints."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from ninep_strategies import tagged
from test_ninep_codec import GOLDEN

import lp49fs.ninep as P
from lp49fs.ninep._framing import CHUNK
from lp49fs.transport import SocketLink, pipe_pair


def frame(size: int, fill: int) -> bytes:
    """A frame-shaped blob: size[4] then ``size - 4`` bytes of ``fill``."""
    return size.to_bytes(4, "little") + bytes([fill]) * (size - 4)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([7, 11, 100, CHUNK - 3, CHUNK + 5, 300_000]), max_size=6),
    cuts=st.lists(st.integers(1, 200_000), min_size=1, max_size=20),
    into=st.booleans(),
    views=st.booleans(),
)
def test_framer_any_chunking_any_way_in_and_out(
    sizes: list[int], cuts: list[int], into: bool, views: bool
) -> None:
    frames = [frame(n, i) for i, n in enumerate(sizes)]
    stream = b"".join(frames)
    f = P.Framer(P.MAXMSIZE)
    got: list[bytes] = []
    pos = k = 0
    least = len(stream) // 2000  # at most ~2000 pieces: 1-byte cuts of 1.8 MB took 30 s
    while pos < len(stream) or f.buffered:
        n = min(max(cuts[k % len(cuts)], least), len(stream) - pos)
        k += 1
        if into:
            buf = f.recv_buffer()
            n = min(n, len(buf))
            buf[:n] = stream[pos:pos + n]
            f.received(n)
        else:
            f.feed(stream[pos:pos + n])
        pos += n
        while (fr := (f.next_view() if views else f.next_frame())) is not P.NEED_DATA:
            got.append(bytes(fr))
        if pos == len(stream) and f.buffered:
            pytest.fail("bytes left over after the last frame")
    assert got == frames


def test_big_frames_go_straight_into_one_reused_buffer() -> None:
    f = P.Framer(P.MAXMSIZE)
    big = frame(1 << 20, 7)
    owners = set()
    for _ in range(3):
        head = f.recv_buffer()
        head[:11] = big[:11]
        f.received(11)
        rest = f.recv_buffer()
        assert len(rest) >= len(big) - 11  # the whole rest of the frame in one recv_into
        rest[:len(big) - 11] = big[11:]
        f.received(len(big) - 11)
        owners.add(id(rest.obj))
        v = f.next_view()
        assert isinstance(v, memoryview) and v == big
        assert f.next_view() is P.NEED_DATA
    assert len(owners) == 1  # no new buffer per frame (no fresh mmap per frame)


def test_received_more_than_the_free_space_is_refused() -> None:
    f = P.Framer(8192)
    free = len(f.recv_buffer())
    with pytest.raises(ValueError):
        f.received(free + 1)


def test_bad_size_is_found_through_either_way_out() -> None:
    f = P.Framer(8192)
    f.feed(frame(9000, 0)[:8])
    with pytest.raises(P.ProtocolError):
        f.next_view()
    with pytest.raises(P.ProtocolError):
        f.next_frame()


@pytest.mark.parametrize(("desc", "tag", "msg", "wire"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_views_decode_like_bytes_and_parts_join_to_the_frame(
    desc: str, tag: int, msg: P.Message, wire: bytes
) -> None:
    assert P.decode(memoryview(wire)) == (tag, msg)
    assert b"".join(P.encode_parts(tag, msg)) == wire
    with pytest.raises(P.ProtocolError):
        P.decode(memoryview(wire + b"\0"))


@settings(max_examples=150, deadline=None)
@given(tm=tagged)
def test_views_and_parts_round_trip(tm: tuple[int, P.Message]) -> None:
    tag, msg = tm
    wire = P.encode(tag, msg)
    assert b"".join(P.encode_parts(tag, msg)) == wire
    got = P.decode(memoryview(bytearray(wire)))
    assert got == (tag, msg)
    for m in got[1:]:  # data is bytes, not a view into a buffer that will be reused
        data = getattr(m, "data", b"")
        assert type(data) is bytes


async def test_send_parts_and_receive_into_carry_every_byte() -> None:
    a, b = pipe_pair()
    a.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # force partial sends
    parts = [bytes([i % 251]) * (i * 37 % 5000) for i in range(700)]  # > one sendmsg batch
    want = b"".join(parts)
    got = bytearray()

    async def drain() -> None:
        buf = bytearray(3000)
        while len(got) < len(want):
            n = await b.receive_into(memoryview(buf))
            assert n
            got.extend(buf[:n])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await a.send_parts(parts)
    assert got == want
    await a.aclose()
    assert await b.receive_into(memoryview(bytearray(10))) == 0  # EOF
    await b.aclose()


async def test_rule1_sends_do_not_yield_receives_do() -> None:
    a, b = pipe_pair()
    with trio.testing.assert_no_checkpoints():
        await a.send_all(b"hello")
        await a.send_parts([b"wor", b"ld"])
    with trio.testing.assert_checkpoints():
        assert await b.receive_into(memoryview(bytearray(64))) == 10
    await a.aclose()
    await b.aclose()


async def test_send_parts_on_a_closed_link_is_closed_resource() -> None:
    a, b = pipe_pair()
    await a.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await a.send_parts([b"x"])
    await b.aclose()


def test_socketlink_has_the_optional_fast_methods() -> None:
    assert callable(SocketLink.receive_into) and callable(SocketLink.send_parts)


def test_tune_malloc_sets_glibc_thresholds_once() -> None:
    from lp49fs.transport._malloc import tune_malloc

    assert tune_malloc() is tune_malloc()  # idempotent: a second call changes nothing
    if "glibc" in " ".join(__import__("platform").libc_ver()):
        assert tune_malloc()
