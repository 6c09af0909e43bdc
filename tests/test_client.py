"""The client Session at the protocol edges, against a server scripted message by message.

A scripted peer (real lp49fs.ninep codec over trio memory streams) lets a test choose reply
order and timing exactly: out-of-order replies, a reply that races a Tflush, a link that dies
with calls pending.  Whole-tree behaviour against the real ramfs is in test_client_ramfs.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from lp49fs.errors import Ehungup, Error
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import Fid, attach
from lp49fs.ninep import (
    NEED_DATA,
    NOFID,
    NOTAG,
    Framer,
    Qid,
    Rattach,
    Rclunk,
    Rerror,
    Rflush,
    Rread,
    Rversion,
    Rwalk,
    Rwrite,
    Tattach,
    Tclunk,
    Tflush,
    Tread,
    Tversion,
    Twalk,
    Twrite,
    decode,
    encode,
)
from tests.waiting import DEADLINE, await_until

ROOTQID = Qid(0x80, 0, 1)


class Peer:
    """The server end of a memory stream: receive T-messages, send chosen R-messages."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.framer = Framer(1 << 20)
        self.raw: list[bytes] = []

    async def receive(self) -> tuple[int, object]:
        while (frame := self.framer.next_frame()) is NEED_DATA:
            data = await self.stream.receive_some(65536)
            assert data, "client closed the link"
            self.raw.append(bytes(data))
            self.framer.feed(data)
        return decode(frame)  # type: ignore[arg-type]

    async def reply(self, tag: int, msg: object) -> None:
        await self.stream.send_all(encode(tag, msg))  # type: ignore[arg-type]


@asynccontextmanager
async def scripted(msize: int = 8216, ping: float | None = None
                   ) -> AsyncIterator[tuple[Session, Peer]]:
    """A versioned Session (watching its peer every ``ping`` s) whose server is the Peer."""
    client_end, server_end = trio.testing.memory_stream_pair()
    session, peer = Session(client_end, ping=ping), Peer(server_end)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        async with trio.open_nursery() as inner:
            inner.start_soon(session.version)
            tag, msg = await peer.receive()
            assert (tag, msg) == (NOTAG, Tversion(msize=8216, version="9P2000"))
            await peer.reply(NOTAG, Rversion(msize=msize, version="9P2000"))
        yield session, peer
        nursery.cancel_scope.cancel()


async def attached(session: Session, peer: Peer) -> Fid:
    async with trio.open_nursery() as nursery:
        result: list[Fid] = []

        async def go() -> None:
            result.append(await attach(session, "glenda", ""))

        nursery.start_soon(go)
        tag, msg = await peer.receive()
        assert isinstance(msg, Tattach) and msg.afid == NOFID and msg.uname == "glenda"
        await peer.reply(tag, Rattach(qid=ROOTQID))
    return result[0]


async def test_tversion_bytes_are_the_reference_example() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    session = Session(client_end)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        nursery.start_soon(session.version, 8192)
        data = await server_end.receive_some(100)
        assert data.hex() == "13000000" "64" "ffff" "00200000" "0600" "395032303030"
        await server_end.send_all(encode(NOTAG, Rversion(msize=4096, version="9P2000")))
        await await_until(lambda: session.version_string == "9P2000", "the version")
        assert session.msize == 4096
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("answer", ["unknown", "9P2000.L"])
async def test_version_refused_is_a_clear_error(answer: str) -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    session, peer = Session(client_end), Peer(server_end)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)

        async def serve() -> None:
            tag, _ = await peer.receive()
            await peer.reply(tag, Rversion(msize=8216, version=answer))

        nursery.start_soon(serve)
        with pytest.raises(Error, match=f"server speaks 9P version '{answer}'"):
            await session.version()
        nursery.cancel_scope.cancel()


async def test_replies_out_of_order_reach_their_callers() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        results: dict[int, bytes] = {}

        async def reader(i: int) -> None:
            results[i] = await root.read(100, offset=i)

        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(reader, i)
            got = [await peer.receive() for _ in range(10)]
            assert len({tag for tag, _ in got}) == 10  # distinct tags, all in flight at once
            assert len(session.pending()) == 10
            for tag, msg in reversed(got):
                assert isinstance(msg, Tread)
                await peer.reply(tag, Rread(data=b"x%d" % msg.offset))
        assert results == {i: b"x%d" % i for i in range(10)}


async def test_rerror_raises_error_with_the_ename() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                tag, msg = await peer.receive()
                assert isinstance(msg, Twalk) and msg.wname == ("x",)
                await peer.reply(tag, Rerror(ename="file does not exist"))

            nursery.start_soon(serve)
            with pytest.raises(Error) as e:
                await root.walk(["x"])
            assert e.value.ename == "file does not exist"


async def test_partial_walk_creates_no_fid() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                tag, _msg = await peer.receive()
                await peer.reply(tag, Rwalk(wqid=(Qid(0x80, 0, 2),)))

            nursery.start_soon(serve)
            with pytest.raises(Error, match="'/a/b' does not exist"):
                await root.walk(["a", "b", "c"])
        assert session.fids() == {root.fid}  # the failed newfid went back


