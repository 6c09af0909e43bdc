"""Deleting a thread ends its own IPC even where cancellation cannot reach (kernel Rule 2).

The regression behind these tests: a server process killed while blocked in a system call
ran its shielded ``finally`` (lib9p ``serve`` closes its link under a shield), made one more
system call (an IPC call to the Mngr) from the deleted thread, and parked forever waiting for
a reply that could never come, so leaving ``open_kernel`` (and ``boot()``) hung.
"""

from __future__ import annotations

import logging

import pytest
import trio

from hwsim import Machine
from kernel.kernel import Kernel, open_kernel
from kernel.thread import Thread
from kernel.types import CANCELED, NILTHREAD, RECEIVE_PHASE, SEND_PHASE, IpcError, Msg
from tests.kernel_helpers import kern, spawn
from tests.waiting import DEADLINE as GUARD

__all__ = ["kern"]



async def test_a_deleted_threads_shielded_call_fails_instead_of_hanging(kern: Kernel) -> None:
    got: list[object] = []
    parked = trio.Event()

    async def server(t: Thread) -> None:
        await trio.sleep_forever()  # never receives: callers wait in its send queue

    async def client(t: Thread) -> None:
        with trio.CancelScope(shield=True):
            try:
                parked.set()
                await t.call(srv, Msg(1))  # queued on the server, never received
            except IpcError as e:
                got.append((e.code, e.phase))
            try:
                await t.call(srv, Msg(2))  # Rule 6: a dead thread cannot IPC at all
            except IpcError as e:
                got.append((e.code, e.phase))

    srv = spawn(kern, server)
    cli = spawn(kern, client)
    with trio.fail_after(GUARD):
        await parked.wait()
        await trio.testing.wait_all_tasks_blocked()
        kern.thread_control(kern.root, cli, NILTHREAD, NILTHREAD, NILTHREAD)
        while len(got) < 2:
            await trio.sleep(0)
    assert got == [(CANCELED, SEND_PHASE), (CANCELED, SEND_PHASE)]
    t = kern.thread(srv)
    assert t is not None and not t.sendq  # the dead caller left the server's queue


async def test_a_deleted_thread_parked_in_receive_is_woken_even_when_shielded(
    kern: Kernel,
) -> None:
    got: list[object] = []

    async def waiter(t: Thread) -> None:
        with trio.CancelScope(shield=True):
            try:
                await t.receive(kern.root.id)
            except IpcError as e:
                got.append((e.code, e.phase))

    tid = spawn(kern, waiter)
    with trio.fail_after(GUARD):
        await trio.testing.wait_all_tasks_blocked()
        kern.thread_control(kern.root, tid, NILTHREAD, NILTHREAD, NILTHREAD)
        while not got:
            await trio.sleep(0)
    assert got == [(CANCELED, RECEIVE_PHASE)]


async def test_an_unshielded_deleted_thread_sees_cancelled_not_an_error(kern: Kernel) -> None:
    seen: list[str] = []

    async def waiter(t: Thread) -> None:
        try:
            await t.receive(kern.root.id)
        except trio.Cancelled:
            seen.append("cancelled")
            raise
        except IpcError:
            seen.append("error")

    tid = spawn(kern, waiter)
    with trio.fail_after(GUARD):
        await trio.testing.wait_all_tasks_blocked()
        kern.thread_control(kern.root, tid, NILTHREAD, NILTHREAD, NILTHREAD)
        while not seen:
            await trio.sleep(0)
    assert seen == ["cancelled"]


async def test_an_error_group_with_an_outer_cancel_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A thread failing while the kernel shuts down must not crash the caller of open_kernel."""
    started = trio.Event()

    async def failing(t: Thread) -> None:
        async with trio.open_nursery() as n:
            n.start_soon(trio.sleep_forever)
            started.set()
            try:
                await trio.sleep_forever()
            finally:
                raise ValueError("cleanup failed")  # joins the kernel nursery's Cancelled

    with trio.fail_after(GUARD), caplog.at_level(logging.ERROR, logger="kernel.kernel"):
        async with open_kernel(Machine(ram_size=1 << 20)) as k:
            spawn(k, failing)
            await started.wait()
    assert any("died" in r.getMessage() for r in caplog.records)
