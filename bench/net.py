"""``import`` over the own IP stack against ``import`` over the host-socket stack, one run.

    .venv/bin/python bench/net.py [--seconds S] [--no-big]

Boots, in this process, two pairs of nodes: ``host`` (``#I`` on host sockets, the exporter
listening on 127.0.0.1) and ``own`` (``#I`` on the own stack, each node with a NIC on one
hub, 10.66.0.1 and .2).  In each pair the exporter runs ramfs on /tmp with a 16-byte, a
1 MiB, a 10 MiB and a 50 MiB file and ``exportfs -l``; an LP49 process of the importer
imports that /tmp on /n and times, side by side:

* ``read16``: pread of 16 bytes of an open file (one 9P Tread round trip over TCP);
* ``read 1 MiB``: open, 64 KiB reads to the end, close (as often as ``--seconds`` allows);
* ``read 10 MiB``, ``read 50 MiB``: the same, once each (left out with ``--no-big``);
* ``frames``: raw 1000-byte frames written to ``/net/ether0/N/data`` (own pair only).

Printed: operations per second, µs per operation, and own/host ratios (targets: own 1 MiB
reads >= 25% of host, small-read round trip <= 3x host).  A script: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import trio
import trio.testing

from hwsim.hub import Hub
from lp49fs import lib
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node import servers
from lp49fs.node.boot import Node, boot
from lp49fs.servants import OWNSTACK

BLOB = os.urandom(1 << 20)
BIG = {"read 10 MiB": 10, "read 50 MiB": 50}  # row -> MiB, read once each


@asynccontextmanager
async def pair(kind: str, hubpath: str, big: bool = False) -> AsyncIterator[tuple[Node, str]]:
    """(importer node, exporter dial string) of the ``kind`` pair, exporter ready."""
    async with trio.open_nursery() as nursery:
        if kind == "own":
            await nursery.start(Hub(hubpath).serve)
        async with AsyncExitStack() as stack:
            nodes = []
            for name, ip in (("x", "10.66.0.2"), ("m", "10.66.0.1")):
                kw = {"config": OWNSTACK, "nics": [f"hub:{hubpath}"], "ips": [f"{ip}/24"]}
                nodes.append(await stack.enter_async_context(
                    boot(name, ram=32 << 20, **kw) if kind == "own" else boot(name)))  # type: ignore[arg-type]  # fmt: skip
            exporter, importer = nodes
            svs = await servers.start_servers(exporter, nursery)
            exporter.programs["put"] = put
            sizes = [str(m) for m in BIG.values()] if big else []
            assert await exporter.run("put", ["put", *sizes]) == ""
            port = 17007 if kind == "own" else 17100 + os.getpid() % 800
            await exporter.spawn("exportfs", ["exportfs", "-l", f"tcp!*!{port}"])
            await trio.testing.wait_all_tasks_blocked()
            dial = f"tcp!10.66.0.2!{port}" if kind == "own" else f"tcp!127.0.0.1!{port}"
            yield importer, dial
            await servers.stop_servers(exporter, svs)
        nursery.cancel_scope.cancel()


async def put(argv: list[str]) -> None:
    for name, data in (("small", b"0123456789abcdef"), ("blob", BLOB)):
        fd = await lib.create(f"/tmp/{name}", ORDWR, 0o644)
        await lib.write(fd, data)
        await lib.close(fd)
    for mib in map(int, argv[1:]):
        fd = await lib.create(f"/tmp/big{mib}", ORDWR, 0o644)
        for _ in range(mib):
            await lib.write(fd, BLOB)
        await lib.close(fd)


async def timed(fn: Callable[[], Awaitable[object]], seconds: float, least: int = 3) -> float:
    """Operations per second of ``fn`` over about ``seconds`` (at least ``least`` times)."""
    n, t0 = 0, time.perf_counter()
    while (dt := time.perf_counter() - t0) < seconds or n < least:
        await fn()
        n += 1
    return n / dt


async def readall(path: str) -> None:
    f = await lib.open(path, OREAD)
    while await lib.read(f, 65536):
        pass
    await lib.close(f)


async def measure(kind: str, seconds: float, hubpath: str, big: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    async with pair(kind, hubpath, big) as (node, dial):

        async def body(argv: list[str]) -> None:
            await lib.spawn("import", ["import", dial, "/tmp", "/n"], lib.RFPROC | lib.RFFDG)
            assert (await lib.wait()).msg == ""
            fd = await lib.open("/n/small", OREAD)
            out["read16"] = await timed(lambda: lib.pread(fd, 16, 0), seconds)

            out["read 1 MiB"] = await timed(lambda: readall("/n/blob"), seconds)
            for row, mib in BIG.items() if big else ():
                out[row] = await timed(lambda m=mib: readall(f"/n/big{m}"), 0, least=1)  # type: ignore[misc]  # fmt: skip
            if kind == "own":
                ctl = await lib.open("/net/ether0/clone", ORDWR)
                conn = (await lib.read(ctl, 16)).decode()
                await lib.write(ctl, b"connect 34997")
                data = await lib.open(f"/net/ether0/{conn}/data", ORDWR)
                frame = b"\xff" * 6 + bytes(6) + b"\x88\xb5" + bytes(986)
                out["frames"] = await timed(lambda: lib.write(data, frame), seconds)

        node.programs["bench"] = body
        msg = await node.run("bench")
        assert msg == "", msg
    return out


async def main(seconds: float, big: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        host = await measure("host", seconds, f"{d}/hub", big)
        own = await measure("own", seconds, f"{d}/hub", big)
    print(f"{'operation':<12} {'host/s':>9} {'own/s':>9} {'host ms':>9} {'own ms':>9} "
          f"{'own MB/s':>9} {'own/host':>9}")  # fmt: skip
    for k in ("read16", "read 1 MiB", *(BIG if big else ())):
        mbs = own[k] * (1 << 20) * BIG.get(k, 1) / 1e6 if "MiB" in k else 0.0
        print(f"{k:<12} {host[k]:>9.2f} {own[k]:>9.2f} {1e3 / host[k]:>9.3f} "
              f"{1e3 / own[k]:>9.3f} {mbs:>9.2f} {own[k] / host[k]:>9.2f}")  # fmt: skip
    print(f"{'frames':<12} {'':>9} {own['frames']:>9.0f}   (1000-byte frames into #l, per s)")
    print(
        f"own 1 MiB reads = {own['read 1 MiB'] / host['read 1 MiB']:.0%} of host (target >= 25%);"
        f" small-read round trip = {host['read16'] / own['read16']:.2f}x host (target <= 3x)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--no-big", dest="big", action="store_false", help="skip 10 and 50 MiB")
    args = ap.parse_args()
    trio.run(main, args.seconds, args.big)
