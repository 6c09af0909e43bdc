"""Process and node lifecycle: orderly shutdown, and wait records (``wait`` and /proc/N/wait)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from lp49fs import lib
from lp49fs.errors import Enochild, Error, Eshutdown
from lp49fs.ninep import OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.syscall import Sys
from tests.lib_helpers import CallsInCore, node, program, run_as
from tests.waiting import DEADLINE

__all__ = ["node"]


async def test_shutdown_kills_blocked_processes_and_exits_cleanly() -> None:
    """Leaving ``boot()`` with processes blocked in a pipe read, a sleep and a wait for a
    child raises nothing, ends each with ``killed`` and leaves no thread, space or frame."""
    blocked = trio.Event()
    count = [0]

    async def reader(argv: list[str]) -> None:
        r, _w = await lib.pipe()
        count[0] += 1
        await lib.read(r, 10)

    async def sleeper(argv: list[str]) -> None:
        count[0] += 1
        await lib.sleep(60_000)

    async def parent(argv: list[str]) -> None:
        await lib.spawn(rname, [rname])
        count[0] += 1
        await lib.wait()

    async def watch() -> None:
        while count[0] < 4:
            await trio.sleep(0.001)
        await trio.testing.wait_all_tasks_blocked()
        blocked.set()

    async with boot(ram=8 << 20) as node:
        rname, sname, pname = (program(node, f) for f in (reader, sleeper, parent))
        pids = [await node.spawn(n) for n in (rname, sname, pname)]
        with trio.fail_after(DEADLINE):
            await watch()
        assert blocked.is_set()
        records = dict(node.started)
        child = max(node.core.procs)  # the parent's child
        assert child not in pids
        hvm = node.hvm
        procmgr = node.procmgr
    assert procmgr.closing and not procmgr.bypid and not procmgr.bytid
    assert [records[p].exitmsg for p in pids] == ["killed"] * 3
    assert all(records[p].done.is_set() for p in pids)
    assert not node.core.procs  # the boot process too
    assert hvm.nspaces == 0 and not node.kernel.threads.keys() - {
        t.id.number for t in node.kernel.irq_threads} - {node.kernel.root.id.number}
    assert hvm.frames.nfree == node.kernel.ram.nframes - 1
    with pytest.raises(Error) as e:  # nothing new starts once the node is going down
        await procmgr.spawn(node.bootproc, rname, [rname], 0, None)
    assert e.value.ename == Eshutdown


async def test_a_crashing_main_thread_at_shutdown_does_not_break_the_exit() -> None:
    """The kernel exit hook (``thread_died``) must not start work in a closed nursery."""

    async def stubborn(argv: list[str]) -> None:
        try:
            await lib.sleep(60_000)
        finally:
            raise RuntimeError("dying noisily")

    async with boot(ram=8 << 20) as node:
        pid = await node.spawn(program(node, stubborn))
        await trio.testing.wait_all_tasks_blocked()
    assert node.started[pid].exitmsg == "killed"


async def test_proc_wait_reads_real_records_shared_with_wait(node: Node) -> None:
    gate = trio.Event()

    async def child(argv: list[str]) -> None:
        if argv[1] == "slow":
            await gate.wait()
        await lib.exits(argv[2])

    name = program(node, child)

    async def body() -> None:
        me = await lib.getpid()
        with pytest.raises(Error) as e:  # no children yet
            await lib.read(await lib.open(f"/proc/{me}/wait", OREAD), 256)
        assert e.value.ename == Enochild

        slow = await lib.spawn(name, [name, "slow", "it's done"])
        fd = await lib.open(f"/proc/{me}/wait", OREAD)
        got: list[str] = []

        async def reader() -> None:
            got.append((await lib.read(fd, 256)).decode())

        async with trio.open_nursery() as n:
            calls = CallsInCore(node)
            n.start_soon(reader)
            await calls.reached(Sys.READ, "the wait read to block in the core")
            assert got == []  # blocked while the child lives
            gate.set()
        pid, utime, stime, rtime, msg = got[0].split(" ", 4)
        assert (int(pid), utime, stime, msg) == (slow, "0", "0", "'it''s done'")
        assert int(rtime) >= 0

        # two children, two waiters of different kinds: each record goes to exactly one
        a = await lib.spawn(name, [name, "fast", "a"])
        b = await lib.spawn(name, [name, "fast", "b dead"])
        results: list[tuple[int, str]] = []

        async def by_file() -> None:
            line = (await lib.read(fd, 256)).decode()
            results.append((int(line.split()[0]), line.split(" ", 4)[4]))

        async def by_call() -> None:
            w = await lib.wait()
            results.append((w.pid, w.msg))

        async with trio.open_nursery() as n:
            n.start_soon(by_file)
            n.start_soon(by_call)
        assert {p for p, _ in results} == {a, b}
        assert {m for _, m in results} <= {"a", "b dead", "'b dead'"}
        with pytest.raises(Error) as e:
            await lib.wait()
        assert e.value.ename == Enochild

    assert await run_as(node, body) == ""
