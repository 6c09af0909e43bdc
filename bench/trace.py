"""What tracing costs: the same system calls untraced, then traced, in one run.

    .venv/bin/python bench/trace.py [--seconds S]

Boots one node (ramfs on /tmp) and times, as one process, ``stat /dev/null`` and
``open+read16+close`` of a ramfs file (9P through ``#M``), first with tracing off, then with
the process traced (``/proc/N/ctl trace 1``: every call records its arrows through every
layer into a log that nothing reads, emptied as it goes), and prints the rate of each and
the ratio (medians of ROUNDS alternating rounds), and the arrows recorded per traced
operation.  Tracing off costs one attribute check per hook site: compare
``bench/syscall.py`` on this tree and on one without the hooks for that.  A script, not a
test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics

import trio
from syscall import Op, timed  # bench/syscall.py: the timing loop

from lp49fs import lib
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.node.boot import boot
from lp49fs.node.servers import start_servers, stop_servers
from lp49fs.trace import TraceLog


async def stat_null() -> None:
    await lib.stat("/dev/null")


async def ramfs_read() -> None:
    fd = await lib.open("/tmp/bench", OREAD)
    await lib.read(fd, 16)
    await lib.close(fd)


ROWS = (("stat /dev/null", stat_null), ("open+read16+close ramfs #M", ramfs_read))


ROUNDS = 5  # untraced and traced alternate, so load on the machine hits both alike


async def setctl(pid: int, text: bytes) -> None:
    ctl = await lib.open(f"/proc/{pid}/ctl", OWRITE)
    await lib.write(ctl, text)
    await lib.close(ctl)


def draining(op: Op, log: TraceLog, events: list[int]) -> Op:
    """``op``, then the finished traces taken out of ``log`` (nobody reads them here)."""

    async def run() -> None:
        await op()
        events[0] += sum(len(t.events) for t in log.take())

    return run


async def main(seconds: float) -> None:
    results: list[tuple[str, float, float, int]] = []
    async with boot("bench") as node, trio.open_nursery() as nursery:
        svs = await start_servers(node, nursery)

        async def prog(argv: list[str]) -> None:
            fd = await lib.create("/tmp/bench", 1, 0o644)
            await lib.write(fd, b"0123456789abcdef")
            await lib.close(fd)
            me = await lib.getpid()
            for name, op in ROWS:
                plain, traced, events, calls = [], [], [0], 0
                for _ in range(ROUNDS):
                    n, dt = await timed(seconds / ROUNDS, op)
                    plain.append(n / dt)
                    await setctl(me, b"trace 1")
                    log = node.core.procs[me].tracelog
                    assert log is not None
                    n, dt = await timed(seconds / ROUNDS, draining(op, log, events))
                    await setctl(me, b"trace 0")
                    traced.append(n / dt)
                    calls += n
                results.append((name, statistics.median(plain), statistics.median(traced),
                                events[0] // calls))  # fmt: skip

        node.programs["bench"] = prog
        await node.run("bench")
        await stop_servers(node, svs)
    print(f"{'row':28s} {'untraced/s':>10s} {'traced/s':>10s} {'x slower':>9s} {'arrows':>7s}")
    for name, plain, rate, arrows in results:
        print(f"{name:28s} {plain:10.0f} {rate:10.0f} {plain / rate:9.2f} {arrows:7d}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    trio.run(main, ap.parse_args().seconds)
