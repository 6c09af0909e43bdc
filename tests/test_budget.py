"""The restart budget of supervised servers: backoff, at most N restarts a window, a pause,
never given up (``lp49fs.node.budget``).  Virtual time for the rules; a real ramfs killed ten
times in a row inside a booted node for the supervisor that uses them."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from lp49fs.node.boot import boot
from lp49fs.node.budget import Budget
from lp49fs.node.servers import DEFAULT_SERVERS, Supervised, stop_servers, supervise
from tests.waiting import await_until


async def test_backoff_doubles_then_the_budget_pauses_and_a_fresh_window_begins(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    b = Budget("r", limit=5, window=60, pause=30, backoff=0.05, maxbackoff=2)
    b.started()
    waits = []
    with caplog.at_level(logging.WARNING):
        for _ in range(7):  # crashes in a row, each right after its start
            t0 = trio.current_time()
            await b.restart("killed")
            waits.append(round(trio.current_time() - t0, 3))
            b.started()
    assert waits[:5] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert waits[5] == pytest.approx(30 + 0.05)  # sixth in the window: pause, backoff anew
    assert waits[6] == 0.1
    assert b.restarts == 7 and b.state == "up" and b.why == "killed"
    assert any("5 restarts in 60 s (last exit: killed): pausing 30 s" in r.getMessage()
               for r in caplog.records)


async def test_a_healthy_run_resets_the_backoff_and_old_crashes_leave_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    b = Budget("r", limit=2, window=60, pause=30, backoff=0.05)
    for _ in range(200):  # a server that crashes every two minutes is restarted for ever
        b.started()
        await trio.sleep(120)
        t0 = trio.current_time()
        await b.restart("crashed")
        assert trio.current_time() - t0 == pytest.approx(0.05)
    assert b.restarts == 200


async def test_a_server_killed_every_few_seconds_waits_the_first_backoff_within_the_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    b = Budget("r", limit=5, window=60, pause=30, backoff=0.05, maxbackoff=2, healthy=2)
    waits = []
    for _ in range(6):  # runs of 3 s: past a crash loop, so no growing backoff
        b.started()
        await trio.sleep(3)
        t0 = trio.current_time()
        await b.restart("killed")
        waits.append(round(trio.current_time() - t0, 3))
    assert waits[:5] == [0.05] * 5
    assert waits[5] == pytest.approx(30 + 0.05)  # the budget still holds: 6 in 60 s pause


async def test_ramfs_killed_ten_times_in_a_row_is_still_restarted() -> None:
    budget = Budget("ramfs", limit=3, window=60, pause=0.2, backoff=0.01)
    with trio.fail_after(60):  # a hang guard
        async with boot() as node, trio.open_nursery() as n:
            sv = Supervised(DEFAULT_SERVERS[0])
            await n.start(lambda task_status: supervise(node, sv, budget=budget,
                                                        task_status=task_status))
            for _ in range(10):
                await await_until(sv.up.is_set, "ramfs up and mounted")
                pid = sv.pid
                node.procmgr.note(node.procmgr.bypid[pid].proc, "kill")
                assert await node.wait(pid) == "killed"
                await await_until(lambda p=pid: sv.pid not in (0, p) and sv.up.is_set(),
                                  "a new ramfs")
            await stop_servers(node, [sv])
    assert sv.starts == 11 and budget.restarts == 10 and budget.state == "stopped"