async def test_long_walk_is_split_into_maxwelem_pieces() -> None:
    names = [f"d{i}" for i in range(20)]
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                for expect in (names[:16], names[16:]):
                    tag, msg = await peer.receive()
                    assert isinstance(msg, Twalk) and list(msg.wname) == expect
                    qids = tuple(Qid(0x80, 0, 10 + i) for i in range(len(expect)))
                    await peer.reply(tag, Rwalk(wqid=qids))

            nursery.start_soon(serve)
            fid = await root.walk(names)
        assert fid.qid == Qid(0x80, 0, 13) and fid.path == "/" + "/".join(names)


async def test_cancelled_walk_is_flushed_and_a_late_reply_is_clunked() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        with trio.move_on_after(0.05) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(root.walk, ["slow"])
                tag, walk = await peer.receive()
                assert isinstance(walk, Twalk)
                await trio.sleep_forever()
        assert scope.cancelled_caught
        ftag, flush = await peer.receive()
        assert flush == Tflush(oldtag=tag) and ftag != tag
        assert tag in session.pending()  # Rule 1: oldtag stays busy until Rflush
        await peer.reply(tag, Rwalk(wqid=(Qid(0, 0, 7),)))  # the server answered anyway
        await peer.reply(ftag, Rflush())
        ctag, clunk = await peer.receive()
        assert clunk == Tclunk(fid=walk.newfid)  # the late fid goes back to the server
        await peer.reply(ctag, Rclunk())
        await await_until(lambda: not session.pending(), "no call pending")
        assert walk.newfid not in session.fids()


async def test_cancelled_call_answered_only_by_rflush_frees_its_fid() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        with trio.move_on_after(0.05):
            await root.walk(["slow"])
        _tag, walk = await peer.receive()
        ftag, _ = await peer.receive()
        await peer.reply(ftag, Rflush())
        await await_until(lambda: not session.pending(), "no call pending")
        assert walk.newfid not in session.fids()


async def test_hangup_fails_pending_and_later_calls_promptly() -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        errors: list[Error] = []

        async def reader() -> None:
            try:
                await root.read(10)
            except Error as e:
                errors.append(e)

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(reader)
                for _ in range(3):
                    await peer.receive()
                await peer.stream.aclose()
        assert errors == [Error(Ehungup)] * 3
        with pytest.raises(Error, match=Ehungup):
            await root.read(10)


class FailingLink:
    """A link whose reads fail the way an LP49 fd link's do once its fd is closed."""

    def __init__(self) -> None:
        self.fail = trio.Event()
        self.closed = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await self.fail.wait()
        raise Error("fd out of range or not open")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        pass  # requests vanish; no reply ever comes

    async def aclose(self) -> None:
        self.closed = True


async def test_an_error_from_the_link_ends_the_session_like_eof() -> None:
    link = FailingLink()
    session = Session(link)
    errors: list[Error] = []

    async def call() -> None:
        try:
            await session.version()
        except Error as e:
            errors.append(e)

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(session.run)  # must end quietly, not raise out of the nursery
            nursery.start_soon(call)
            await trio.testing.wait_all_tasks_blocked()
            link.fail.set()
    assert errors == [Error(Ehungup)] and link.closed


@pytest.mark.parametrize("bad", ["wrong type", "unknown tag"])
async def test_a_reply_that_answers_no_request_hangs_the_session_up(bad: str) -> None:
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        errors: list[Error] = []

        async def stat() -> None:
            try:
                await root.stat()
            except Error as e:
                errors.append(e)

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stat)
                tag, _ = await peer.receive()
                if bad == "wrong type":
                    await peer.reply(tag, Rclunk())  # ClientConn Rule 4
                else:
                    await peer.reply(tag + 7, Rflush())
        assert errors == [Error(Ehungup)]
        assert session.hungup


async def test_write_stops_at_a_short_rwrite_and_writeall_raises() -> None:
    """clientfid Rule 3, shared by #M: Plan 9's mntrdwr stops at a short Rwrite."""
    async with scripted() as (session, peer):
        root = await attached(session, peer)
        root.mode, root.qid = 1, Qid(0, 0, 9)  # as if opened for writing: a plain file
        for call, expect in ((root.write, 3), (root.writeall, None)):
            async with trio.open_nursery() as nursery:

                async def serve() -> None:
                    tag, msg = await peer.receive()
                    assert isinstance(msg, Twrite) and msg.data == b"abcdef"
                    await peer.reply(tag, Rwrite(count=3))

                nursery.start_soon(serve)
                if expect is None:
                    with pytest.raises(Error, match="short write on /"):
                        await call(b"abcdef", 0)
                else:
                    assert await call(b"abcdef", 0) == expect


async def test_a_caller_reads_its_own_reply_with_no_reader_task() -> None:
    """client.py (mountmux): nothing but the caller reads the link, so a Session whose
    ``run`` was never started still answers a lone caller."""
    client_end, server_end = trio.testing.memory_stream_pair()
    session, peer = Session(client_end), Peer(server_end)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            for _ in range(2):
                tag, msg = await peer.receive()
                if isinstance(msg, Tversion):
                    await peer.reply(tag, Rversion(msize=8216, version="9P2000"))
                else:
                    await peer.reply(tag, Rattach(qid=ROOTQID))

        nursery.start_soon(serve)
        with trio.fail_after(DEADLINE):
            assert await session.version() == "9P2000"
            assert (await attach(session, "glenda", "")).qid == ROOTQID
