"""ramfs keeps its tree in a retained region (ramlog): a killed ramfs comes back with it.

Real processes of a booted node: the supervised ramfs (``ramfs -S ramfs -r 50%``) is killed
with the ``kill`` note while a client writes in a loop; the supervisor starts it again on the
same region, and every write the client was answered for reads back, with the same qids.
The rollback test drives the log's two stores (body, then head) in a real process on a real
region and is killed between them: the change that never committed is not there afterwards.
"""

from __future__ import annotations

import os

import trio
from lib_helpers import node, rnode, run_as

from lp49fs import lib
from lp49fs.errors import Efull, Erestarted, Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import Supervised, start_servers, stop_servers
from lp49fs.servers import ramops
from lp49fs.servers.ramfs import Ramfs, now
from lp49fs.servers.ramlog import Journal
from tests.waiting import DEADLINE as GUARD
from tests.waiting import await_until

__all__ = ["node", "rnode"]  # the fixtures


async def restarted(node: Node, sv: Supervised, old: int) -> None:
    node.procmgr.note(node.procmgr.bypid[old].proc, "kill")
    await node.wait(old)
    await await_until(lambda: sv.up.is_set() and sv.pid not in (0, old), "ramfs restarted")


async def test_every_acknowledged_write_survives_kills_of_ramfs() -> None:
    acked: dict[str, bytes] = {}
    stop, finished = trio.Event(), trio.Event()
    errors: list[str] = []

    async def writer(argv: list[str]) -> None:
        await lib.create("/tmp/d", OREAD, DMDIR | 0o755)
        i = 0
        while not stop.is_set():
            name = f"/tmp/d/f{i % 40}"
            data = os.urandom(1 + i * 97 % 20000)
            try:
                fd = await lib.create(name, ORDWR, 0o644)
                await lib.write(fd, data)
                await lib.close(fd)
                acked[name] = data
            except Error as e:
                errors.append(e.ename)  # a write in flight at the kill (mntrecover Rule 2)
            i += 1
            await trio.sleep(0)
        finished.set()

    with trio.fail_after(GUARD):
        async with boot() as n, trio.open_nursery() as nursery:
            (sv,) = await start_servers(n, nursery)
            n.programs["w"] = writer  # type: ignore[assignment]
            nursery.start_soon(n.run, "w", ["w"])
            for _ in range(3):
                await await_until(lambda: len(acked) >= 5, "writes acknowledged")
                before = dict(acked)
                await restarted(n, sv, sv.pid)
                for name in before:  # acknowledged before the kill
                    assert acked.get(name) is not None
            stop.set()
            await finished.wait()
            # at most one error per restart, from the request in flight (mntrecover Rule 2);
            # never "unknown fid", even when a kill lands on the re-attach after the last one
            # (tests/test_mntrecover_inflight.py makes that interleaving exact)
            assert set(errors) <= {Erestarted} and len(errors) <= 3, errors
            qids: dict[str, int] = {}

            async def check() -> None:
                for name, data in acked.items():
                    fd = await lib.open(name, OREAD)
                    assert await lib.readall(fd) == data, name
                    qids[name] = (await lib.fstat(fd)).qid.path
                    await lib.close(fd)

            await run_as(n, check)
            await restarted(n, sv, sv.pid)  # once more: the qids stay
            after = dict(qids)
            await run_as(n, check)
            assert qids == after
            await stop_servers(n, [sv])
            assert "ramfs.ramfs" not in n.hvm.retained.regions  # freed when removed for good


async def test_a_change_cut_before_its_commit_is_rolled_back(node: Node) -> None:
    cut = trio.Event()

    async def victim(argv: list[str]) -> None:
        fs = Ramfs("eve")
        j = Journal(await lib.segattach("rb", 256 << 10))
        assert not await fs.retain(j)
        f = await fs.commit(ramops.Create(1, 2, "f", 0o644, "eve", "eve", now()))
        await fs.commit(ramops.Write(f.path, 0, "eve", now(), b"committed"))
        op = ramops.Write(f.path, 0, "eve", now(), b"CUT SHORT")
        body = ramops.encode(op)
        at = 64 + j.pos  # HDRSIZE: the log's record slot
        await j.region.write(at + 12, body)  # Rule 1: the body is stored, the head is not
        cut.set()
        await trio.sleep_forever()

    node.programs["v"] = victim  # type: ignore[assignment]
    pid = await node.spawn("v", ["v"])
    with trio.fail_after(GUARD):
        await cut.wait()
    node.procmgr.note(node.procmgr.bypid[pid].proc, "kill")
    await node.wait(pid)

    async def after() -> None:
        fs = Ramfs("eve")
        j = Journal(await lib.segattach("rb", 0))
        assert await fs.retain(j)
        assert j.records == 2
        (f,) = fs.root.children.values()
        assert f.data is not None and f.data.read(0, 100) == b"committed"
        # a torn head: length and crc of the next record written, its epoch word not
        op = ramops.Write(f.path, 0, "eve", now(), b"torn")
        body = ramops.encode(op)
        at = 64 + j.pos
        await j.region.write(at + 12, body)
        await j.region.write(at, len(body).to_bytes(4, "little") + b"\1\2\3\4")
        again = Ramfs("eve")
        await again.retain(Journal(j.region))
        (g,) = again.root.children.values()
        assert g.data is not None and g.data.read(0, 100) == b"committed"

    assert await run_as(node, after) == ""


async def test_checkpoints_keep_the_tree_and_a_full_region_refuses_writes(node: Node) -> None:
    async def body() -> None:
        fs = Ramfs("eve")
        j = Journal(await lib.segattach("small", 128 << 10))
        await fs.retain(j)
        f = await fs.commit(ramops.Create(1, 2, "f", 0o644, "eve", "eve", now()))
        for i in range(40):  # 40 x 4 KiB rewrites of one block: several checkpoints
            await fs.commit(ramops.Write(f.path, 0, "eve", now(), bytes([i]) * 4096))
        assert j.epoch > 2
        again = Ramfs("eve")
        await again.retain(Journal(j.region))
        (g,) = again.root.children.values()
        assert g.data is not None and g.data.read(0, 4096) == bytes([39]) * 4096
        assert g.vers == f.vers and g.mtime == f.mtime
        try:
            for i in range(100):  # new blocks until the region is full
                await fs.commit(ramops.Write(f.path, (i + 1) * 8192, "eve", now(), b"x" * 8192))
        except Error as e:
            assert e.ename == Efull
        else:
            raise AssertionError("a 128 KiB region held 800 KiB")
        await fs.commit(ramops.Trunc(f.path, 0, "eve", now()))  # shrinking still works

    assert await run_as(node, body) == ""


async def test_a_removed_file_still_open_takes_writes_unlogged(rnode: Node) -> None:
    """Rule 5 of ramfs with a log: the file is out of the tree, its open fid still writes."""

    async def body() -> None:
        fd = await lib.create("/tmp/gone", ORDWR, 0o644)
        await lib.remove("/tmp/gone")
        assert await lib.write(fd, b"still here") == 10
        assert await lib.pread(fd, 20, 0) == b"still here"
        await lib.close(fd)

    assert await run_as(rnode, body) == ""
