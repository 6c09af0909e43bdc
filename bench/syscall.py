"""System-call rate through lp49fs.lib, next to the bare L4 IPC round trip of the model.

    .venv/bin/python bench/syscall.py [--seconds S]

Boots one node and measures, in the same run:

* ``ipc``: a bare ``call``/``reply_wait`` round trip between two threads in two spaces of the
  kernel model (no items) -- the floor every system call pays at least once;
* ``stat /dev/null``: one system call (path as a StringItem, the stat entry through a mapped
  buffer page);
* ``open+read16+close``: three system calls on ``/env/bench`` (16-byte read into a mapped page);
* ``open+read16+close ramfs #M``: the same on ``/tmp/bench``, a file of the node's ramfs
  server process mounted through ``#M`` (each call becomes 9P over a pipe to that process,
  whose lib9p serves it with system calls of its own);
* ``pread 512 KiB ramfs #M``: one system call reading 512 KiB (``syscall.MAXIO``) of a ramfs
  file: as many Treads as the link's msize needs (one at lib9p.LINK_MSIZE = 1 MiB);

* ``pread16 ramfs, fd open``: one 16-byte read of that file, the fd kept open;

each three times: on a node with the service bus (docs/servicebus.md) off (``classic``: every
read crosses the core, then #M, which asks the Pager's page cache (docs/pagecache.md) before
it sends a Tread on the pipe), the same with the page cache off (``no cache``), and with the
bus on (``bus``: a granted fd reads by IPC straight to ramfs's endpoint thread); it prints
microseconds per call, each row's ratio to the IPC round trip of the same node and the
system calls the node's core received per op (ramfs's own included: it reads each request
from its pipe and writes each reply with system calls), the three paths side by side.
``ROWS`` is the hook for more rows: append ``(name, setup, op)`` where ``setup`` runs once
as the benchmark process and ``op`` is the timed body.  A script, not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import trio

from kernel.thread import Thread
from kernel.types import Msg
from lp49fs import lib
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers

Op = Callable[[], Awaitable[object]]


async def _nothing() -> None:
    pass


async def _stat_null() -> None:
    await lib.stat("/dev/null")


async def _setup_env() -> None:
    fd = await lib.create("/env/bench", ORDWR, 0o664)
    await lib.write(fd, b"0123456789abcdef")
    await lib.close(fd)


async def _open_read_close() -> None:
    fd = await lib.open("/env/bench", OREAD)
    await lib.read(fd, 16)
    await lib.close(fd)


async def _setup_ramfs() -> None:
    fd = await lib.create("/tmp/bench", ORDWR, 0o664)
    await lib.write(fd, b"0123456789abcdef")
    await lib.close(fd)


async def _ramfs_open_read_close() -> None:
    fd = await lib.open("/tmp/bench", OREAD)  # Twalk+Topen, Tread, Tclunk to ramfs over #M
    await lib.read(fd, 16)
    await lib.close(fd)


BULK = 512 << 10  # syscall.MAXIO: the largest read one system call makes


_bulkfd = -1  # the open bulk file, set by _setup_bulk


async def _setup_bulk() -> None:
    global _bulkfd
    fd = await lib.create("/tmp/bulk", ORDWR, 0o664)
    await lib.write(fd, bytes(range(256)) * (BULK // 256))
    await lib.close(fd)
    _bulkfd = await lib.open("/tmp/bulk", OREAD)


async def _pread_bulk() -> None:
    if len(await lib.pread(_bulkfd, BULK, 0)) != BULK:  # Treads of msize - IOHDRSZ each
        raise SystemExit("short bulk read")


_held: list[int] = []


async def _setup_held() -> None:
    await _setup_ramfs()
    _held[:] = [await lib.open("/tmp/bench", OREAD)]


async def _pread_held() -> None:
    await lib.pread(_held[0], 16, 0)


# name, setup (once, as the process), timed op (as the process); add rows here
ROWS: list[tuple[str, Callable[[], Awaitable[None]], Op]] = [
    ("stat /dev/null", _nothing, _stat_null),
    ("open+read16+close", _setup_env, _open_read_close),
    ("open+read16+close ramfs #M", _setup_ramfs, _ramfs_open_read_close),
    ("pread 512 KiB ramfs #M", _setup_bulk, _pread_bulk),
    ("pread16 ramfs, fd open", _setup_held, _pread_held),
]


async def timed(seconds: float, op: Op) -> tuple[int, float]:
    """Run ``op`` repeatedly for about ``seconds``; (count, elapsed wall seconds)."""
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(50):
            await op()
        n += 50
        now = time.perf_counter()
        if now >= end:
            return n, now - t0


async def ipc_rate(node: Node, seconds: float) -> float:
    """Round trips per second of a bare call/reply_wait pair in two spaces."""
    rt = node.hvm
    rate = [0.0]
    done = trio.Event()

    async def server(t: Thread) -> None:
        sender, msg = await t.wait()
        while True:
            sender, msg = await t.reply_wait(sender, msg)

    srv = rt.create_space(server, name="bench-server")

    async def client(t: Thread) -> None:
        msg = Msg(1, (1, 2))

        async def op() -> None:
            await t.call(srv, msg)

        n, dt = await timed(seconds, op)
        rate[0] = n / dt
        done.set()

    cl = rt.create_space(client, name="bench-client")
    await done.wait()
    rt.delete_thread(cl)
    rt.delete_thread(srv)
    return rate[0]


Rates = tuple[float, list[float], list[float]]


async def measure(seconds: float, bus: bool, cache: bool) -> Rates:
    """(bare IPC rate, rate of each row, system calls per op of each row, the server's
    included) on a node booted with the bus ``bus`` and the Pager's page cache ``cache``."""
    async with boot("bench", bus=bus, pagecache=cache) as node, trio.open_nursery() as nursery:
        svs = await start_servers(node, nursery)  # ramfs posted and mounted on /tmp
        base = await ipc_rate(node, seconds)
        rates: list[float] = []
        calls: list[float] = []

        async def prog(argv: list[str]) -> None:
            for _name, setup, op in ROWS:
                await setup()
                c0 = node.mngr.calls
                n, dt = await timed(seconds, op)
                rates.append(n / dt)
                calls.append((node.mngr.calls - c0) / n)

        node.programs["bench"] = prog
        await node.run("bench")
        await stop_servers(node, svs)
        return base, rates, calls


# the paths measured side by side: name, service bus, page cache (docs/pagecache.md)
PATHS = (("classic", False, True), ("no cache", False, False), ("bus", True, True))


async def main(seconds: float) -> None:
    runs = [await measure(seconds, bus, cache) for _, bus, cache in PATHS]
    head = "".join(f" {name + ' us':>12s} {'x ipc':>6s} {'calls':>5s}" for name, _, _ in PATHS)
    print(f"{'row':28s}{head}")
    ipc = "".join(f" {1e6 / b:12.1f} {1.0:6.1f} {0:5d}" for b, _, _ in runs)
    print(f"{'ipc call/reply (bare)':28s}{ipc}")
    for i, (name, _, _) in enumerate(ROWS):
        cells = "".join(f" {1e6 / r[i]:12.1f} {b / r[i]:6.1f} {k[i]:5.1f}" for b, r, k in runs)
        print(f"{name:28s}{cells}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    trio.run(main, ap.parse_args().seconds)
