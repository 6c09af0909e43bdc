"""#| pipe: cross-connected ends, message boundaries, atomic writes, hangup, cancellation."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from lp49fs.core.chan import Chan, cclose
from lp49fs.core.core import Core
from lp49fs.errors import Ehungup, Error
from lp49fs.ninep import ORDWR, decode_dirs
from lp49fs.servants import boot_core
from lp49fs.servants.pipe import PIPEQSIZE, Pipe


@pytest.fixture
def pipe() -> Pipe:
    core = boot_core(Core(), ("root", "pipe"))
    sv = core.devtab["|"]
    assert isinstance(sv, Pipe)
    return sv


async def ends(sv: Pipe) -> tuple[Chan, Chan]:
    """pipe(2): attach, then open data and data1 ORDWR."""
    d = await sv.attach("")
    out = []
    for name in ("data", "data1"):
        wq = await sv.walk(d, [name])
        assert wq.clone is not None
        out.append(await sv.open(wq.clone, ORDWR))
    await cclose(d)
    return out[0], out[1]


async def test_listing_and_new_pipe_per_attach(pipe: Pipe) -> None:
    a, b = await pipe.attach(""), await pipe.attach("")
    assert a.qid.path != b.qid.path
    da = await pipe.open(a, 0)
    names = [(d.name, d.mode & 0o777) for d in decode_dirs(await pipe.read(da, 8192, 0))]
    assert names == [("data", 0o600), ("data1", 0o600)]


async def test_cross_connected(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    assert await pipe.write(d0, b"to one", 0) == 6
    assert await pipe.write(d1, b"to zero", 0) == 7
    assert await pipe.read(d1, 100, 0) == b"to one"
    assert await pipe.read(d0, 100, 0) == b"to zero"


async def test_message_boundaries(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    for m in (b"first", b"second", b"x"):
        await pipe.write(d0, m, 0)
    assert await pipe.read(d1, 100, 0) == b"first"  # never spans two writes
    assert await pipe.read(d1, 3, 0) == b"sec"  # the rest stays
    assert await pipe.read(d1, 100, 0) == b"ond"
    assert await pipe.read(d1, 100, 0) == b"x"


async def test_big_write_is_atomic_and_blocks_until_it_fits(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    await pipe.write(d0, b"a" * 100, 0)
    big = b"b" * PIPEQSIZE
    done = trio.Event()

    async def writer() -> None:
        await pipe.write(d0, big, 0)
        done.set()

    async with trio.open_nursery() as n:
        n.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        assert not done.is_set()  # 100 + 32 KiB does not fit: nothing partial went in
        assert await pipe.read(d1, PIPEQSIZE, 0) == b"a" * 100
        await done.wait()
    assert await pipe.read(d1, 2 * PIPEQSIZE, 0) == big


async def test_hangup(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    await pipe.write(d0, b"last words", 0)
    await cclose(d0)
    assert await pipe.read(d1, 100, 0) == b"last words"  # drained first
    assert await pipe.read(d1, 100, 0) == b""  # then end of file
    with pytest.raises(Error) as e:
        await pipe.write(d1, b"anyone?", 0)
    assert e.value.ename == Ehungup


async def test_blocked_read_wakes_on_hangup(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    got: list[bytes] = []

    async def reader() -> None:
        got.append(await pipe.read(d1, 100, 0))

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await cclose(d0)
    assert got == [b""]


async def test_cancelled_read_takes_nothing(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    with trio.move_on_after(0.01) as scope:
        await pipe.read(d1, 100, 0)
    assert scope.cancelled_caught
    await pipe.write(d0, b"still here", 0)
    assert await pipe.read(d1, 100, 0) == b"still here"


async def test_cancelled_write_puts_nothing(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)
    await pipe.write(d0, b"x" * PIPEQSIZE, 0)
    with trio.move_on_after(0.01) as scope:
        await pipe.write(d0, b"never", 0)
    assert scope.cancelled_caught
    assert await pipe.read(d1, 2 * PIPEQSIZE, 0) == b"x" * PIPEQSIZE
    await pipe.write(d0, b"after", 0)
    assert await pipe.read(d1, 100, 0) == b"after"


async def test_ping_pong_between_tasks(pipe: Pipe) -> None:
    d0, d1 = await ends(pipe)

    async def echo() -> None:
        while m := await pipe.read(d1, 100, 0):
            await pipe.write(d1, m.upper(), 0)

    async with trio.open_nursery() as n:
        n.start_soon(echo)
        for word in (b"plan", b"nine"):
            await pipe.write(d0, word, 0)
            assert await pipe.read(d0, 100, 0) == word.upper()
        await cclose(d0)
