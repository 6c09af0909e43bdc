"""Retained regions (lp49fs.hvm.retain): memory that outlives the process that wrote it.

Real processes of a booted node attach a region with the segattach system call, store into
it, are killed with the ``kill`` note, and a later process finds the bytes; HVM's frame
table shows the frames kept while the region lives and given back when it is freed.
"""

from __future__ import annotations

import pytest
import trio
from lib_helpers import node, run_as

from lp49fs import lib
from lp49fs.errors import Enomem, Error, Esegbusy, Esegsize
from lp49fs.hvm.frames import FrameTable
from lp49fs.ninep import OREAD
from lp49fs.node.boot import Node
from tests.waiting import DEADLINE

__all__ = ["node"]  # the fixture


async def test_a_region_keeps_its_bytes_after_its_process_is_killed(node: Node) -> None:
    frames = node.hvm.frames
    free0 = frames.nfree - frames.promised
    stored = trio.Event()

    async def writer(argv: list[str]) -> None:
        seg = await lib.segattach("r1", 64 << 10)
        await seg.write(4090, b"across a page edge")  # two pages, both faulted in
        await seg.write(60 << 10, b"end")
        seg2 = await lib.segattach("r1", 0)  # attached again: the same segment
        assert seg2.base == seg.base
        stored.set()
        await trio.sleep_forever()

    node.programs["w"] = writer  # type: ignore[assignment]
    pid = await node.spawn("w", ["w"])
    with trio.fail_after(DEADLINE):
        await stored.wait()
    node.procmgr.note(node.procmgr.bypid[pid].proc, "kill")
    assert await node.wait(pid) == "killed"
    assert frames.nfree - frames.promised == free0 - 16  # 16 pages promised to the region

    async def reader() -> None:
        seg = await lib.segattach("r1", 64 << 10)
        assert await seg.read(4090, 18) == b"across a page edge"
        assert await seg.read(60 << 10, 3) == b"end"
        assert await seg.read(0, 16) == bytes(16)  # never written: zeros
        with pytest.raises(Error, match="bad arg"):
            await seg.read(64 << 10, 1)  # outside the segment
        text = await lib.readall(await lib.open(f"/proc/{await lib.getpid()}/segment", OREAD))
        fields = text.decode().split()
        assert fields[0] == "Retain" and fields[-1] == "r1"
        assert int(fields[2], 16) - int(fields[1], 16) == 64 << 10
        assert int(fields[3]) == 3  # pages in RAM: the two written ones and the last
        with pytest.raises(Error, match=Esegsize):
            await lib.segattach("r1", 128 << 10)

    assert await run_as(node, reader) == ""
    assert node.hvm.segfree("r1")
    assert frames.nfree - frames.promised == free0  # every frame and promise given back
    assert not node.hvm.segfree("r1")


async def test_a_region_too_big_for_ram_is_refused(node: Node) -> None:
    async def body() -> None:
        with pytest.raises(Error, match=Enomem):
            await lib.segattach("huge", 1 << 30)

    assert await run_as(node, body) == ""


async def test_a_region_in_use_is_not_freed(node: Node) -> None:
    attached = trio.Event()

    async def holder(argv: list[str]) -> None:
        await lib.segattach("held", 8192)
        attached.set()
        await trio.sleep_forever()

    node.programs["h"] = holder  # type: ignore[assignment]
    pid = await node.spawn("h", ["h"])
    with trio.fail_after(DEADLINE):
        await attached.wait()
    with pytest.raises(Error, match=Esegbusy):
        node.hvm.segfree("held")
    node.procmgr.note(node.procmgr.bypid[pid].proc, "kill")
    await node.wait(pid)
    assert node.hvm.segfree("held")


def test_promised_frames_are_kept_from_ordinary_allocation() -> None:
    ft = FrameTable(8, set())
    assert ft.promise(6)
    assert not ft.promise(3)
    got = [ft.alloc(1) for _ in range(3)]
    assert got[:2] != [None, None] and got[2] is None  # two left for ordinary owners
    assert ft.alloc(-2, promised=True) is not None
    assert ft.promised == 5
