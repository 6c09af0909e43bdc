"""HVM: frames (sigma0 role), the Pager, process spaces and threads, own pagers, exit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from hwsim import Machine
from kernel.kernel import open_kernel
from kernel.kip import KernelInfoPage
from kernel.thread import Thread
from kernel.types import PAGE_SIZE, Fpage, MapItem, Msg, ThreadId
from lp49fs.hvm import KIP_AREA, FrameTable, Hvm
from tests.waiting import await_until


@pytest.fixture
async def hvm() -> AsyncIterator[Hvm]:
    async with open_kernel(Machine(ram_size=1 << 20)) as k:
        h = Hvm(k)
        h.start()
        yield h


def test_frame_table_refuses_owned_frames() -> None:
    ft = FrameTable(8, {7})
    a = ft.alloc(1)
    assert a == 0 and ft.owner[0] == 1
    assert ft.claim(3, 2) and ft.claim(3, 2)  # idempotent for the same owner
    assert not ft.claim(3, 1) and not ft.claim(7, 1)  # another owner's; the kernel's
    got = [ft.alloc(1) for _ in range(6)]
    assert None in got and 3 not in got and 7 not in got
    assert ft.release_owner(1) == 6 and ft.nfree == 6
    ft.release(3)
    assert ft.nfree == 7


async def test_process_memory_appears_on_first_touch_and_is_freed_at_exit(hvm: Hvm) -> None:
    seen: list[object] = []
    before = hvm.frames.nfree

    async def proc(t: Thread) -> None:
        seen.append(await t.load(0x20000, 4))  # zero-filled
        await t.store(0x20000 + PAGE_SIZE - 2, b"abcd")  # two pages
        seen.append(await t.load(0x20000 + PAGE_SIZE - 2, 4))
        kip = KernelInfoPage.parse(await t.load(KIP_AREA, PAGE_SIZE))
        seen.append(kip.api_version)
        seen.append(hvm.frames.nfree)

    hvm.create_space(proc, name="proc1")
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [bytes(4), b"abcd", 0x84, before - 2]
    assert hvm.faults_served == 2
    assert hvm.frames.nfree == before  # the space died with its thread: frames back


async def test_threads_share_a_space_and_delete_space_ends_them(hvm: Hvm) -> None:
    got: list[bytes] = []

    async def writer(t: Thread) -> None:
        await t.store(0x1000, b"shared")
        await trio.sleep_forever()

    async def reader(t: Thread) -> None:
        await trio.testing.wait_all_tasks_blocked()
        got.append(await t.load(0x1000, 6))
        await trio.sleep_forever()

    first = hvm.create_space(writer)
    hvm.create_thread(first, reader)
    await await_until(lambda: got, "the second thread to read the first one's store")
    assert got == [b"shared"]
    hvm.delete_space(first)
    await trio.testing.wait_all_tasks_blocked()
    assert hvm.kernel.thread(first) is None
    assert hvm.frames.nfree == hvm.kernel.ram.nframes - 1


async def test_unservable_fault_kills_the_thread(hvm: Hvm) -> None:
    reached: list[bool] = []

    async def bad(t: Thread) -> None:
        await t.store(KIP_AREA, b"x")  # the KIP is read-only
        reached.append(True)

    tid = hvm.create_space(bad)
    await trio.testing.wait_all_tasks_blocked()
    assert not reached and hvm.kernel.thread(tid) is None


async def test_a_process_with_its_own_pager(hvm: Hvm) -> None:
    """A user-mode pager (the paper's page cache): it fills pages with its own content."""
    served: list[int] = []
    got: list[bytes] = []

    async def own_pager(t: Thread) -> None:
        frame = hvm.alloc_frame(999)
        assert frame is not None
        hvm.map_frame(t.id, 0x500000, frame)  # its own page cache page
        await t.store(0x500000, b"cached!")
        sender, m = await t.wait()
        while True:
            served.append(m.words[0])
            item = MapItem(Fpage(0x500000, 12), m.words[0] & ~0xFFF)
            sender, m = await t.reply_wait(sender, Msg(0, (), (item,)))

    async def client(t: Thread) -> None:
        got.append(await t.load(0x7000, 7))
        await trio.sleep_forever()

    pg = hvm.create_space(own_pager)
    await trio.testing.wait_all_tasks_blocked()
    hvm.create_space(client, pager=pg)
    await trio.testing.wait_all_tasks_blocked()
    assert served == [0x7000] and got == [b"cached!"]
    assert hvm.faults_served == 0


async def test_thread_ids_are_not_reused(hvm: Hvm) -> None:
    async def quick(t: Thread) -> None:
        return None

    a = hvm.create_space(quick)
    await trio.testing.wait_all_tasks_blocked()
    b = hvm.create_space(quick)
    assert isinstance(b, ThreadId) and b.number > a.number
