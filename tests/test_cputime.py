"""CPU time (lp49fs.core.cputime): user and sys time of processes, wait records, #c files.

No absolute time is asserted: a program measures its own busy loop with the host clock and
the node's accounting is compared with that figure, measured in the same run.
"""

from __future__ import annotations

import time

from lib_helpers import node, program, run_as

from lp49fs import lib
from lp49fs.cmd._fmt import psline
from lp49fs.ninep import OREAD
from lp49fs.node.boot import Node
from tests.sh_helpers import sh

__all__ = ["node"]

SPIN = 0.2  # seconds a program computes without a checkpoint


def spin(seconds: float) -> float:
    """Compute for ``seconds`` in one task step; returns how long it took."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pass
    return time.perf_counter() - t0


async def readtext(path: str) -> str:
    fd = await lib.open(path, OREAD)
    try:
        return (await lib.read(fd, 8192)).decode()
    finally:
        await lib.close(fd)


def nums(text: str) -> list[int]:
    return [int(x) for x in text.split()]


async def test_user_time_in_cputime_status_and_the_wait_record(node: Node) -> None:
    spent: list[float] = []

    async def child(argv: list[str]) -> None:
        spent.append(spin(SPIN))
        for _ in range(50):  # system calls: the clerks' work is its sys time
            await lib.stat("/dev/null")
        own = nums(await readtext("/dev/cputime"))
        status = await readtext(f"/proc/{await lib.getpid()}/status")
        assert len(own) == 6 and own[0] >= 0.9 * spent[0] * 1000 and own[1] > 0
        assert int(status.split()[3]) >= own[0]  # the status record's user ms
        memkb = int(status.split()[9])
        assert memkb >= 4  # its buffer pages at least, 4 KiB each
        line = psline("5", status)
        assert line is not None and f" {memkb}K " in line

    async def parent() -> None:
        pid = await lib.spawn(program(node, child), [], lib.RFFDG | lib.RFPROC)
        w = await lib.wait()
        assert (w.pid, w.msg) == (pid, "")
        ms = spent[0] * 1000
        assert w.utime >= 0.9 * ms and w.stime > 0 and w.time >= w.utime
        mine = nums(await readtext("/dev/cputime"))
        assert mine[3:5] == [w.utime, w.stime]  # a waited child's times are its parent's
        assert mine[0] < w.utime  # and not its own

    assert await run_as(node, parent) == ""


async def test_proc_wait_gives_the_same_record_with_cpu_times(node: Node) -> None:
    spent: list[float] = []

    async def child(argv: list[str]) -> None:
        spent.append(spin(SPIN))

    async def parent() -> None:
        pid = await lib.spawn(program(node, child), [], lib.RFFDG | lib.RFPROC)
        f = (await readtext(f"/proc/{await lib.getpid()}/wait")).split()
        assert int(f[0]) == pid and f[4] == "''"
        utime, stime, rtime = map(int, f[1:4])
        assert utime >= 0.9 * spent[0] * 1000 and rtime >= utime and stime >= 0

    assert await run_as(node, parent) == ""


async def test_sysstat_is_plan9s_line_and_counts_system_calls(node: Node) -> None:
    async def body() -> None:
        first = await readtext("/dev/sysstat")
        for _ in range(20):
            await lib.stat("/dev/null")
        second = await readtext("/dev/sysstat")
        for text in (first, second):
            assert len(text) == 10 * 12 + 1 and text.endswith("\n")
            assert all(text[i * 12 + 11] == " " for i in range(10))  # 11 digits and a blank
        a, b = nums(first), nums(second)
        assert a[0] == b[0] == 0  # cpu 0, the only one
        assert b[1] > a[1] and b[3] >= a[3] + 21  # context switches; the calls made between
        assert b[4] >= a[4] and b[2] >= a[2]  # page faults, interrupts never go back
        assert 0 <= b[8] <= 100

    assert await run_as(node, body) == ""


async def test_kmesg_keeps_what_the_console_printed(node: Node) -> None:
    r = await sh(node, "echo kmesg-marker > /dev/cons; cat /dev/kmesg")
    assert r.status == "" and r.out.count("kmesg-marker") == 1
    node.core.kmesgputs(b"x" * (20 * 1024))
    assert len(node.core.kmesg) == 16 * 1024 and b"kmesg-marker" not in node.core.kmesg
