"""Crash: ext2srv killed at an arbitrary point of a write loop; after ``e2fsck -fy`` every
file whose writes and clunk were acknowledged has its exact bytes (Rule 1 of ``cache``:
each reply follows the writes it needs, in an order e2fsck can repair)."""

from __future__ import annotations

import pathlib
import random

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR
from lp49fs.node.boot import boot
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
