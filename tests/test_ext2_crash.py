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
