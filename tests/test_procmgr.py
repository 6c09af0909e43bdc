"""The process manager and the clerk pool, through lib: spawn/wait/exits, rfork, notes, threads."""

from __future__ import annotations

import pytest
import trio

from lp49fs import lib
from lp49fs.errors import Eintr, Enochild, Error
from lp49fs.lib import RFCNAMEG, RFFDG, RFNAMEG, RFPROC
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.node.boot import Node
from lp49fs.syscall import Sys
from tests.lib_helpers import CallsInCore, node, program, run_as, start
from tests.waiting import DEADLINE

__all__ = ["node"]


async def test_spawn_wait_exits_and_no_children(node: Node) -> None:
    async def child(argv: list[str]) -> None:
        await lib.exits(f"bye {argv[1]}")

    name = program(node, child)

    async def body() -> None:
        pids = {await lib.spawn(name, [name, str(i)]) for i in range(3)}
        got = {}
        for _ in range(3):
            w = await lib.wait()
            got[w.pid] = w.msg
        assert set(got) == pids
        assert sorted(got.values()) == ["bye 0", "bye 1", "bye 2"]
        with pytest.raises(Error) as e:
            await lib.wait()
        assert e.value.ename == Enochild

    assert await run_as(node, body) == ""
    assert not [p for p in node.core.procs.values() if p.name == name]


async def test_exit_strings_of_errors_and_crashes(node: Node) -> None:
    async def fails(argv: list[str]) -> None:
        await lib.open("/nope", OREAD)

    async def crashes(argv: list[str]) -> None:
        raise ValueError("boom")

    assert "does not exist" in await node.run(program(node, fails))
    assert (await node.run(program(node, crashes))).startswith("sys: ValueError")


async def test_exit_closes_fds_so_a_reader_sees_eof(node: Node) -> None:
    async def writer(argv: list[str]) -> None:
        await lib.write(1, b"from child")

    name = program(node, writer)

    async def body() -> None:
        r, w = await lib.pipe()
        await lib.spawn(name, [name], fds={1: w})
        await lib.close(w)
        assert await lib.read(r, 100) == b"from child"
        assert await lib.read(r, 100) == b""  # the child's end went with its exit
        await lib.wait()

    assert await run_as(node, body) == ""


@pytest.mark.parametrize(
    "flags, parent_sees, child_sees_dev",
    [(RFFDG | RFPROC, True, True), (RFNAMEG | RFFDG | RFPROC, False, True),
     (RFCNAMEG | RFFDG | RFPROC, False, False)],
)  # fmt: skip
async def test_rfork_share_copy_clean_name_space(
    node: Node, flags: int, parent_sees: bool, child_sees_dev: bool
) -> None:
    async def child(argv: list[str]) -> None:
        try:
            await lib.stat("/dev/sysname")
            saw = "dev"
        except Error:
            saw = "nodev"
        try:
            await lib.bind("#c", "/env", 0)
        except Error:
            pass
        await lib.exits(saw)

    name = program(node, child)

    async def body() -> None:
        await lib.rfork(RFNAMEG)  # our own name space: the other tests' stays untouched
        await lib.spawn(name, [name], flags)
        w = await lib.wait()
        assert w.msg == ("dev" if child_sees_dev else "nodev")
        try:
            await lib.stat("/env/sysname")
            seen = True
        except Error:
            seen = False
        assert seen is parent_sees

    assert await run_as(node, body) == ""


async def test_rfork_without_rfproc_changes_own_groups(node: Node) -> None:
    async def body() -> None:
        assert await lib.rfork(RFCNAMEG) == 0
        with pytest.raises(Error):
            await lib.stat("/dev/sysname")
        assert (await lib.stat("#c/sysname")).name == "sysname"

    assert await run_as(node, body) == ""


async def test_blocked_pipe_reader_does_not_delay_others(node: Node) -> None:
    box: dict[str, int] = {}

    async def reader() -> None:
        r, w = await lib.pipe()
        box["w"] = w
        await lib.read(r, 10)  # blocks forever

    pid, _ = await start(node, reader)

    async def other() -> None:
        for _ in range(20):
            fd = await lib.open("/dev/sysname", OREAD)
            await lib.read(fd, 10)
            await lib.close(fd)

    with trio.fail_after(DEADLINE):
        assert await run_as(node, other) == ""
    assert len(node.mngr.clerks) >= 2
    await node.procmgr.exits(node.procmgr.bypid[pid], "done")


async def test_kill_through_proc_ctl_interrupts_a_blocked_process(node: Node) -> None:
    got: list[BaseException] = []

    async def victim() -> None:
        r, _ = await lib.pipe()
        try:
            await lib.read(r, 10)
        except Error as e:
            got.append(e)
            raise

    calls = CallsInCore(node)
    pid, _ = await start(node, victim)
    await calls.reached(Sys.READ, "the victim's read to block in a clerk")

    async def killer() -> None:
        fd = await lib.open(f"/proc/{pid}/ctl", OWRITE)
        await lib.write(fd, b"kill")

    assert await run_as(node, killer) == ""
    with trio.fail_after(DEADLINE):
        assert await node.wait(pid) == "killed"
    assert pid not in node.core.procs


async def test_note_interrupts_a_sleep(node: Node) -> None:
    """A process with a note handler (notify) is not ended by a note: its call is interrupted."""

    async def sleeper() -> None:
        await lib.notify(True)
        with pytest.raises(Error) as e:
            await lib.sleep(1_000_000)
        assert e.value.ename == Eintr
        await lib.exits("woken")

    calls = CallsInCore(node)
    pid, _ = await start(node, sleeper)
    await calls.reached(Sys.SLEEP, "the sleeper's sleep to reach the core")

    async def poster() -> None:
        await lib.postnote(pid, "alarm")

    assert await run_as(node, poster) == ""
    with trio.fail_after(DEADLINE):
        assert await node.wait(pid) == "woken"


async def test_child_tasks_of_a_process_call_on_worker_threads(node: Node) -> None:
    async def body() -> None:
        r, w = await lib.pipe()
        results: list[bytes] = []
        async with trio.open_nursery() as n:

            async def reads() -> None:
                results.append(await lib.read(r, 100))  # blocks on a worker thread

            calls = CallsInCore(node)
            n.start_soon(reads)
            await calls.reached(Sys.READ, "the read to block in a clerk")
            assert not results
            assert await lib.getpid() > 0  # another call of the process, while the read waits
            async with lib.newthread():
                await lib.write(w, b"ping")
        assert results == [b"ping"]

    assert await run_as(node, body) == ""
