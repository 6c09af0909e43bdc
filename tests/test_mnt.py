"""#M with a scripted server on the far end of a #| pipe: what goes on the wire, and when.

The node side is real (system calls, namec, the ``#M`` servant, its Session, the pipe); the
server is ``test_client.Peer`` reading the pipe's far end, so each test decides exactly which
T-messages get answered, in which order, and which never do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from mnt_helpers import CONFIG, fdlink, pipe
from servant_tree import boot
from test_client import Peer

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.core.proc import RFFDG, RFPROC, Proc, rfork
from lp49fs.errors import Error
from lp49fs.ninep import (
    NOTAG,
    ORDWR,
    OREAD,
    OWRITE,
    QTDIR,
    QTFILE,
    Dir,
    Qid,
    Rattach,
    Rclunk,
    Rflush,
    Ropen,
    Rstat,
    Rversion,
    Rwalk,
    Tattach,
    Tclunk,
    Tflush,
    Topen,
    Tread,
    Tstat,
    Tversion,
    Twalk,
)
from tests.waiting import DEADLINE

ROOTQ = Qid(QTDIR, 0, 0)


def fileqid(name: str) -> Qid:
    return Qid(QTFILE, 0, sum(name.encode()))


async def attach_reply(peer: Peer, aname: str = "", version: str = "9P2000") -> Tattach:
    tag, msg = await peer.receive()
    assert tag == NOTAG and isinstance(msg, Tversion) and msg.version == "9P2000.lp49"
    # by default a plain 9P2000 server (version(5): it answers the earlier version)
    await peer.reply(NOTAG, Rversion(msize=msg.msize, version=version))
    tag, msg = await peer.receive()
    assert isinstance(msg, Tattach) and msg.aname == aname
    await peer.reply(tag, Rattach(qid=ROOTQ))
    return msg


@asynccontextmanager
async def mounted(
    p: Proc, old: str = "/n", flag: int = MREPL, version: str = "9P2000"
) -> AsyncIterator[tuple[Peer, trio.Nursery]]:
    """``p`` has a scripted server mounted on ``old``; yields its Peer and a nursery."""
    near, far = await pipe(p)
    peer = Peer(await fdlink(p, far))  # type: ignore[arg-type]
    async with trio.open_nursery() as n:
        async with trio.open_nursery() as m:
            m.start_soon(sys.mount, p, near, -1, old, flag, "")
            await attach_reply(peer, version=version)
        await sys.close(p, near)
        yield peer, n
        n.cancel_scope.cancel()


async def answer(peer: Peer, tag: int, msg: object) -> None:
    """The obvious answer to ``msg``: walks succeed, stats name the file, clunks clunk."""
    if isinstance(msg, Twalk):
        await peer.reply(tag, Rwalk(wqid=tuple(fileqid(n) for n in msg.wname)))
    elif isinstance(msg, Tstat):
        d = Dir(0, 0, fileqid("x"), 0o644, 0, 0, 3, "x", "glenda", "glenda", "glenda")
        await peer.reply(tag, Rstat(stat=d))
    elif isinstance(msg, Tclunk):
        await peer.reply(tag, Rclunk())
    elif isinstance(msg, Topen):
        await peer.reply(tag, Ropen(qid=fileqid("x"), iounit=0))
    else:
        raise AssertionError(f"unexpected {msg}")


async def test_two_processes_have_requests_in_flight_on_one_link() -> None:
    p = await boot(config=CONFIG)
    q = await rfork(p, RFPROC | RFFDG)  # shares p's name space
    async with mounted(p) as (peer, n):
        got: dict[str, int] = {}

        async def stat(proc: Proc, name: str) -> None:
            got[name] = (await sys.stat(proc, f"/n/{name}")).length

        n.start_soon(stat, p, "a")
        n.start_soon(stat, q, "b")
        (t1, m1), (t2, m2) = await peer.receive(), await peer.receive()
        assert isinstance(m1, Twalk) and isinstance(m2, Twalk) and t1 != t2
        assert {m1.wname, m2.wname} == {("a",), ("b",)} and m1.newfid != m2.newfid
        await answer(peer, t2, m2)  # out of order
        await answer(peer, t1, m1)
        while len(got) < 2:
            with trio.move_on_after(0.05):  # let the callers finish their stat and clunk
                tag, msg = await peer.receive()
                await answer(peer, tag, msg)
    assert got == {"a": 3, "b": 3}


async def test_cancelled_read_sends_tflush_and_returns_at_once() -> None:
    p = await boot(config=CONFIG)
    async with mounted(p) as (peer, n):
        opened = trio.Event()
        result: list[object] = []

        async def reader(cancel: trio.CancelScope) -> None:
            fd = await sys.open(p, "/n/slow", OREAD)
            opened.set()
            with cancel:
                result.append(await sys.read(p, fd, 100))
            result.append("cancelled")
            await sys.close(p, fd)

        cancel = trio.CancelScope()
        n.start_soon(reader, cancel)
        for _ in range(2):  # Twalk, Topen
            tag, msg = await peer.receive()
            await answer(peer, tag, msg)
        await opened.wait()
        rtag, rmsg = await peer.receive()
        assert isinstance(rmsg, Tread) and rmsg.count == 100
        cancel.cancel()  # the read never gets an answer
        got = dict([await peer.receive(), await peer.receive()])  # the reader closes at once
        assert result == ["cancelled"]  # returned before any Rflush
        msgs = sorted(got.items(), key=lambda tm: type(tm[1]).__name__)
        (ctag, cmsg), (ftag, fmsg) = msgs
        assert fmsg == Tflush(oldtag=rtag) and isinstance(cmsg, Tclunk)
        await peer.reply(ftag, Rflush())
        await answer(peer, ctag, cmsg)


async def test_posted_link_mounts_and_shows_in_ns() -> None:
    p = await boot(config=CONFIG)
    await sys.bind(p, "#s", "/srv", MREPL | MCREATE)
    near, far = await pipe(p)
    peer = Peer(await fdlink(p, far))  # type: ignore[arg-type]
    post = await sys.create(p, "/srv/ramfs", OWRITE, 0o600)
    await sys.write(p, post, str(near).encode())
    await sys.close(p, post)
    await sys.close(p, near)  # /srv/ramfs holds the link now
    fd = await sys.open(p, "/srv/ramfs", ORDWR)
    assert sys.fdtochan(p, fd).type == "|"  # the posted channel itself
    async with trio.open_nursery() as n:
        n.start_soon(sys.mount, p, fd, -1, "/tmp", MREPL | MCREATE, "")
        await attach_reply(peer)
    await sys.close(p, fd)
    nsfd = await sys.open(p, f"#p/{p.pid}/ns", OREAD)
    lines = []
    while line := await sys.read(p, nsfd, 256):
        lines.append(line.decode())
    assert "mount -c #s/ramfs /tmp \n" in lines
    await sys.remove(p, "/srv/ramfs")  # the mount keeps its own reference on the link
    with pytest.raises(Error):
        await sys.open(p, "/srv/ramfs", ORDWR)
    async with trio.open_nursery() as n:
        n.start_soon(sys.stat, p, "/tmp/x")
        tag, msg = await peer.receive()
        assert isinstance(msg, Twalk) and msg.wname == ("x",)
        await answer(peer, tag, msg)
        for _ in range(2):  # Tstat, Tclunk
            tag, msg = await peer.receive()
            await answer(peer, tag, msg)


async def test_on_a_9p2000_lp49_link_open_is_one_trip_and_close_does_not_wait() -> None:
    """mnt Rule 9: Twalk and Topen arrive before any reply; close returns before Rclunk."""
    p = await boot(config=CONFIG)
    async with mounted(p, version="9P2000.lp49") as (peer, n):
        fds: list[int] = []

        async def opener() -> None:
            fds.append(await sys.open(p, "/n/f", OREAD))

        n.start_soon(opener)
        (t1, walk), (t2, op) = await peer.receive(), await peer.receive()
        assert isinstance(walk, Twalk) and walk.wname == ("f",)
        assert isinstance(op, Topen) and op.fid == walk.newfid
        await answer(peer, t1, walk)
        await answer(peer, t2, op)
        while not fds:
            await trio.sleep(0)
        with trio.fail_after(DEADLINE):
            await sys.close(p, fds[0])  # returns although the Rclunk is not sent yet
        tag, msg = await peer.receive()
        assert msg == Tclunk(fid=walk.newfid)
        await answer(peer, tag, msg)
