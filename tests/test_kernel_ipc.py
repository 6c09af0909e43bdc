"""IPC semantics of the L4 model, table by table (REFERENCE §5.4): the id and tag layouts,
the rendezvous (send, receive from one or any, timeouts) and call / reply-and-wait.

The failures (string items and overflow, dead and deleted partners, cancelled receives,
privileged calls) are in ``test_kernel_ipc_errors.py``."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kernel.ipc import RECEIVING
from kernel.kernel import Kernel
from kernel.thread import Thread
from kernel.types import (
    ANYTHREAD,
    RECEIVE_PHASE,
    SEND_PHASE,
    TIMEOUT,
    IpcError,
    Msg,
    MsgTag,
    StringItem,
    ThreadId,
)
from tests.kernel_helpers import kern, spawn
from tests.waiting import await_until

__all__ = ["kern"]


def test_thread_id_and_tag_layouts() -> None:
    t = ThreadId.make(1000, 5)
    assert (t.number, t.version, int(t)) == (1000, 5, 1000 << 14 | 5)
    assert repr(ThreadId(0)) == "NILTHREAD" and repr(ANYTHREAD) == "ANYTHREAD"
    for bad in [(0, 64), (1 << 18, 1), (1, 0)]:
        with pytest.raises(ValueError):
            ThreadId.make(*bad)
    tag = MsgTag(label=0xFFE6, u=2, t=4, flags=8)
    assert tag.raw == 0xFFE6 << 16 | 8 << 12 | 4 << 6 | 2
    assert MsgTag.from_raw(tag.raw) == tag
    assert Msg(7, (1, 2), (StringItem(b"x"),)).tag == MsgTag(7, 2, 2)
    assert IpcError(TIMEOUT, RECEIVE_PHASE).error_code == 3


async def test_send_to_waiting_receiver_hands_over_the_message(kern: Kernel) -> None:
    got: list[tuple[ThreadId, Msg]] = []
    msg = Msg(42, (1, 2, 3))

    async def receiver(t: Thread) -> None:
        got.append(await t.receive())

    async def sender(t: Thread) -> None:
        await t.send(rx, msg)

    rx = spawn(kern, receiver)
    await trio.testing.wait_all_tasks_blocked()
    assert kern.thread(rx).state is RECEIVING  # type: ignore[union-attr]
    tx = spawn(kern, sender)
    await trio.testing.wait_all_tasks_blocked()
    assert got == [(tx, msg)] and got[0][1] is msg  # no copy without typed items


async def test_receive_from_one_versus_any(kern: Kernel) -> None:
    order: list[int] = []

    async def sender(t: Thread) -> None:
        await t.send(rx, Msg(t.id.number))

    async def receiver(t: Thread) -> None:
        _, m = await t.receive(b)  # closed receive skips a
        order.append(m.label)
        _, m = await t.receive(ANYTHREAD)
        order.append(m.label)

    rx = spawn(kern, None)
    a = spawn(kern, sender)
    await trio.testing.wait_all_tasks_blocked()
    b = spawn(kern, sender)
    await trio.testing.wait_all_tasks_blocked()
    kern.start(kern.root, rx, receiver)
    await trio.testing.wait_all_tasks_blocked()
    assert order == [b.number, a.number]


@pytest.mark.parametrize(
    ("verb", "timeout", "phase", "waited"),
    [
        ("receive", 0, RECEIVE_PHASE, 0.0),
        ("receive", 5.0, RECEIVE_PHASE, 5.0),
        ("send", 0, SEND_PHASE, 0.0),
        ("send", 2.5, SEND_PHASE, 2.5),
        ("call", 3.0, RECEIVE_PHASE, 3.0),  # the server takes it but never replies
    ],
)
async def test_timeouts(
    kern: Kernel, autojump_clock: trio.testing.MockClock, verb: str, timeout: float,
    phase: int, waited: float,
) -> None:
    result: list[object] = []

    async def silent(t: Thread) -> None:
        if verb == "call":
            await t.receive()
        await trio.sleep_forever()

    async def client(t: Thread) -> None:
        start = trio.current_time()
        try:
            if verb == "receive":
                await t.receive(peer, timeout)
            elif verb == "send":
                await t.send(peer, Msg(1), timeout)
            else:
                await t.call(peer, Msg(1), timeout)
        except IpcError as e:
            result.append((e.code, e.phase, trio.current_time() - start, t.error_code))

    peer = spawn(kern, silent)
    spawn(kern, client)
    await trio.sleep(10)
    assert result == [(TIMEOUT, phase, pytest.approx(waited), TIMEOUT << 1 | phase)]
    assert not kern.thread(peer).sendq  # type: ignore[union-attr]  # a timed-out sender left


async def test_never_timeout_waits_and_sleep(
    kern: Kernel, autojump_clock: trio.testing.MockClock
) -> None:
    woke: list[float] = []

    async def sleeper(t: Thread) -> None:
        await t.sleep(7)
        woke.append(trio.current_time())
        await t.receive()  # never: blocks until the kernel ends
        woke.append(-1)

    start = trio.current_time()
    spawn(kern, sleeper)
    await trio.sleep(1000)
    assert woke == [pytest.approx(start + 7)]


async def test_call_reply_wait_with_many_clients_and_forwarded_replies(kern: Kernel) -> None:
    """A Mngr hands each call to a clerk; the clerk replies to the original caller."""
    nclients = 20
    replies: dict[int, int] = {}

    async def clerk(t: Thread) -> None:
        work = await t.call(mngr, Msg(1))  # ask for work
        while True:
            client = ThreadId(work.words[0])
            await trio.sleep(0)  # let others interleave
            await t.reply(client, Msg(0, (work.words[1] * 10,)), propagate=mngr)
            work = await t.call(mngr, Msg(1))

    async def mngr_loop(t: Thread) -> None:
        idle: list[ThreadId] = []
        pending: list[tuple[ThreadId, Msg]] = []
        sender, m = await t.wait()
        while True:
            if m.label == 1:
                idle.append(sender)
            else:
                pending.append((sender, m))
            while idle and pending:
                c, req = pending.pop(0)
                await t.reply(idle.pop(), Msg(0, (int(c), req.words[0])))
            sender, m = await t.wait()

    async def client(t: Thread) -> None:
        r = await t.call(mngr, Msg(100, (t.id.number,)))
        replies[t.id.number] = r.words[0]

    mngr = spawn(kern, mngr_loop)
    for _ in range(3):
        spawn(kern, clerk, space=mngr)  # clerks share the Mngr's space (propagation rule)
    ids = [spawn(kern, client).number for _ in range(nclients)]
    await await_until(lambda: len(replies) >= nclients, "every client's reply")
    assert replies == {n: n * 10 for n in ids}


async def test_reply_wait_serves_in_a_loop(kern: Kernel) -> None:
    results: list[int] = []

    async def server(t: Thread) -> None:
        sender, m = await t.wait()
        while True:
            sender, m = await t.reply_wait(sender, Msg(0, (m.words[0] + 1,)))

    async def client(t: Thread) -> None:
        for i in range(5):
            results.append((await t.call(srv, Msg(0, (i,)))).words[0])

    srv = spawn(kern, server)
    spawn(kern, client)
    spawn(kern, client)
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(results) == sorted([1, 2, 3, 4, 5] * 2)


async def test_reply_to_a_thread_not_waiting_is_a_send_timeout(kern: Kernel) -> None:
    errs: list[tuple[int, int]] = []

    async def busy(t: Thread) -> None:
        await trio.sleep_forever()

    async def server(t: Thread) -> None:
        try:
            await t.reply_wait(other, Msg(0))
        except IpcError as e:
            errs.append((e.code, e.phase))

    other = spawn(kern, busy)
    spawn(kern, server)
    await trio.testing.wait_all_tasks_blocked()
    assert errs == [(TIMEOUT, SEND_PHASE)]
