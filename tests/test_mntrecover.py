"""#M recovery (servants/mntrecover.py) under kills of the supervised ramfs of a real node.

Real processes: several clients create, write and stat in loops while ramfs is killed with
the ``kill`` note again and again, so that walks, creates and writes are in flight at the
kills and fid numbers are taken while the mount waits for the restart.  Every error a
client sees must be the one a request whose effect is unknown gets (Rule 2), never an
``unknown fid``; every acknowledged write reads back.  A mount that lived through ten
restarts speaks through one level of delegation, not ten (Rule 9).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import trio
from lib_helpers import run_as

from lp49fs import lib
from lp49fs.errors import Erestarted, Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.budget import Budget
from lp49fs.node.servers import DEFAULT_SERVERS, Supervised, stop_servers, supervise
from lp49fs.servants.mnt import Mfid
from lp49fs.servants.mntrecover import Recovering
from tests.waiting import await_until

GUARD = 60  # seconds: a hang guard, never a timing assertion
WRITERS = 3
KILLS = 5
STRIDE = 60  # answers per client between kills


async def ramfs(node: Node, nursery: trio.Nursery) -> Supervised:
    """The node's ramfs, supervised with a budget that never pauses these tests."""
    sv = Supervised(DEFAULT_SERVERS[0])
    budget = Budget("ramfs", limit=100, backoff=0.01)
    await nursery.start(lambda task_status: supervise(node, sv, budget=budget,
                                                      task_status=task_status))  # fmt: skip
    return sv


async def restart(node: Node, sv: Supervised) -> None:
    old = sv.pid
    node.procmgr.note(node.procmgr.bypid[old].proc, "kill")
    await node.wait(old)
    await await_until(lambda: sv.up.is_set() and sv.pid not in (0, old), "ramfs restarted")


async def test_requests_in_flight_at_kills_never_lose_their_fids() -> None:
    acked: dict[str, bytes] = {}
    unsure: dict[str, list[bytes]] = {}  # written after the last acknowledgement, unanswered
    done = [0] * (WRITERS + 1)  # requests answered, per client
    errors: list[tuple[int, str]] = []
    stop = trio.Event()
    left: list[int] = []  # clients whose loop has ended (none is then in flight)

    def loop(k: int) -> Callable[[list[str]], Awaitable[None]]:
        async def body(argv: list[str]) -> None:
            await lib.create(f"/tmp/w{k}", OREAD, DMDIR | 0o755)
            i = 0
            while not stop.is_set():
                name = f"/tmp/w{k}/f{i % 7}"
                data = f"{k}.{i}".encode() * (1 + i % 50)
                try:
                    if k == WRITERS:  # walks only
                        await lib.stat(f"/tmp/w0/f{i % 7}")
                    else:
                        fd = await lib.create(name, ORDWR, 0o644)
                        await lib.write(fd, data)
                        await lib.close(fd)
                        acked[name] = data
                        unsure[name] = []
                except Error as e:
                    unsure.setdefault(name, []).append(data)
                    if "does not exist" not in e.ename:  # a stat before the first create
                        errors.append((k, e.ename))
                done[k] += 1
                i += 1
                await trio.sleep(0)
            left.append(k)

        return body

    with trio.fail_after(GUARD):
        async with boot() as n, trio.open_nursery() as nursery:
            sv = await ramfs(n, nursery)
            for k in range(WRITERS + 1):
                n.programs[f"w{k}"] = loop(k)
                nursery.start_soon(n.run, f"w{k}", [f"w{k}"])
            goal = [STRIDE] * len(done)
            for _ in range(KILLS):
                await await_until(partial(answered, done, goal), "answers since the restart")
                await restart(n, sv)
                # enough answers that the fid numbers taken on the new link (which start
                # again from 0) reach those that were live on an earlier one
                goal = [d + STRIDE for d in done]
            await await_until(partial(answered, done, goal), "answers after the last restart")
            stop.set()  # and the check waits for the writes in flight to be answered
            await await_until(lambda: len(left) == WRITERS + 1, "every client stopped")
            assert {e for _, e in errors} <= {Erestarted}, errors
            for k in range(WRITERS):  # at most one per client and restart (Rule 2)
                assert sum(1 for j, _ in errors if j == k) <= KILLS, errors

            async def check() -> None:
                for name, data in acked.items():
                    fd = await lib.open(name, OREAD)
                    got = await lib.readall(fd)
                    assert got == data or got in unsure[name], name
                    await lib.close(fd)

            assert await run_as(n, check, timeout=GUARD) == ""
            await stop_servers(n, [sv])


def answered(done: list[int], goal: list[int]) -> bool:
    return all(d >= g for d, g in zip(done, goal, strict=True))


async def test_ten_restarts_leave_one_level_of_delegation() -> None:
    rounds = 10
    ask, told = trio.open_memory_channel[int](0)
    answers: list[bytes] = []
    box: list[int] = []

    async def reader(argv: list[str]) -> None:
        fd = await lib.create("/tmp/kept", ORDWR, 0o644)
        await lib.write(fd, b"kept across restarts")
        box.append(fd)
        async for _ in told:
            answers.append(await lib.pread(fd, 100, 0))

    with trio.fail_after(GUARD):
        async with boot() as n, trio.open_nursery() as nursery:
            sv = await ramfs(n, nursery)
            n.programs["r"] = reader
            pid = await n.spawn("r", ["r"])
            await await_until(lambda: box, "the file is open")
            mf = n.procmgr.bypid[pid].proc.fgrp.get(box[0]).aux
            assert isinstance(mf, Mfid) and mf.mnt is not None
            first = mf.mnt.session
            assert isinstance(first, Recovering)
            for i in range(rounds):
                await restart(n, sv)
                await ask.send(i)
                await await_until(lambda i=i: len(answers) > i, "the read after the restart")
                assert first.depth() <= 2, (i, first.depth())
            assert answers == [b"kept across restarts"] * rounds
            assert first.depth() == 2  # this mount, then the live link's own session
            live = n.core.devtab.get("M").mnts
            assert first.delegate is not None and first.delegate.link in live  # the live link
            await ask.aclose()
            await n.wait(pid)
            await stop_servers(n, [sv])
