"""Sequential disk throughput through dossrv against the image file itself, in one run.

    .venv/bin/python bench/disk.py [--mib N] [--small N] [--fat 16|32]

Makes a disk image with one FAT partition (sfdisk + mkfs.fat), boots a node with it (the boot
runs fdisk -p, starts dossrv and mounts the partition on /n/c) and times, as one LP49
process, a sequential write of N MiB (128 KiB writes) to /n/c and the read of it back, and
the creation of ``--small`` files of 1 KiB each.  Every byte takes the whole path: the
program's system call, the core, #M, 9P on a pipe to dossrv, dossrv's pread/pwrite system
calls on /dev/sdC0/dos, #S, the ATA controller model and its interrupt IPC, the image file.

Beside each row, the floors measured in the same run on the same machine: ``os.pwrite`` /
``os.pread`` of an image file of the same size in the same piece size, and mtools
(``mcopy`` in, ``mtype`` out, one ``mcopy`` of all the small files) on the same partition.
Ratios above 1 mean dossrv is faster.  A script, not a test: nothing asserts a time.
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
from lp49fs.ninep import DMDIR, OREAD, OWRITE
from lp49fs.node import disks
from lp49fs.node.boot import boot
from lp49fs.node.servers import stop_servers

MiB = 1 << 20
PIECE = 128 << 10
START = 2048  # the partition's first sector
MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def make_image(path: pathlib.Path, mib: int, fat: int) -> None:
    size = (mib * 2 + 64) * MiB  # room for the big file and the small ones
    with path.open("wb") as f:
        f.truncate(size)
    script = f"label: dos\nstart={START}, type={'c' if fat == 32 else '6'}\n"
    subprocess.run(["sfdisk", "-q", str(path)], input=script.encode(), check=True)
    kib = (size - START * 512) // 1024
    subprocess.run(["mkfs.fat", "-F", str(fat), "--offset", str(START), str(path), str(kib)],
                   check=True, capture_output=True)  # fmt: skip


async def through_dossrv(img: pathlib.Path, mib: int, small: int) -> dict[str, float]:
    """Seconds for each row, measured inside a node."""
    times: dict[str, float] = {}
    piece = bytes(range(256)) * (PIECE // 256)

    async def body(_: list[str]) -> None:
        t = time.perf_counter()
        fd = await lib.create("/n/c/big", OWRITE, 0o644)
        for i in range(mib * MiB // PIECE):
            await lib.pwrite(fd, piece, i * PIECE)
        await lib.close(fd)
        times["write"] = time.perf_counter() - t
        t = time.perf_counter()
        fd = await lib.open("/n/c/big", OREAD)
        got = 0
        while data := await lib.read(fd, PIECE):
            got += len(data)
        await lib.close(fd)
        times["read"] = time.perf_counter() - t
        assert got == mib * MiB, got
        print(f"  dossrv: write {times['write']:.2f} s, read {times['read']:.2f} s", flush=True)
        fd = await lib.create("/n/c/small", OREAD, DMDIR | 0o777)
        await lib.close(fd)
        t = time.perf_counter()
        for i in range(small):
            fd = await lib.create(f"/n/c/small/file{i:05d}.txt", OWRITE, 0o644)
            await lib.write(fd, piece[:1024])
            await lib.close(fd)
        times["small"] = time.perf_counter() - t

    async with boot(disks=(str(img),)) as node, trio.open_nursery() as nursery:
        svs, _ = await disks.start(node, nursery)
        node.programs["diskbench"] = body
        status = await node.run("diskbench")
        assert status == "", status
        await stop_servers(node, svs)
        nursery.cancel_scope.cancel()
    return times


def floors(tmp: pathlib.Path, img: pathlib.Path, mib: int, small: int) -> dict[str, float]:
    """Seconds for the same work on the host: os.pwrite/os.pread, and mtools."""
    out: dict[str, float] = {}
    raw = tmp / "raw.img"
    piece = bytes(range(256)) * (PIECE // 256)
    fd = os.open(raw, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    t = time.perf_counter()
    for i in range(mib * MiB // PIECE):
        os.pwrite(fd, piece, i * PIECE)
    out["write"] = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(mib * MiB // PIECE):
        os.pread(fd, PIECE, i * PIECE)
    out["read"] = time.perf_counter() - t
    os.close(fd)
    src = tmp / "big.src"
    src.write_bytes(piece * (mib * MiB // PIECE))
    part = f"{img}@@{START * 512}"
    t = time.perf_counter()
    subprocess.run(["mcopy", "-i", part, str(src), "::mbig"], env=MTOOLS, check=True)
    out["mcopy write"] = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["mtype", "-i", part, "::mbig"], env=MTOOLS, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    out["mtype read"] = time.perf_counter() - t
    smalldir = tmp / "msmall"
    smalldir.mkdir()
    for i in range(small):
        (smalldir / f"file{i:05d}.txt").write_bytes(piece[:1024])
    t = time.perf_counter()
    subprocess.run(["mcopy", "-i", part, "-s", str(smalldir), "::msmall"], env=MTOOLS,
                   check=True)  # fmt: skip
    out["mcopy small"] = time.perf_counter() - t
    return out


def report(label: str, mine: float, floor: float, what: str) -> None:
    print(f"{label:<28}{mine:>12.1f}{floor:>12.1f}{mine / floor:>8.3f}  {what}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=16, help="size of the sequential file (MiB)")
    ap.add_argument("--small", type=int, default=200, help="small files to create")
    ap.add_argument("--fat", type=int, choices=(16, 32), default=32)
    args = ap.parse_args()
    mb, small = args.mib, args.small
    print(f"FAT{args.fat}, {mb} MiB sequential in {PIECE >> 10} KiB pieces, "
          f"{small} files of 1 KiB in one directory")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        img = tmp / "disk.img"
        make_image(img, mb, args.fat)
        dos = trio.run(through_dossrv, img, mb, small)
        base = floors(tmp, img, mb, small)
    print(f"{'row':<28}{'dossrv':>12}{'floor':>12}{'ratio':>8}  floor is")
    report("sequential write MB/s", mb / dos["write"], mb / base["write"], "os.pwrite of a file")
    report("sequential read MB/s", mb / dos["read"], mb / base["read"], "os.pread of a file")
    report("sequential write MB/s", mb / dos["write"], mb / base["mcopy write"], "mcopy")
    report("sequential read MB/s", mb / dos["read"], mb / base["mtype read"], "mtype")
    report("small creates /s", small / dos["small"], small / base["mcopy small"],
           "mcopy -s of the files")  # fmt: skip


if __name__ == "__main__":
    main()
