"""A task that is not an L4 thread's own drives an idle worker thread itself (workers.drive).

The IPC of a borrowed system call parks and wakes the borrowing task (``kernel.thread``
Rule 1), so no hand-off to the worker's own task happens; a call cut short after the Mngr
took it leaves the worker owing a reply, which its own task absorbs before the worker is idle.
"""

from __future__ import annotations

import pytest
import trio

from kernel.ipc import RECEIVING, SENDING
from kernel.types import Msg
from lp49fs import lib
from lp49fs.lib import uctx, workers
from lp49fs.node.boot import Node
from tests.lib_helpers import node, run_as
from tests.waiting import DEADLINE, await_until

__all__ = ["node"]


async def test_borrowing_task_drives_the_worker_ipc(node: Node) -> None:
    async def body() -> None:
        up = uctx.current().uproc
        seen: list[object] = []

        async def child() -> None:
            await lib.stat("/dev/null")  # makes a worker and gives it back
            w = up.idle[-1]
            own = w.sleeper  # the worker's own task, parked for jobs
            await lib.stat("/dev/null")
            seen.extend((w.thread.task, trio.lowlevel.current_task(), own))
            assert up.idle[-1] is w and w.state is uctx.IDLE and w.job is None

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
        driver, me, own = seen
        assert driver is me  # the IPC ran in the child task
        assert own is not None and own is not me  # not handed to the worker's task

    assert await run_as(node, body) == ""


async def test_cut_while_receiving_owes_a_reply_then_the_worker_is_reusable(node: Node) -> None:
    async def body() -> None:
        up = uctx.current().uproc
        r, w = await lib.pipe()
        used: list[uctx.UThread] = []

        async def reader() -> None:
            used.append(up.idle[-1] if up.idle else await up.worker())
            if used[0] in up.idle:
                up.idle.remove(used[0])
            up.release(used[0])
            await lib.read(r, 100)  # blocks in a clerk

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            with trio.fail_after(DEADLINE):  # wait for the condition (the read waits in a clerk)
                while not (used and used[0].state is uctx.CALLING
                           and used[0].thread.state is RECEIVING):
                    await trio.sleep(0.005)
            worker = used[0]
            nursery.cancel_scope.cancel()
        assert worker.thread.cut is RECEIVING
        # absorbed the interrupted reply, then idle again
        await await_until(lambda: worker in up.idle, "the worker idle again")
        assert worker.thread.id not in node.mngr.serving and worker.state is not uctx.OWING
        await lib.write(w, b"x")

        async def again() -> None:  # the same worker serves the next borrowed call correctly
            assert await lib.read(r, 100) == b"x"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(again)

    assert await run_as(node, body) == ""


async def test_cut_while_sending_owes_nothing(node: Node) -> None:
    async def body() -> None:
        up = uctx.current().uproc
        await lib.getpid()
        worker = await up.worker()
        th = worker.thread
        box: list[BaseException] = []

        async def borrower() -> None:
            async def op(ut: uctx.UThread) -> None:
                # no clerk receives: the Mngr's queue holds the call until the cancel
                th.cut = "none"
                await ut.thread.call(th.id, Msg(1))  # calls itself: never received

            try:
                await workers.drive(worker, op)
            except BaseException as e:
                box.append(e)
                raise

        async with trio.open_nursery() as nursery:
            nursery.start_soon(borrower)
            await await_until(lambda: th.state is SENDING, "the borrower sending")
            nursery.cancel_scope.cancel()
        assert th.cut is SENDING and worker.state is uctx.IDLE and worker.job is None
        up.release(worker)
        assert worker in up.idle

    assert await run_as(node, body) == ""



async def test_a_worker_state_change_the_table_lacks_is_refused(node: Node) -> None:
    async def body() -> None:
        ut = uctx.current()  # the program's own thread, between two of its calls
        assert ut.state is uctx.IDLE
        with pytest.raises(AssertionError, match="END while IDLE"):
            ut.step(uctx.WEvent.END)
        with pytest.raises(AssertionError, match="CUT while IDLE"):
            ut.step(uctx.WEvent.CUT)
        assert ut.state is uctx.IDLE  # a refused event changes nothing
        await lib.stat("/dev/null")  # and the thread still makes calls

    assert await run_as(node, body) == ""
