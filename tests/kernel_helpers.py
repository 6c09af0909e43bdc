"""Helpers shared by the kernel tests: boot a small machine, make threads, hand out pages,
and send one message to a waiting receiver to see which IPC errors each side gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio.testing

from hwsim import Machine
from kernel import mapdb
from kernel.kernel import Kernel, open_kernel
from kernel.thread import Entry, Thread
from kernel.types import (
    COMPLETE,
    NILTHREAD,
    PAGE_SIZE,
    RWX,
    Acceptor,
    Fpage,
    IpcError,
    Msg,
    ThreadId,
)

_next = [0]


@pytest.fixture
async def kern() -> AsyncIterator[Kernel]:
    async with open_kernel(Machine(ram_size=1 << 20)) as k:
        yield k


def spawn(
    k: Kernel, entry: Entry | None, space: ThreadId | None = None, pager: ThreadId = NILTHREAD
) -> ThreadId:
    """Create a thread (in a new space unless ``space``) and start ``entry`` if given."""
    _next[0] += 1
    tid = ThreadId.make(k.user_base + 10 + _next[0], 1)
    k.thread_control(k.root, tid, space if space is not None else tid, k.root.id, pager)
    if entry is not None:
        k.start(k.root, tid, entry)
    return tid


def give(k: Kernel, tid: ThreadId, vaddr: int, frame: int, rights: int = RWX) -> None:
    """Map physical ``frame`` at ``vaddr`` of ``tid``'s space, as sigma0 would."""
    t = k.thread(tid)
    assert t is not None and t.space is not None
    mapdb.map_fpage(
        k.sigma0_space, Fpage(frame * PAGE_SIZE, 12, rights), vaddr, t.space, COMPLETE, False
    )


async def ipc_errors(k: Kernel, msg: Msg, acceptor: Acceptor | None = None) -> list[int]:
    """Send ``msg`` to a receiver already waiting (with ``acceptor`` if given); the error
    codes of the sides whose IPC failed, in the order they failed."""
    errs: list[int] = []

    async def receiver(t: Thread) -> None:
        if acceptor is not None:
            t.acceptor = acceptor
        try:
            await t.receive()
        except IpcError as e:
            errs.append(e.code)

    async def sender(t: Thread) -> None:
        try:
            await t.send(rx, msg)
        except IpcError as e:
            errs.append(e.code)

    rx = spawn(k, receiver)
    await trio.testing.wait_all_tasks_blocked()
    spawn(k, sender)
    await trio.testing.wait_all_tasks_blocked()
    return errs
