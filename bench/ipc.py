"""IPC benchmark of the L4 model, side by side with bare trio in the same run.

Measures (round trips or operations per second, best of ``--repeat`` runs):
- bare trio rendezvous: two tasks exchanging a value, (a) parked with
  ``wait_task_rescheduled`` and woken with ``reschedule`` (the floor), (b) through two
  unbuffered memory channels (what plain trio code would write);
- L4 call/reply_wait round trips between two threads in two spaces;
- the same with a 4 KiB MapItem per call (a system call with a buffer) and with a StringItem;
- page faults served per second by HVM's Pager (fault, zeroed frame, map, retry);
- map + unmap of 1 page and of 32 pages (one fpage), through the mapping database;
- priorities (kernel/sched.py): one call/reply pair beside three pairs of batch threads
  that run call/reply loops too, all at one priority, then with the one pair at 200 (a
  driver, the FUSE bridge) over the batch at 100; its round trips per second, and the
  share of the pair's rate alone, and how many round trips the batch made meanwhile.

Run: ``.venv/bin/python bench/ipc.py [--n 20000] [--repeat 3]``.  Ratios, not absolute times,
are the result: compare them on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import trio
import trio.testing
from trio.lowlevel import Abort, current_task, reschedule, wait_task_rescheduled

from hwsim import Machine
from kernel import mapdb
from kernel.kernel import open_kernel
from kernel.space import Space
from kernel.thread import Thread
from kernel.types import COMPLETE, Acceptor, Fpage, IpcError, MapItem, Msg, StringItem
from lp49fs.hvm import Hvm


async def bare_lowlevel(n: int) -> float:
    """Ping-pong of a value between two tasks with park/reschedule; returns seconds."""
    tasks: dict[str, Any] = {}

    def abort(_: object) -> Abort:
        return Abort.SUCCEEDED

    async def server() -> None:
        tasks["s"] = current_task()
        while True:
            v = await wait_task_rescheduled(abort)
            reschedule(tasks["c"], outcome.Value(v + 1))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        await trio.testing.wait_all_tasks_blocked()
        tasks["c"] = current_task()
        t0 = time.perf_counter()
        v = 0
        for _ in range(n):
            reschedule(tasks["s"], outcome.Value(v))
            v = await wait_task_rescheduled(abort)
        dt = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    assert v == n
    return dt


async def bare_channels(n: int) -> float:
    """Ping-pong through two unbuffered memory channels; returns seconds."""
    to_s, s_in = trio.open_memory_channel[int](0)
    to_c, c_in = trio.open_memory_channel[int](0)

    async def server() -> None:
        async for v in s_in:
            await to_c.send(v + 1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        t0 = time.perf_counter()
        v = 0
        for _ in range(n):
            await to_s.send(v)
            v = await c_in.receive()
        dt = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return dt


async def l4_call(n: int, kind: str) -> float:
    """call/reply_wait round trips between two threads in two spaces; returns seconds."""
    result: list[float] = []
    done = trio.Event()
    async with open_kernel(Machine(ram_size=4 << 20)) as k:
        hvm = Hvm(k)
        hvm.start()

        async def server(t: Thread) -> None:
            t.acceptor = Acceptor(Fpage(0x4000_0000, 20), strings=4096)
            sender, m = await t.wait()
            while True:
                sender, m = await t.reply_wait(sender, Msg(0, (m.words[0] + 1,)))

        srv = hvm.create_space(server)

        async def client(t: Thread) -> None:
            await t.store(0x10000, b"x")  # fault the buffer page in first
            items: tuple[Any, ...] = ()
            if kind == "map":
                items = (MapItem(Fpage(0x10000, 12), 0x10000),)
            elif kind == "string":
                items = (StringItem(b"/dev/sysname"),)
            t0 = time.perf_counter()
            v = 0
            for _ in range(n):
                v = (await t.call(srv, Msg(7, (v,), items))).words[0]
            result.append(time.perf_counter() - t0)
            assert v == n
            done.set()
            await trio.sleep_forever()

        hvm.create_space(client)
        await done.wait()
    return result[0]


async def page_faults(n: int) -> float:
    """Touch ``n`` fresh pages of a process; each is a fault served by HVM's Pager."""
    result: list[float] = []
    done = trio.Event()
    async with open_kernel(Machine(ram_size=(n + 64) * 4096)) as k:
        hvm = Hvm(k)
        hvm.start()

        async def proc(t: Thread) -> None:
            t0 = time.perf_counter()
            for i in range(n):
                await t.store(0x100000 + i * 4096, b"x")
            result.append(time.perf_counter() - t0)
            assert t.faults == n
            done.set()
            await trio.sleep_forever()

        hvm.create_space(proc)
        await done.wait()
    return result[0]


