"""ramfs as an LP49 process inside a booted node: posted, mounted on /tmp, restarted.

Everything here goes through the real path: programs make system calls through ``lp49fs.lib``
(L4 IPC to the core's Mngr), ramfs serves 9P on a pipe fd, and ``#M`` proxies the mount.

The first test is the regression test of the shutdown hang: a server killed while blocked in
``read`` on its pipe ran lib9p's shielded ``finally`` (close the link), whose ``close`` system
call was an IPC by an already deleted L4 thread, parked forever; leaving ``boot()`` then waited
for that task.  The kernel now ends a deleted thread's IPC (``kernel.kernel`` Rule 2).
"""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing
from conformance import check_rw, check_tree
from lib_helpers import run_as
from lib_tree import LibTree

from lp49fs import lib
from lp49fs.core import sysfile
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers
from tests.waiting import DEADLINE as GUARD


async def posted(node: Node, name: str) -> bool:
    try:
        await sysfile.stat(node.bootproc, f"/srv/{name}")
        return True
    except Error:
        return False


async def run(node: Node, body: object) -> str:
    """Run coroutine function ``body(argv)`` as a program of ``node``; its exit string."""
    node.programs["t"] = body  # type: ignore[assignment]
    return await node.run("t", ["t"])


async def test_leaving_boot_after_killing_a_serving_ramfs_does_not_hang(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with trio.fail_after(GUARD), caplog.at_level(logging.WARNING):
        async with boot() as node:
            pid = await node.spawn("ramfs", ["ramfs", "-S", "r1"])
            while not await posted(node, "r1"):
                await trio.sleep(0.005)
            await trio.testing.wait_all_tasks_blocked()  # ramfs is blocked in read on its pipe
            node.procmgr.note(node.procmgr.bypid[pid].proc, "kill")
            assert await node.wait(pid) == "killed"
    # its interrupted read ends serve like EOF (lib9p Rule 4): no thread dies with a traceback
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_ramfs_is_posted_and_mounted_on_tmp() -> None:
    seen: dict[str, object] = {}

    async def client(argv: list[str]) -> None:
        fd = await lib.create("/tmp/hello", ORDWR, 0o644)
        await lib.write(fd, b"hello, ramfs")
        await lib.close(fd)
        seen["data"] = await lib.readall(await lib.open("/tmp/hello", OREAD))
        seen["srv"] = [d.name for d in await lib.dirreadall(await lib.open("/srv", OREAD))]
        seen["tmp"] = (await lib.stat("/tmp/hello")).type
        ns = await lib.open(f"/proc/{await lib.getpid()}/ns", OREAD)
        seen["ns"] = (await lib.readall(ns)).decode()

    async with boot() as node, trio.open_nursery() as n:
        svs = await start_servers(node, n)
        assert await run(node, client) == ""
        await stop_servers(node, svs)
    assert seen["data"] == b"hello, ramfs"
    assert "ramfs" in seen["srv"]  # type: ignore[operator]
    assert seen["tmp"] == ord("M")
    assert "mount -c #s/ramfs /tmp \n" in seen["ns"]  # type: ignore[operator]


async def test_a_killed_server_is_restarted_and_old_clients_carry_on() -> None:
    """ramfs -r keeps the tree and #M re-walks the open fid (mntrecover): the old client's
    next read after the restart reads what it wrote before (the two clients' reads may end
    in either order: the old one's waits for the re-walk)."""
    events: dict[str, str] = {}
    opened, killed, old_done = trio.Event(), trio.Event(), trio.Event()

    async def old_client(argv: list[str]) -> None:
        fd = await lib.create("/tmp/x", ORDWR, 0o644)
        await lib.write(fd, b"before")
        opened.set()
        await killed.wait()
        events["old"] = (await lib.pread(fd, 10, 0)).decode()
        await lib.close(fd)
        old_done.set()

    async def new_client(argv: list[str]) -> None:
        fd = await lib.create("/tmp/y", ORDWR, 0o644)
        await lib.write(fd, b"after")
        events["new"] = (await lib.pread(fd, 10, 0)).decode()

    async with boot() as node, trio.open_nursery() as n:
        (sv,) = await start_servers(node, n)
        first = sv.pid
        n.start_soon(run, node, old_client)
        await opened.wait()
        node.procmgr.note(node.procmgr.bypid[first].proc, "kill")
        with trio.fail_after(GUARD):
            await node.wait(first)
            killed.set()
            while not (sv.up.is_set() and sv.pid != first):
                await trio.sleep(0.01)
            assert await run(node, new_client) == ""
            await old_done.wait()  # before ramfs stops for good
            await stop_servers(node, [sv])
    assert sv.starts == 2
    assert events == {"old": "before", "new": "after"}


async def test_tree_suite_over_ramfs_mounted_through_mnt_by_system_calls() -> None:
    """check_tree + check_rw on /tmp (ramfs via #M) through lib calls of an LP49 process."""

    async def body() -> None:
        await lib.close(await lib.create("/tmp/f", ORDWR, 0o644))
        await lib.create("/tmp/d", OREAD, DMDIR | 0o755)
        await lib.close(await lib.create("/tmp/d/g", ORDWR, 0o644))
        tree = LibTree("/tmp")
        await check_tree(tree, {"": "dir", "f": "file", "d": "dir", "d/g": "file"})
        await check_rw(tree, "")
        await check_rw(tree, "d")
        root = await lib.stat("/tmp")
        entries = await lib.dirreadall(await lib.open("/tmp", OREAD))
        # mntdirfix: every entry as this side sees it, type M and the mount's dev
        assert {(e.type, e.dev) for e in entries} == {(ord("M"), root.dev)}
        assert root.type == ord("M")

    with trio.fail_after(GUARD):
        async with boot() as node, trio.open_nursery() as n:
            svs = await start_servers(node, n)
            assert await run_as(node, body) == ""
            await stop_servers(node, svs)
