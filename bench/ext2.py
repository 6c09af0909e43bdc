"""ext2srv throughput beside its floors, measured in the same run.

A node boots with a fresh ``mke2fs -t ext2 -b 4096`` image as sdC0 and runs ext2srv on
``/dev/sdC0/data``, mounted on /mnt.  Rows (each a time and MB/s or op/s):

* ``ext2 write`` / ``ext2 read``: one file of ``--mib`` MiB (default 64) written and read in
  ``--chunk`` pieces (default 128 KiB, #M's message size) through the mount;
* ``sd write`` / ``sd read``: the same bytes to and from ``/dev/sdC0/data`` itself at the
  same offsets past the file system's end... of a second unit, so the only difference is the
  server (the #S path every ext2srv request takes);
* ``host pwrite`` / ``host pread``: os.pwrite/os.pread of a scratch image file on the
  host (no node at all);
* ``creates``: ``--files`` (default 1,000) 1 KiB files created, written and closed;
* ``5,000 entries`` with ``--entries 5000``: one directory filled, then listed.

The ratio column is ext2 over sd and over host for the same direction.  Run:
``.venv/bin/python bench/ext2.py [--mib N] [--files N] [--entries N]``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import tempfile
import time

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import MCREATE, MREPL, RFFDG, RFPROC
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE
from lp49fs.node.boot import Node, boot

MiB = 1 << 20


async def timed(rows: dict[str, float], name: str, fn: object) -> None:
    t = time.perf_counter()
    await fn()  # type: ignore[operator]
    rows[name] = time.perf_counter() - t


async def inside(args: argparse.Namespace, rows: dict[str, float]) -> None:
    """The measurements that run as an LP49 process."""
    pid = await lib.spawn("ext2srv", ["ext2srv", "/dev/sdC0/data"], RFPROC | RFFDG)
    while True:  # the /srv entry is made first, then its fd written: wait until it opens
        try:
            fd = await lib.open("/srv/ext2", ORDWR)
            break
        except Error:
            await trio.sleep(0.01)
    await lib.mount(fd, -1, "/mnt", MREPL | MCREATE, "")
    await lib.close(fd)
    n, chunk = args.mib * MiB, args.chunk
    data = os.urandom(chunk)

    async def seq(path: str, create: bool, write: bool) -> None:
        f = await (lib.create(path, ORDWR, 0o644) if create else
                   lib.open(path, OWRITE if write else OREAD))  # fmt: skip
        for off in range(0, n, chunk):
            if write:
                await lib.pwrite(f, data, off)
            else:
                assert len(await lib.pread(f, chunk, off)) == chunk
        await lib.close(f)

    await timed(rows, "ext2 write", lambda: seq("/mnt/big", True, True))
    await timed(rows, "ext2 read", lambda: seq("/mnt/big", False, False))
    await timed(rows, "sd write", lambda: seq("/dev/sdC1/data", False, True))
    await timed(rows, "sd read", lambda: seq("/dev/sdC1/data", False, False))
    small = os.urandom(1024)

    async def creates() -> None:
        await lib.close(await lib.create("/mnt/small", OREAD, DMDIR | 0o755))
        for k in range(args.files):
            f = await lib.create(f"/mnt/small/{k}", ORDWR, 0o644)
            await lib.write(f, small)
            await lib.close(f)

    await timed(rows, "creates", creates)
    if args.entries:

        async def entries() -> None:
            await lib.close(await lib.create("/mnt/many", OREAD, DMDIR | 0o755))
            for k in range(args.entries):
                await lib.close(await lib.create(f"/mnt/many/entry{k:06d}", ORDWR, 0o644))
            f = await lib.open("/mnt/many", OREAD)
            assert len(await lib.dirreadall(f)) == args.entries
            await lib.close(f)

        await timed(rows, "entries", entries)
    await lib.unmount(None, "/mnt")
    f = await lib.open(f"/proc/{pid}/ctl", OWRITE)
    await lib.write(f, b"kill")
    await lib.close(f)


def host(path: pathlib.Path, n: int, chunk: int, rows: dict[str, float]) -> None:
    data = os.urandom(chunk)
    fd = os.open(path, os.O_RDWR)
    try:
        t = time.perf_counter()
        for off in range(0, n, chunk):
            os.pwrite(fd, data, off)
        rows["host pwrite"] = time.perf_counter() - t
        t = time.perf_counter()
        for off in range(0, n, chunk):
            os.pread(fd, chunk, off)
        rows["host pread"] = time.perf_counter() - t
    finally:
        os.close(fd)


async def run(args: argparse.Namespace) -> dict[str, float]:
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        img, scratch = pathlib.Path(tmp) / "e.img", pathlib.Path(tmp) / "s.img"
        size = (args.mib + 64) * MiB + args.files * 8192 + args.entries * 1024
        for p in (img, scratch):
            with open(p, "wb") as f:
                f.truncate(size)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", str(img)], check=True)
        async with boot(ram=32 << 20, disks=(str(img), str(scratch))) as node:
            await run_in(node, args, rows)
        host(scratch, args.mib * MiB, args.chunk, rows)
        subprocess.run(["e2fsck", "-fn", str(img)], check=True, capture_output=True)
    return rows


async def run_in(node: Node, args: argparse.Namespace, rows: dict[str, float]) -> None:
    async def main(argv: list[str]) -> None:
        await inside(args, rows)

    node.programs["bench"] = main
    assert await node.wait(await node.spawn("bench", ["bench"])) == ""


def report(args: argparse.Namespace, rows: dict[str, float]) -> None:
    mb = args.mib * MiB / 1e6
    print(f"{'row':<14}{'seconds':>10}{'rate':>14}{'ext2/sd':>10}{'ext2/host':>11}")
    for name, pair in (("write", ("sd write", "host pwrite")), ("read", ("sd read", "host pread"))):
        t = rows[f"ext2 {name}"]
        print(f"{'ext2 ' + name:<14}{t:>10.3f}{mb / t:>10.1f} MB/s"
              f"{rows[pair[0]] / t:>10.2f}{rows[pair[1]] / t:>11.3f}")  # fmt: skip
        for floor in pair:
            print(f"{floor:<14}{rows[floor]:>10.3f}{mb / rows[floor]:>10.1f} MB/s")
    t = rows["creates"]
    print(f"{'creates':<14}{t:>10.3f}{args.files / t:>10.1f} op/s  ({args.files} x 1 KiB)")
    if "entries" in rows:
        t = rows["entries"]
        print(f"{'entries':<14}{t:>10.3f}{args.entries / t:>10.1f} op/s  ({args.entries} in one "
              "directory, then listed)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--chunk", type=int, default=128 << 10)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--entries", type=int, default=0)
    args = p.parse_args()
    report(args, trio.run(run, args))


if __name__ == "__main__":
    main()