def map_unmap(n: int, pages: int) -> float:
    """map an fpage of ``pages`` pages from A to B, then unmap it from A's side."""
    m = Machine(ram_size=1 << 20)
    a, b = Space(m.ram, "a"), Space(m.ram, "b")
    for i in range(pages):
        mapdb.add_root(a, i, i, 7)
    size_log2 = 12 + (pages.bit_length() - 1)
    fp = Fpage(0, size_log2)
    t0 = time.perf_counter()
    for _ in range(n):
        mapdb.map_fpage(a, fp, 0, b, COMPLETE, False)
        mapdb.unmap(a, fp, False)
    dt = time.perf_counter() - t0
    assert not b.pages
    return dt


async def beside_batch(n: int, prio: int, batch: int = 3) -> tuple[float, int]:
    """A pair at ``prio`` beside ``batch`` pairs at 100; (its seconds for n, batch rounds)."""
    result: list[float] = []
    rounds = [0]
    done = trio.Event()
    async with open_kernel(Machine(ram_size=4 << 20)) as k:
        hvm = Hvm(k)
        hvm.start()

        async def server(t: Thread) -> None:
            with contextlib.suppress(IpcError):  # the kernel closing deletes the partners
                sender, m = await t.wait()
                while True:
                    sender, m = await t.reply_wait(sender, m)

        def pair(p: int, body: Callable[[Thread, Any], Awaitable[None]]) -> None:
            srv = hvm.create_space(server)
            hvm.set_priority(srv, p)
            cl = hvm.create_space(lambda t: body(t, srv))
            hvm.set_priority(cl, p)

        async def loop(t: Thread, srv: Any) -> None:
            with contextlib.suppress(IpcError):
                while True:
                    await t.call(srv, Msg(1))
                    rounds[0] += 1

        async def timed(t: Thread, srv: Any) -> None:
            await t.call(srv, Msg(1))
            start = rounds[0]
            t0 = time.perf_counter()
            for _ in range(n):
                await t.call(srv, Msg(1))
            result.append(time.perf_counter() - t0)
            rounds[0] -= start  # count only the batch rounds made while the pair ran
            done.set()
            await trio.sleep_forever()

        for _ in range(batch):
            pair(100, loop)
        await trio.sleep(0)
        pair(prio, timed)
        await done.wait()
    return result[0], rounds[0]


def best(fn: Callable[[], Awaitable[float]], repeat: int) -> float:
    return min(trio.run(fn) for _ in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="round trips per run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, r = args.n, args.repeat
    rows: list[tuple[str, float, str]] = []
    floor = n / best(lambda: bare_lowlevel(n), r)
    chan = n / best(lambda: bare_channels(n), r)
    rows.append(("bare trio rendezvous, park/reschedule", floor, "1.00"))
    rows.append(("bare trio rendezvous, memory channels", chan, f"{chan / floor:.2f}"))
    for kind, label in [("plain", "L4 call/reply_wait, 1 word"),
                        ("string", "L4 call/reply_wait + StringItem"),
                        ("map", "L4 call/reply_wait + 4 KiB MapItem")]:
        rate = n / best(lambda kind=kind: l4_call(n, kind), r)  # type: ignore[misc]
        rows.append((label, rate, f"{rate / floor:.2f} (vs channels {rate / chan:.2f})"))
    nf = max(n // 4, 100)
    rate = nf / best(lambda: page_faults(nf), r)
    rows.append(("page faults served (HVM Pager)", rate, f"{rate / floor:.2f}"))
    for pages in (1, 32):
        rate = n / min(map_unmap(n, pages) for _ in range(r))
        rows.append((f"map + unmap, {pages} page(s)", rate, f"{rate / floor:.2f}"))
    alone = n / best(lambda: l4_call(n, "plain"), r)
    for prio, label in [(100, "pair beside 3 batch pairs, all at 100"),
                        (200, "pair at 200 beside 3 batch pairs at 100")]:
        dt, batch = min(trio.run(beside_batch, n, prio) for _ in range(r))
        rate = n / dt
        rows.append((label, rate, f"{rate / floor:.2f} ({rate / alone:.0%} of the pair alone; "
                                  f"batch made {batch:,} round trips meanwhile)"))  # fmt: skip
    print(f"{'operation':42} {'per second':>12}  ratio to park/reschedule")
    for name, rate, ratio in rows:
        print(f"{name:42} {rate:12,.0f}  {ratio}")


if __name__ == "__main__":
    main()
