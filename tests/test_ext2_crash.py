"""Crash: ext2srv killed at an arbitrary point of a write loop; after ``e2fsck -fy`` every
file whose writes and clunk were acknowledged has its exact bytes (Rule 1 of ``cache``:
each reply follows the writes it needs, in an order e2fsck can repair)."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, Dir
from lp49fs.node.boot import boot
from lp49fs.servers.ext2.fs import Ext2
from lp49fs.servers.ext2.srv import Ext2srv
from tests.conformance import ninep_tree
from tests.ext2_helpers import GUARD, cat, fsck, mkimage, mount_ext2, tool
from tests.lib_helpers import start
from tests.waiting import await_until


async def test_kill_during_a_write_loop_loses_nothing_acknowledged(
    tmp_path: pathlib.Path,
) -> None:
    img = mkimage(tmp_path / "k.img", 8 << 20, 1024)
    rnd = random.Random(9)
    acked: dict[str, bytes] = {}
    pid: list[int] = []

    async def writer() -> None:
        pid.append(await mount_ext2())
        k = 0
        try:
            while True:
                name, data = f"/f{k}", rnd.randbytes(rnd.choice([10, 3000, 40_000]))
                fd = await lib.create(f"/mnt{name}", ORDWR, 0o644)
                await lib.write(fd, data[: len(data) // 2])
                await lib.write(fd, data[len(data) // 2 :])
                await lib.close(fd)
                acked[name] = data
                k += 1
        except Error:
            pass  # the server is gone: hungup

    with trio.fail_after(GUARD):
        async with boot(ram=16 << 20, disks=(str(img),)) as node:
            wpid, box = await start(node, writer)
            await await_until(lambda: len(acked) >= 25, "25 files acknowledged")
            node.procmgr.note(node.procmgr.bypid[pid[0]].proc, "kill")
            await node.wait(wpid)
            assert not box, box
    tool("e2fsck", "-fy", str(img), ok=(0, 1))
    fsck(img)
    assert len(acked) >= 25
    for name, data in acked.items():
        assert cat(img, name) == data, name


async def test_interrupted_writers_leave_the_image_clean(tmp_path: pathlib.Path) -> None:
    """A client interrupted in the middle of its writes (a note: #M flushes the request)
    must not leave half a request behind: ext2srv finishes each request it started, so
    e2fsck -fn (no repair) finds nothing, and what the client was told is there."""
    img = mkimage(tmp_path / "i.img", 16 << 20, 1024)
    chunks: list[int] = []
    with trio.fail_after(GUARD):
        async with boot(ram=16 << 20, disks=(str(img),)) as node:
            pids: list[int] = []

            async def server() -> None:
                pids.append(await mount_ext2())
                await trio.sleep_forever()  # serves until the node is killed

            await start(node, server)
            await await_until(lambda: pids, "ext2srv mounted")
            for k in range(6):
                chunks.clear()

                async def writer(k: int = k) -> None:
                    fd = await lib.create(f"/mnt/w{k}", ORDWR, 0o644)
                    n = 0
                    while True:
                        await lib.write(fd, bytes([k]) * 100_000)
                        n += 1
                        chunks.append(n)

                wpid, _box = await start(node, writer)
                await await_until(lambda k=k: len(chunks) >= 3 + k, "some writes acknowledged")
                node.procmgr.note(node.procmgr.bypid[wpid].proc, "interrupt")
                await node.wait(wpid)
    fsck(img)


class Recording:
    """An image on the host as ext2srv's Disk, keeping every write (offset, bytes) in order."""

    def __init__(self, path: pathlib.Path) -> None:
        self.fd = os.open(path, os.O_RDWR)
        self.size, self.readonly = os.fstat(self.fd).st_size, False
        self.writes: list[tuple[int, bytes]] = []

    async def pread(self, offset: int, n: int) -> bytes:
        return os.pread(self.fd, n, offset)

    async def pwrite(self, offset: int, data: bytes) -> None:
        self.writes.append((offset, data))
        os.pwrite(self.fd, data, offset)


async def test_a_truncation_cut_short_leaves_no_freed_block_pointed_at(
    tmp_path: pathlib.Path,
) -> None:
    """A server killed between two writes of a truncation, then restarted without e2fsck,
    must not find the file still pointing at blocks the bitmap has freed (it would give
    them to the next file written: two files sharing blocks).  Each prefix of the
    truncation's writes is applied to the image as it was before, and checked."""
    img = mkimage(tmp_path / "t.img", 4 << 20, 1024)
    disk = Recording(img)

    async def opener(spec: str) -> Ext2:
        return await Ext2.mount(disk)

    async with ninep_tree(Ext2srv("glenda", opener), "glenda") as t:
        await t.create("f", 0o644)
        await t.write("f", random.Random(3).randbytes(40 << 10))  # 40 blocks, an indirect
        before = img.read_bytes()
        disk.writes.clear()
        await t.wstat("f", dataclasses.replace(Dir.nulldir(), length=0))
    os.close(disk.fd)
    writes = disk.writes
    assert len(writes) >= 2, writes
    for k in range(1, len(writes)):
        cut = bytearray(before)
        for off, data in writes[:k]:
            cut[off : off + len(data)] = data
        part = tmp_path / f"cut{k}.img"
        part.write_bytes(cut)
        blocks = tool("debugfs", "-R", "blocks /f", str(part)).split()
        for b in blocks:
            assert "marked in use" in tool("debugfs", "-R", f"testb {b}", str(part)), (k, b)
