"""Map, grant, unmap and flush trees; page faults; interrupts as IPC; KIP (REFERENCE §5)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kernel import mapdb
from kernel.kernel import Kernel
from kernel.kip import KernelInfoPage
from kernel.thread import Thread
from kernel.types import (
    COMPLETE,
    INVALID_PARAM,
    KIP_AREA,
    LABEL_INTERRUPT,
    LABEL_PAGEFAULT,
    MSG_OVERFLOW,
    NILPAGE,
    NILTHREAD,
    PAGE_SIZE,
    RWX,
    Acceptor,
    Fpage,
    GrantItem,
    IpcError,
    MapItem,
    Msg,
    R,
    SyscallError,
    ThreadId,
    W,
)
from tests.kernel_helpers import give, ipc_errors, kern, spawn

__all__ = ["kern"]
P = PAGE_SIZE


def space_of(k: Kernel, tid: ThreadId) -> mapdb.Space:
    t = k.thread(tid)
    assert t is not None and t.space is not None
    return t.space


async def test_map_item_between_two_spaces(kern: Kernel) -> None:
    """One thread maps a page to another, which reads what the first wrote."""
    seen: list[object] = []

    async def owner(t: Thread) -> None:
        await t.store(0x10000, b"hello")
        await t.send(reader, Msg(1, (), (MapItem(Fpage(0x10000, 12, R), 0x10000),)))
        await trio.sleep_forever()  # if we ended, our space and all derived mappings would go

    async def read(t: Thread) -> None:
        t.acceptor = Acceptor(Fpage(0x400000, 20))  # 1 MiB window
        _, m = await t.receive()
        item = m.items[0]
        assert isinstance(item, MapItem) and item.rcv_base is not None
        seen.append(item.rcv_base)
        seen.append(await t.load(item.rcv_base, 5))
        seen.append(t.space.lookup(item.rcv_base) if t.space else None)

    reader = spawn(kern, None)
    rsp = space_of(kern, reader)
    kern.start(kern.root, reader, read)
    await trio.testing.wait_all_tasks_blocked()
    o = spawn(kern, None)
    give(kern, o, 0x10000, 7)
    kern.start(kern.root, o, owner)
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [0x400000 + 0x10000, b"hello", (7, R)]  # rights = item ∩ sender
    assert kern.thread(reader) is None  # it ended: its space went with it
    assert rsp.lookup(0x410000) is None and not rsp.alive  # rights = item ∩ sender


async def test_grant_moves_the_page(kern: Kernel) -> None:
    done: list[bool] = []

    async def granter(t: Thread) -> None:
        await t.send(rx, Msg(0, (), (GrantItem(Fpage(0x2000, 12), 0),)))
        done.append(True)

    async def receiver(t: Thread) -> None:
        t.acceptor = Acceptor(Fpage(0x8000, 12))
        await t.receive()
        await trio.sleep_forever()

    rx = spawn(kern, receiver)
    g = spawn(kern, None)
    give(kern, g, 0x2000, 9)
    gsp = space_of(kern, g)
    parent = gsp.pages[2].parent
    kern.start(kern.root, g, granter)
    await trio.testing.wait_all_tasks_blocked()
    assert done and gsp.lookup(0x2000) is None  # the sender lost it
    node = space_of(kern, rx).pages[8]
    assert node.frame == 9 and node.parent is parent  # same place in the tree


def _tree(kern: Kernel) -> tuple[mapdb.Space, ...]:
    """sigma0 -> A -> B -> C, and A -> D, all for frame 5 at page 1."""
    spaces = [space_of(kern, spawn(kern, None)) for _ in range(4)]
    a, b, c, d = spaces
    mapdb.map_fpage(kern.sigma0_space, Fpage(5 * P, 12), P, a, COMPLETE, False)
    mapdb.map_fpage(a, Fpage(P, 12), P, b, COMPLETE, False)
    mapdb.map_fpage(b, Fpage(P, 12), P, c, COMPLETE, False)
    mapdb.map_fpage(a, Fpage(P, 12, R), P, d, COMPLETE, False)
    return a, b, c, d


@pytest.mark.parametrize(
    ("who", "rights", "flush", "expect"),
    [
        # who unmaps, which rights, flush? -> (A, B, C, D) rights afterwards (None = unmapped)
        (1, RWX, False, (RWX, RWX, None, R)),  # B: only C derives from B
        (1, RWX, True, (RWX, None, None, R)),  # flush: B too
        (0, RWX, False, (RWX, None, None, None)),  # A: every descendant, A keeps it
        (0, W, False, (RWX, R | 1, R | 1, R)),  # only W revoked below A
        (0, 0, False, (RWX, RWX, RWX, R)),  # rights 0: a query changes nothing
        (3, RWX, True, (RWX, RWX, RWX, None)),  # a leaf flushing itself
    ],
)
async def test_unmap_revokes_derived_mappings_only(
    kern: Kernel, who: int, rights: int, flush: bool, expect: tuple[int | None, ...]
) -> None:
    spaces = _tree(kern)
    mapdb.unmap(spaces[who], Fpage(P, 12, rights), flush)
    got = tuple(None if (r := s.lookup(P)) is None else r[1] for s in spaces)
    assert got == expect


async def test_unmap_reports_status_and_checks_fpages(kern: Kernel) -> None:
    seen: list[object] = []

    async def user(t: Thread) -> None:
        await t.store(0x3000, b"x")
        [st] = t.unmap([Fpage(0x3000, 12, 0)])  # query only
        seen.append(st.rights)
        [st] = t.unmap([Fpage(0x3000, 12, 0)])
        seen.append(st.rights)  # cleared by the first query
        try:
            t.unmap([Fpage(0x3100, 12, RWX)])  # unaligned
        except SyscallError as e:
            seen.append(e.code)
        try:
            t.unmap([Fpage(0, 33, RWX)])  # larger than the address space
        except SyscallError as e:
            seen.append(e.code)

    u = spawn(kern, None)
    give(kern, u, 0x3000, 11)
    kern.start(kern.root, u, user)
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [W, 0, INVALID_PARAM, INVALID_PARAM]


@pytest.mark.parametrize(
    ("fpage", "snd_base", "window", "expect"),
    [
        (Fpage(0x1000, 12), 0x5000, Fpage(0x100000, 16), (0x1000, 0x105000, P)),
        (Fpage(0x0, 16), 0x3000, Fpage(0x200000, 13), (0x2000, 0x200000, 0x2000)),
        (Fpage(0x4000, 14), 0x0, COMPLETE, (0x4000, 0x0, 0x4000)),
    ],
)
def test_placement_rules(
    fpage: Fpage, snd_base: int, window: Fpage, expect: tuple[int, int, int]
) -> None:
    assert mapdb.placement(fpage, snd_base, window) == expect


@pytest.mark.parametrize(
    "item",
    [MapItem(Fpage(0x1100, 12)), MapItem(Fpage(0, 40)), GrantItem(Fpage(0x1000, 8))],
    ids=["unaligned", "oversized", "too-small"],
)
async def test_bad_fpages_in_items_are_message_overflow(kern: Kernel, item: MapItem) -> None:
    errs = await ipc_errors(kern, Msg(0, (), (item,)), Acceptor(COMPLETE))
    assert errs == [MSG_OVERFLOW, MSG_OVERFLOW]


async def test_nil_window_refuses_mappings(kern: Kernel) -> None:
    got: list[object] = []

    async def receiver(t: Thread) -> None:
        t.acceptor = Acceptor(NILPAGE)
        _, m = await t.receive()
        got.append(m.items[0])
        await trio.sleep_forever()

    async def sender(t: Thread) -> None:
        await t.send(rx, Msg(0, (), (MapItem(Fpage(0x1000, 12), 0x1000),)))

    rx = spawn(kern, receiver)
    s = spawn(kern, None)
    give(kern, s, 0x1000, 3)
    kern.start(kern.root, s, sender)
    await trio.testing.wait_all_tasks_blocked()
    assert got == [MapItem(Fpage(0x1000, 12), 0x1000, None)]
    assert not space_of(kern, rx).pages


async def test_page_fault_round_trip(kern: Kernel) -> None:
    faults: list[tuple[int, int, int]] = []
    data: list[bytes] = []
    free = iter(range(20, 40))

    async def pager(t: Thread) -> None:
        sender, m = await t.wait()
        while True:
            assert m.label & 0xFFF0 == LABEL_PAGEFAULT
            addr, ip = m.words
            faults.append((addr, ip, m.label & 7))
            frame = next(free)
            item = MapItem(Fpage(frame * P, 12), addr & ~(P - 1))
            sender, m = await t.reply_wait(sender, Msg(0, (), (item,)))

    async def user(t: Thread) -> None:
        t.ip = 0x1234
        await t.store(0x7FF0, b"a" * 32)  # spans pages 7 and 8: two faults
        data.append(await t.load(0x7FF0, 32))

    pg = spawn(kern, pager, space=kern.root.id)  # lives in sigma0's space
    u = spawn(kern, user, pager=pg)
    await trio.testing.wait_all_tasks_blocked()
    assert faults == [(0x7FF0, 0x1234, W), (0x8000, 0x1234, W)]
    assert data == [b"a" * 32]
    assert kern.ram.read(20 * P + 0xFF0, 16) == b"a" * 16
    assert kern.thread(u) is None  # returned: deleted, its space freed
    assert not kern.sigma0_space.pages[20].children


async def test_fault_without_pager_is_no_partner(kern: Kernel) -> None:
    errs: list[int] = []

    async def user(t: Thread) -> None:
        try:
            await t.load(0x1000, 1)
        except IpcError as e:
            errs.append(e.code)

    spawn(kern, user)
    await trio.testing.wait_all_tasks_blocked()
    assert errs == [2]


async def test_interrupts_arrive_as_ipc_and_reply_reenables(kern: Kernel) -> None:
    uart = kern.machine.uart
    irq = ThreadId.make(uart.line, 1)
    got: list[bytes] = []

    async def driver(t: Thread) -> None:
        while True:
            sender, m = await t.receive(irq)
            assert sender == irq and m.label == LABEL_INTERRUPT
            buf = bytearray()
            while (c := uart.getc()) is not None:
                buf.append(c)
            got.append(bytes(buf))
            await t.reply(irq, Msg(0))

    uart.feed(b"early")  # before anyone listens: stays in service
    d = spawn(kern, driver)
    kern.thread_control(kern.root, irq, irq, NILTHREAD, d)
    await trio.testing.wait_all_tasks_blocked()
    assert got == [b"early"]
    uart.feed(b"ls\n")
    await trio.testing.wait_all_tasks_blocked()
    assert got == [b"early", b"ls\n"]
    assert kern.machine.irqc.in_service[uart.line] is False


async def test_interrupt_raised_while_in_service_is_delivered_after_ack(kern: Kernel) -> None:
    uart = kern.machine.uart
    irq = ThreadId.make(uart.line, 1)
    log: list[str] = []
    go = trio.Event()

    async def driver(t: Thread) -> None:
        await t.receive(irq)
        log.append("irq")
        await go.wait()
        while uart.getc() is not None:
            pass
        sender, _ = await t.reply_wait(irq, Msg(0))  # ack, then the coalesced raise
        log.append(f"irq {sender == irq}")
        try:
            await t.reply(ThreadId.make(3, 1), Msg(0))  # not our interrupt
        except IpcError as e:
            log.append(f"err {e.code}")

    d = spawn(kern, driver)
    kern.thread_control(kern.root, irq, irq, NILTHREAD, d)
    uart.feed(b"a")
    await trio.testing.wait_all_tasks_blocked()
    uart.feed(b"b")
    uart.feed(b"c")
    go.set()
    await trio.testing.wait_all_tasks_blocked()
    assert log == ["irq", "irq True", "err 2"]


async def test_kip_is_read_only_in_each_space(kern: Kernel) -> None:
    seen: list[object] = []

    async def user(t: Thread) -> None:
        kip = KernelInfoPage.parse(await t.load(0xFFFF000, P))
        seen.append((kip.api_version, kip.user_base, kip.system_base))
        try:
            await t.store(0xFFFF000, b"x")  # faults to the (absent) pager: W not allowed
        except IpcError as e:
            seen.append(e.code)

    u = spawn(kern, None)
    kern.space_control(kern.root, u, Fpage(0xFFFF000, 12))
    with pytest.raises(SyscallError) as ei:
        kern.space_control(kern.root, u, Fpage(0xFFFF100, 12))
    assert ei.value.code == KIP_AREA
    kern.start(kern.root, u, user)
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [(0x84, kern.user_base, kern.system_base), 2]
    assert kern.kip.to_bytes()[:4] == b"L4\xe6K"
    assert KernelInfoPage.parse(kern.kip.to_bytes(), kern.kip.kip_frame) == kern.kip


async def test_mapping_the_same_page_again_keeps_the_node(kern: Kernel) -> None:
    """mapdb Rule 5: the same map again is no change; other rights replace the node."""
    a, b, c, _d = _tree(kern)
    node = b.pages[1]
    mapdb.map_fpage(a, Fpage(P, 12), P, b, COMPLETE, False)
    assert b.pages[1] is node and c.lookup(P) == (5, RWX)  # C, derived from B, is still there
    mapdb.map_fpage(a, Fpage(P, 12, R), P, b, COMPLETE, False)
    assert b.pages[1] is not node and b.lookup(P) == (5, R)  # replaced (Rule 3) ...
    assert c.lookup(P) is None  # ... with what was derived from the old node
