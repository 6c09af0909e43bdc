"""Cancelling a system call that runs on a borrowed worker, and many blocked calls at once.

The path under test: a task of a process (not the thread's own task) borrows a worker
(``workers.run``); cancelling the task interrupts the call in the core (``Sys.INTERRUPT`` ->
the clerk's cancel scope), and the worker is idle again only once its IPC is over.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import trio

from kernel.types import Msg
from lp49fs import lib
from lp49fs.errors import Eperm, Error
from lp49fs.fuse.intr import Interrupted, Interrupts
from lp49fs.lib import uctx
from lp49fs.ninep import OREAD
from lp49fs.node.boot import Node
from lp49fs.syscall import Sys
from tests.lib_helpers import CallsInCore, node, program, run_as
from tests.waiting import DEADLINE, await_until

__all__ = ["node"]


async def test_cancelled_pipe_read_is_interrupted_and_loses_no_data(node: Node) -> None:
    async def body() -> None:
        up = uctx.current().uproc
        r, w = await lib.pipe()
        got: list[uctx.UThread] = []

        async def reader() -> None:
            got.append(await up.worker())  # the worker the next read will borrow
            up.release(got[0])
            await lib.read(r, 100)

        async with trio.open_nursery() as nursery:  # a task other than the thread's own
            nursery.start_soon(reader)
            await await_until(lambda: got and got[0].state is uctx.CALLING
                              and got[0].thread.id in node.mngr.serving,
                              "the read to reach a clerk")
            nursery.cancel_scope.cancel()
        worker = got[0]
        await await_until(lambda: worker.state is uctx.IDLE and worker in up.idle,
                          "the core to end the call and the worker to come back by itself")
        assert up.idle.count(worker) == 1
        assert worker.thread.id not in node.mngr.serving
        await lib.write(w, b"after")
        assert await lib.read(r, 100) == b"after"  # the interrupted read took nothing

    assert await run_as(node, body) == ""


async def test_cancel_before_the_call_leaves_is_interrupted_too(node: Node) -> None:
    async def body() -> None:
        r, w = await lib.pipe()

        async def reader() -> None:
            with trio.CancelScope() as cs:
                cs.cancel()  # cancelled before the worker even starts
                await lib.read(r, 100)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
        await lib.write(w, b"x")
        assert await lib.read(r, 100) == b"x"

    assert await run_as(node, body) == ""


async def test_interrupt_of_another_process_thread_is_refused(node: Node) -> None:
    other: list[int] = []

    async def sleeper() -> None:
        other.append(int(uctx.current().thread.id))
        await lib.sleep(10_000)

    async def body() -> None:
        pid = await node.spawn(program_of(node, sleeper))
        await await_until(lambda: other, "the sleeper to start")
        msg = Msg(Sys.INTERRUPT, (other[0],))
        with pytest.raises(Error, match=Eperm):
            await uctx.current().call(msg)
        await lib.postnote(pid, "kill")

    assert await run_as(node, body) == ""


def program_of(node: Node, fn: object) -> str:
    async def main(argv: list[str]) -> None:
        await fn()  # type: ignore[operator]

    return program(node, main)


async def test_a_hundred_blocked_reads_do_not_stall_a_stat(node: Node) -> None:
    n = 100

    async def body() -> None:
        up = uctx.current().uproc
        r, w = await lib.pipe()
        started = 0
        results: list[bytes | str] = []

        async def reader() -> None:
            nonlocal started
            started += 1
            try:
                results.append(await lib.read(r, 1))
            except Error as e:
                results.append(e.ename)

        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(reader)
            with trio.fail_after(20):
                while started < n or len(node.mngr.serving) < n:
                    await trio.sleep(0.01)
                # every reader holds a worker in the core; the process still makes calls
                assert (await lib.stat("/dev/sysname")).name == "sysname"
                async with trio.open_nursery() as side:  # borrowed workers too
                    for _ in range(3):
                        side.start_soon(lib.stat, "/dev/null")
            await lib.write(w, b"ab")  # two readers get a byte each
            await await_until(lambda: len(results) >= 2, "two readers to get a byte each")
            nursery.cancel_scope.cancel()  # the other 98 are interrupted in the core
        assert sorted(x for x in results if isinstance(x, bytes)) == [b"a", b"b"]
        await await_until(lambda: sum(w_.state is uctx.IDLE for w_ in up.idle) >= up.nthreads - 2,
                          "the interrupted workers to be idle again")
        assert all(w_.state is uctx.IDLE for w_ in up.idle)
        await lib.write(w, b"z")
        assert await lib.read(r, 10) == b"z"

    assert await run_as(node, body, timeout=60) == ""


async def test_fuse_interrupt_cancels_a_console_read_and_the_next_line_is_kept(
    node: Node,
) -> None:
    """The FUSE bridge's path (intr.py): a signalled requester cancels a cons read for real."""
    intr = Interrupts()
    p = subprocess.Popen(["sleep", "30"])  # stands for the `cat` whose read is interrupted

    async def body() -> None:
        fd = await lib.open("/dev/cons", OREAD)
        async with trio.open_nursery() as nursery:
            await nursery.start(intr.run)
            result: list[object] = []

            async def handler() -> None:  # as a pyfuse3 request task would
                try:
                    result.append(await intr.call(p.pid, lib.read, fd, 100))
                except Interrupted:
                    result.append("EINTR")

            calls = CallsInCore(node)
            nursery.start_soon(handler)
            await calls.reached(Sys.READ, "the console read to reach a clerk")
            os.kill(p.pid, signal.SIGSTOP)  # keep the signal pending
            os.kill(p.pid, signal.SIGINT)
            await await_until(lambda: result, "the interrupted read to end")
            assert result == ["EINTR"] and intr.cancelled == 1
            node.machine.uart.feed(b"next line\n")
            with trio.fail_after(DEADLINE):
                assert await lib.read(fd, 100) == b"next line\n"  # not eaten by the old read
            nursery.cancel_scope.cancel()

    try:
        assert await run_as(node, body) == ""
    finally:
        p.kill()
        p.wait()


async def test_cancel_while_a_worker_is_being_made_keeps_the_process_alive(node: Node) -> None:
    """A task cancelled while ``worker()`` waits for NEWTHREAD (it holds ``UProc.lock``)
    used to re-acquire the lock in ``interrupt`` and die with RuntimeError (exportfs
    processes on connection churn); workers Rule 4.  The cancel lands after k checkpoints, so
    some k hit the NEWTHREAD wait; afterwards the process still makes calls."""

    async def body() -> None:
        up = uctx.current().uproc
        for k in range(1, 12):
            async with trio.open_nursery() as n:

                async def call() -> None:
                    await lib.sleep(0)

                async def canceller(scope: trio.CancelScope = n.cancel_scope, k: int = k) -> None:
                    for _ in range(k):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                up.idle.clear()  # every worker taken: the next call makes a new one
                n.start_soon(call)
                n.start_soon(canceller)
        await lib.sleep(0)
        assert (await lib.stat("/")).name == "/"

    assert await run_as(node, body) == ""
