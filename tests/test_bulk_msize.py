"""Large 9P messages on a server link: ``#M`` over a ``#|`` pipe with an msize above the pipe's
atomic write size (32 KiB), so every Twrite/Rread travels as several pipe messages.

The node side is real (system calls, namec, ``#M`` and its Session, the pipe); the server is
ramfs served by lib9p on the pipe's far end.  A 9P message split into pieces must arrive whole
and in order, also while other writes compete for the same queue.
"""

from __future__ import annotations

import pytest
import trio
from mnt_helpers import CONFIG, fdlink, pipe
from servant_tree import boot

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.lib9p import serve
from lp49fs.ninep import IOHDRSZ, MAXMSIZE, OREAD, OWRITE
from lp49fs.servants import mnt
from lp49fs.servants.pipe import PIPEQSIZE, Queue
from lp49fs.servers import ramfs

MIB = 1 << 20


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(256)) * (n // 256)


def test_server_links_ask_for_big_messages() -> None:
    assert mnt.MSIZE >= (128 << 10) + IOHDRSZ > PIPEQSIZE
    assert ramfs.MSIZE >= mnt.MSIZE


async def test_long_write_stays_contiguous() -> None:
    q = Queue()
    big = pattern(3 * PIPEQSIZE + 100, 1)
    got: list[bytes] = []

    async def reader() -> None:
        while m := await q.read(2 * PIPEQSIZE):
            got.append(m)

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        n.start_soon(q.write, big)
        await trio.testing.wait_all_tasks_blocked()
        n.start_soon(q.write, b"short")  # arrives while the long write is in progress
        await trio.testing.wait_all_tasks_blocked()
        q.hangup()
    assert b"".join(got) == big + b"short"
    assert got[-1] == b"short" and all(len(m) <= PIPEQSIZE for m in got)


@pytest.mark.parametrize("msize", [(64 << 10) + IOHDRSZ, MAXMSIZE])  # 1 MiB: the 9P limit
async def test_big_messages_through_a_pipe_link(
    msize: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnt, "MSIZE", msize)
    p = await boot(config=CONFIG)
    near, far = await pipe(p)
    link = await fdlink(p, far)
    async with trio.open_nursery() as n:
        n.start_soon(lambda: serve(link, ramfs.Ramfs(), msize=msize))
        await sys.mount(p, near, -1, "/tmp", MREPL | MCREATE, "")
        await sys.close(p, near)
        sv = p.core.devtab["M"]
        assert isinstance(sv, mnt.Mnt)
        (m,) = sv.mnts.values()
        assert m.session.msize == msize
        datas = [pattern(MIB, seed) for seed in range(3)]

        async def put(i: int) -> None:  # three writers at once: one Session, one pipe
            fd = await sys.create(p, f"/tmp/f{i}", OWRITE, 0o644)
            assert await sys.write(p, fd, datas[i]) == MIB
            await sys.close(p, fd)

        async with trio.open_nursery() as w:
            for i in range(3):
                w.start_soon(put, i)
        for i in range(3):
            fd = await sys.open(p, f"/tmp/f{i}", OREAD)
            got = bytearray()
            while b := await sys.read(p, fd, MIB):
                got += b
            assert bytes(got) == datas[i]
            await sys.close(p, fd)
        await sys.unmount(p, None, "/tmp")
        n.cancel_scope.cancel()
