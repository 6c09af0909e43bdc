"""A node boots on HVM: processes' memory comes from HVM's Pager and goes back at exit.

Frames are counted through ``Hvm.frames`` (the sigma0 ownership record): every frame a
process's space was given is owned by that space's sid while it runs and is free again once
the process has exited; after the node shuts down, every frame but the KIP is free.
"""

from __future__ import annotations

import trio
import trio.testing

from kernel.types import PAGE_BITS, PAGE_SIZE
from lp49fs import lib
from lp49fs.hvm import Hvm
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.node.boot import Node, boot
from lp49fs.syscall import BUFBASE, WINDOW
from tests.lib_helpers import program, run_as


def sid_of(node: Node, pid: int) -> int:
    """The space id (frame owner) of live process ``pid``."""
    t = node.kernel.thread(node.procmgr.bypid[pid].threads[0])
    assert t is not None and t.space is not None
    return t.space.sid


async def test_boot_uses_hvm_for_the_core_and_processes() -> None:
    async with boot(ram=8 << 20) as node:
        hvm = node.hvm
        assert isinstance(hvm, Hvm) and hvm.pager != 0
        assert node.mngr.tid is not None
        assert hvm.space_threads(node.mngr.tid) >= 2  # the Mngr and the console driver
        spaces = hvm.nspaces
        seen: dict[str, int] = {}

        async def body() -> None:
            seen["threads"] = hvm.space_threads(node.procmgr.bypid[await lib.getpid()].threads[0])
            seen["spaces"] = hvm.nspaces

        await run_as(node, body)
        assert seen == {"threads": 2, "spaces": spaces + 1}  # main + sys thread, one new space
        await trio.testing.wait_all_tasks_blocked()
        assert hvm.nspaces == spaces


async def test_fresh_buffer_pages_fault_in_through_the_pager_and_are_freed_at_exit() -> None:
    async with boot(ram=8 << 20) as node:
        hvm = node.hvm
        got: dict[str, object] = {}

        async def body() -> None:
            me = await lib.getpid()
            sid = sid_of(node, me)
            fd = await lib.create("/env/big", OWRITE, 0o664)
            await lib.write(fd, b"z" * (3 * PAGE_SIZE))
            await lib.close(fd)
            fd = await lib.open("/env/big", OREAD)
            n0, owned0 = hvm.faults_served, len(hvm.frames.by_owner.get(sid, ()))
            data = await lib.read(fd, 4 * PAGE_SIZE)  # pages the write did not touch: faults
            n1, owned1 = hvm.faults_served, len(hvm.frames.by_owner.get(sid, ()))
            await lib.seek(fd, 0, 0)
            await lib.read(fd, 4 * PAGE_SIZE)  # the same pages again: no fault
            got.update(data=len(data), faults=n1 - n0, owned=owned1 - owned0,
                       again=hvm.faults_served - n1, sid=sid)  # fmt: skip
            t = node.kernel.thread(node.procmgr.bypid[me].threads[0])
            assert t is not None and t.space is not None
            kip = node.kernel.kip.kip_frame
            frames = {m.frame for m in t.space.pages.values()} - {kip}
            got["mine"] = frames == hvm.frames.by_owner[sid]  # every page it has is its own
            bufs = range(BUFBASE, BUFBASE + 64 * WINDOW)  # the library's buffer regions
            got["inbuf"] = any(v << PAGE_BITS in bufs for v in t.space.pages)

        free0 = hvm.frames.nfree
        await run_as(node, body)
        await trio.testing.wait_all_tasks_blocked()
        assert got["data"] == 3 * PAGE_SIZE
        assert got["faults"] == got["owned"] and 1 <= got["faults"] <= 4  # type: ignore[operator]
        assert got["again"] == 0 and got["mine"] and got["inbuf"]
        assert got["sid"] not in hvm.frames.by_owner  # all its frames went back
        assert hvm.frames.nfree >= free0  # (the core may have grown a clerk meanwhile)


async def test_frames_are_all_returned_after_processes_exit_and_at_shutdown() -> None:
    async with boot(ram=8 << 20) as node:
        hvm = node.hvm
        nframes = node.kernel.ram.nframes
        sids: list[int] = []

        async def child(argv: list[str]) -> None:
            sids.append(sid_of(node, await lib.getpid()))
            fd = await lib.open("/dev/sysname", OREAD)
            await lib.read(fd, int(argv[1]) * PAGE_SIZE)  # fault in a few buffer pages
            await lib.exits("")

        name = program(node, child)
        for _ in range(2):  # warm up: the core's clerks and their pages exist afterwards
            await node.run(name, [name, "1"])
        await trio.testing.wait_all_tasks_blocked()
        free0 = hvm.frames.nfree
        pids = [await node.spawn(name, [name, str(k)]) for k in (1, 2, 3, 4)]
        assert [await node.wait(p) for p in pids] == [""] * 4
        await trio.testing.wait_all_tasks_blocked()
        assert hvm.frames.nfree == free0
        assert not set(sids) & set(hvm.frames.by_owner)
    assert hvm.nspaces == 0
    assert hvm.frames.nfree == nframes - 1  # everything but the KIP
