"""How L4 IPC fails (REFERENCE §5.4), table by table: string items and message overflow,
too many words, dead, invalid and deleted partners (blocked senders fail; a deleted caller
never parks), an exchange-registers that cancels a receive, privileged calls and bad ids.

The successful rendezvous are in ``test_kernel_ipc.py``."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kernel.kernel import EX_ABORT_RECEIVE, EX_SET_IP, Kernel
from kernel.thread import Thread
from kernel.types import (
    ANYTHREAD,
    CANCELED,
    INVALID_THREAD,
    MSG_OVERFLOW,
    NILTHREAD,
    NO_PARTNER,
    NO_PRIVILEGE,
    RECEIVE_PHASE,
    SEND_PHASE,
    Acceptor,
    IpcError,
    Msg,
    StringItem,
    SyscallError,
    ThreadId,
)
from tests.kernel_helpers import ipc_errors, kern, spawn
from tests.waiting import DEADLINE

__all__ = ["kern"]


@pytest.mark.parametrize(
    ("strings", "data", "ok"),
    [(16, b"/dev/cons", True), (9, b"/dev/cons", True), (8, b"/dev/cons", False),
     (0, b"x", False)],
)
async def test_string_items_and_message_overflow(
    kern: Kernel, strings: int, data: bytes, ok: bool
) -> None:
    seen: list[object] = []

    async def receiver(t: Thread) -> None:
        t.acceptor = Acceptor(strings=strings)
        try:
            _, m = await t.receive()
            seen.append(m.items[0])
        except IpcError as e:
            seen.append(("rx", e.code, e.phase))

    async def sender(t: Thread) -> None:
        try:
            await t.send(rx, Msg(1, (), (StringItem(data),)))
        except IpcError as e:
            seen.append(("tx", e.code, e.phase))

    rx = spawn(kern, receiver)
    await trio.testing.wait_all_tasks_blocked()
    spawn(kern, sender)
    await trio.testing.wait_all_tasks_blocked()
    if ok:
        assert seen == [StringItem(data)]
    else:
        assert sorted(seen, key=str) == [
            ("rx", MSG_OVERFLOW, RECEIVE_PHASE), ("tx", MSG_OVERFLOW, SEND_PHASE)]


async def test_too_many_words_is_overflow(kern: Kernel) -> None:
    assert await ipc_errors(kern, Msg(0, tuple(range(64)))) == [MSG_OVERFLOW, MSG_OVERFLOW]


async def test_dead_and_invalid_partners(kern: Kernel) -> None:
    errs: list[tuple[str, int, int]] = []

    async def short(t: Thread) -> None:
        await t.receive()  # gets the first message, then returns: the thread is deleted

    async def waiter(t: Thread) -> None:
        try:
            await t.call(victim, Msg(0))  # victim takes it and dies before replying
        except IpcError as e:
            errs.append(("call", e.code, e.phase))

    async def prober(t: Thread) -> None:
        for name, to in [("any", ANYTHREAD), ("stale", ThreadId.make(victim.number, 2)),
                         ("none", ThreadId.make(kern.user_base + 5000, 1)), ("dead", victim)]:
            try:
                await t.send(to, Msg(0), 0)
            except IpcError as e:
                errs.append((name, e.code, e.phase))
        try:
            await t.receive(ThreadId.make(kern.user_base + 5000, 1))
        except IpcError as e:
            errs.append(("recv", e.code, e.phase))

    victim = spawn(kern, short)
    spawn(kern, waiter)
    await trio.testing.wait_all_tasks_blocked()
    assert kern.thread(victim) is None
    spawn(kern, prober)
    await trio.testing.wait_all_tasks_blocked()
    assert errs == [("call", NO_PARTNER, RECEIVE_PHASE)] + [
        (n, NO_PARTNER, SEND_PHASE) for n in ("any", "stale", "none", "dead")
    ] + [("recv", NO_PARTNER, RECEIVE_PHASE)]


async def test_deleting_a_server_fails_its_blocked_senders(kern: Kernel) -> None:
    errs: list[tuple[int, int]] = []

    async def idle(t: Thread) -> None:
        await trio.sleep_forever()

    async def sender(t: Thread) -> None:
        try:
            await t.send(srv, Msg(0))
        except IpcError as e:
            errs.append((e.code, e.phase))

    srv = spawn(kern, idle)
    spawn(kern, sender)
    await trio.testing.wait_all_tasks_blocked()
    kern.thread_control(kern.root, srv, NILTHREAD, NILTHREAD, NILTHREAD)
    await trio.testing.wait_all_tasks_blocked()
    assert errs == [(NO_PARTNER, SEND_PHASE)]


async def test_a_caller_deleted_between_its_send_and_its_reply_wait_never_parks(
    kern: Kernel,
) -> None:
    """The server takes the call, which makes the caller's task runnable for its reply wait,
    and deletes the caller before that task runs: the (shielded) call ends CANCELED instead of
    parking forever with nobody left to wake it."""
    errs: list[tuple[int, int]] = []

    async def caller(t: Thread) -> None:
        with trio.CancelScope(shield=True):  # as a close in a finally: only IPC can end it
            try:
                await t.call(srv, Msg(0))
            except IpcError as e:
                errs.append((e.code, e.phase))

    async def server(t: Thread) -> None:
        await trio.testing.wait_all_tasks_blocked()  # the caller is queued, sending
        await t.receive()
        kern.thread_control(kern.root, who, NILTHREAD, NILTHREAD, NILTHREAD)  # delete it
        await trio.sleep_forever()

    srv = spawn(kern, server)
    who = spawn(kern, caller)
    with trio.fail_after(DEADLINE):  # a guard against the hang, never a timing assertion
        while not errs:
            await trio.testing.wait_all_tasks_blocked()
    assert errs == [(CANCELED, RECEIVE_PHASE)]


async def test_exchange_registers_cancels_a_receive(kern: Kernel) -> None:
    errs: list[tuple[int, int]] = []

    async def rx(t: Thread) -> None:
        try:
            await t.receive()
        except IpcError as e:
            errs.append((e.code, e.phase))

    tid = spawn(kern, rx)
    await trio.testing.wait_all_tasks_blocked()
    old = kern.exchange_registers(kern.root, tid, EX_ABORT_RECEIVE | EX_SET_IP, ip=0x1000)
    assert old.control & 2 and old.ip == 0
    await trio.testing.wait_all_tasks_blocked()
    assert errs == [(CANCELED, RECEIVE_PHASE)]


async def test_privileged_calls_and_bad_ids(kern: Kernel) -> None:
    user = kern.thread(spawn(kern, None))
    assert user is not None
    with pytest.raises(SyscallError) as ei:
        kern.thread_control(user, ThreadId.make(kern.user_base + 900, 1), user.id,
                            user.id, NILTHREAD)
    assert ei.value.code == NO_PRIVILEGE
    for bad in [NILTHREAD, ANYTHREAD, ThreadId.make(kern.system_base + 1, 1)]:
        with pytest.raises(SyscallError) as ei:
            kern.thread_control(kern.root, bad, bad, kern.root.id, NILTHREAD)
        assert ei.value.code == INVALID_THREAD
    with pytest.raises(SyscallError):  # delete a thread that does not exist
        kern.thread_control(kern.root, ThreadId.make(kern.user_base + 901, 1), NILTHREAD,
                            NILTHREAD, NILTHREAD)
    with pytest.raises(SyscallError):  # start twice
        kern.start(kern.root, kern.root.id, lambda t: trio.sleep(0))
    assert kern.schedule(kern.root, user.id, 200) == 2 and user.priority == 200
    assert kern.schedule(user, kern.root.id, 1) == 0  # not its scheduler
