"""Priorities in the kernel model's scheduler (kernel/sched.py): among woken threads, the higher
priority runs first; equal priorities share."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kernel.kernel import Kernel
from kernel.thread import Thread
from kernel.types import Msg, ThreadId
from lp49fs import lib
from lp49fs.core.proc import PRIDRIVER, PRISCALE
from lp49fs.errors import Error
from lp49fs.ninep import OWRITE
from lp49fs.node.boot import Node
from tests.kernel_helpers import kern, spawn
from tests.lib_helpers import node, run_as

__all__ = ["kern", "node"]


def pingpong(k: Kernel, prio: int, counts: dict[str, int], name: str) -> None:
    """A client/server pair at priority ``prio`` counting round trips in ``counts[name]``."""

    async def server(t: Thread) -> None:
        sender, msg = await t.wait()
        while True:
            sender, msg = await t.reply_wait(sender, msg)

    srv = spawn(k, None)

    async def client(t: Thread) -> None:
        while True:
            await t.call(srv, Msg(1))
            counts[name] += 1

    cl = spawn(k, None)
    for tid in (srv, cl):
        k.schedule(k.root, tid, prio)
    k.start(k.root, srv, server)
    k.start(k.root, cl, client)


async def race(k: Kernel, high: int, low: int, rounds: int = 300) -> dict[str, int]:
    """Start a pair at ``high`` and two at ``low``; counts when the high pair has ``rounds``."""
    counts = {"high": 0, "low0": 0, "low1": 0}
    pingpong(k, low, counts, "low0")
    pingpong(k, low, counts, "low1")
    pingpong(k, high, counts, "high")
    while counts["high"] < rounds:
        await trio.lowlevel.checkpoint()
    return counts


async def test_a_higher_pair_runs_ahead_of_lower_ones(kern: Kernel) -> None:
    c = await race(kern, 200, 50)
    assert c["low0"] + c["low1"] <= 4, c  # only before the high pair first became ready
    assert kern.sched.defers > 0


async def test_equal_priorities_share(kern: Kernel) -> None:
    c = await race(kern, 100, 100)
    assert c["low0"] > 50 and c["low1"] > 50, c  # each got a fair part of the batches
    assert kern.sched.defers == 0


async def test_priority_changes_keep_the_ready_counts_balanced(kern: Kernel) -> None:
    got: list[ThreadId] = []

    async def server(t: Thread) -> None:
        sender, _ = await t.wait()
        got.append(sender)
        await t.reply(sender, Msg(2))

    srv = spawn(kern, server)
    await trio.testing.wait_all_tasks_blocked()

    async def client(t: Thread) -> None:
        kern.schedule(kern.root, srv, 250)  # raised while it may be counted ready
        await t.call(srv, Msg(1))

    spawn(kern, client)
    while not got:
        await trio.lowlevel.checkpoint()
    await trio.testing.wait_all_tasks_blocked()
    assert kern.sched.top == -1 and not any(kern.sched.count)


async def test_proc_ctl_pri_sets_the_threads_priority(node: Node) -> None:
    async def body() -> None:
        pid = await lib.getpid()
        fd = await lib.open(f"/proc/{pid}/ctl", OWRITE)
        await lib.write(fd, b"pri 15")
        for bad in (b"pri 20", b"pri x"):
            with pytest.raises(Error, match="bad arg"):
                await lib.write(fd, bad)
        await lib.close(fd)
        pi = node.procmgr.bypid[pid]
        assert pi.proc.pri == 15
        assert {node.kernel.threads[t.number].priority for t in pi.threads} == {150}

    assert await run_as(node, body) == ""
    drivers = [t for t in node.kernel.threads.values() if t.priority == PRIDRIVER * PRISCALE]
    assert drivers  # the console's interrupt handler at least
