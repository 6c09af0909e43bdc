"""The service bus (docs/servicebus.md): granted fds read and write ramfs without the core, and
the channel is a capability for one fid that dies with the fd, the unmount and the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from kernel.types import IpcError, Msg, R, StringItem, ThreadId, W
from lp49fs import lib
from lp49fs.errors import Ebadusefd, Enobus, Error
from lp49fs.lib import bus
from lp49fs.lib.items import mapitem
from lp49fs.lib.uctx import UThread
from lp49fs.lib.workers import run
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.config import parse
from lp49fs.node.servers import Supervised, start_servers, stop_servers
from lp49fs.syscall import ERR, Bus, Sys
from tests.lib_helpers import run_as
from tests.waiting import await_until


@pytest.fixture
async def bnode() -> AsyncIterator[tuple[Node, list[Supervised]]]:
    """A node with the bus on and its servers (ramfs on /tmp) running."""
    with trio.fail_after(30):  # a guard against a hang, never a timing assertion
        async with boot(bus=True) as n, trio.open_nursery() as nursery:
            svs = await start_servers(n, nursery)
            yield n, svs
            await stop_servers(n, svs)


async def _file(text: bytes = b"0123456789abcdef") -> None:
    fd = await lib.create("/tmp/f", ORDWR, 0o644)
    await lib.write(fd, text)
    await lib.close(fd)


def _ramfs_idle(node: Node) -> bool:
    """ramfs's pipe read is held in the core and none of its writes is: it has sent every
    reply (the unwaited Rclunk of ``_file``'s close too) and waits for the next request."""
    pis = node.procmgr.bytid
    held = [(pis[t].proc.name, c.msg.label) for t, c in list(node.mngr.serving.items())
            if c.msg is not None and t in pis]  # fmt: skip
    return ("ramfs", Sys.READ) in held and ("ramfs", Sys.WRITE) not in held


async def raw_read(tid: ThreadId, fid: int, badge: int, label: int = Bus.READ) -> Msg | None:
    """A bus request made by hand (None: the endpoint is gone)."""

    async def op(ut: UThread) -> Msg | None:
        addr = ut.buf
        await ut.prefault(addr, 16)
        m = Msg(label, (7, fid, badge, 0, addr, 16), (mapitem(addr, 16, R | W),))
        try:
            return await ut.thread.call(tid, m)
        except IpcError:
            return None

    return await run(op)


def _ename(r: Msg | None) -> str:
    assert r is not None and r.label == ERR, r
    it = r.items[0]
    assert isinstance(it, StringItem)
    return it.data.decode()


async def test_reads_and_writes_of_a_granted_fd_skip_the_core(bnode: tuple[Node, list]) -> None:
    node = bnode[0]

    async def body() -> None:
        await _file()
        fd = await lib.open("/tmp/f", ORDWR)
        assert bus.chan(fd) is not None
        await await_until(lambda: _ramfs_idle(node), "ramfs waiting for its next 9P request")
        before = node.mngr.calls  # ramfs's replies are out: from here only these calls count
        assert await lib.read(fd, 4) == b"0123"
        assert await lib.read(fd, 4) == b"4567"
        assert await lib.pread(fd, 3, 10) == b"abc"
        assert await lib.write(fd, b"XY") == 2  # at the fd's offset, 8
        assert await lib.pwrite(fd, b"Z", 0) == 1
        assert node.mngr.calls == before  # not one of them crossed the core
        assert await lib.seek(fd, -2, 2) == 14
        assert await lib.read(fd, 10) == b"ef"
        await lib.close(fd)
        fd = await lib.open("/tmp/f", OREAD)
        assert bus.chan(fd) is not None
        assert await lib.readall(fd) == b"Z1234567XYabcdef"
        with pytest.raises(Error, match=Ebadusefd):  # the server checks the open mode
            await lib.write(fd, b"no")
        await lib.close(fd)

    assert await run_as(node, body) == ""


async def test_dup_hands_the_offset_back_to_the_core(bnode: tuple[Node, list]) -> None:
    async def body() -> None:
        await _file()
        fd = await lib.open("/tmp/f", OREAD)
        assert await lib.read(fd, 5) == b"01234"
        fd2 = await lib.dup(fd)
        assert bus.chan(fd) is None and bus.chan(fd2) is None
        assert await lib.read(fd2, 3) == b"567"  # the shared Chan's offset
        assert await lib.read(fd, 3) == b"89a"
        await lib.close(fd)
        await lib.close(fd2)

    assert await run_as(bnode[0], body) == ""


async def test_a_process_without_the_grant_cannot_use_the_channel(
    bnode: tuple[Node, list],
) -> None:
    node = bnode[0]
    seen: list[tuple[ThreadId, int, int]] = []
    holder_open = trio.Event()
    done = trio.Event()

    async def holder() -> None:
        await _file()
        fd = await lib.open("/tmp/f", OREAD)
        ch = bus.chan(fd)
        assert ch is not None
        seen.append((ch.tid, ch.fid, ch.badge))
        holder_open.set()
        await done.wait()
        r = await raw_read(ch.tid, ch.fid, ch.badge)  # the holder's own badge works
        assert r is not None and r.label != ERR and r.words == (7, 16)
        await lib.close(fd)
        assert _ename(await raw_read(ch.tid, ch.fid, ch.badge)) == Enobus  # dies with the fd

    async def thief() -> None:
        await holder_open.wait()
        tid, fid, badge = seen[0]
        assert _ename(await raw_read(tid, fid, badge ^ 1)) == Enobus  # a guessed badge
        assert _ename(await raw_read(tid, fid, 12345)) == Enobus

        async def grant(ut: UThread) -> None:  # a process cannot grant itself: not the Mngr
            await ut.thread.send(tid, Msg(Bus.GRANT, (fid, 12345)))

        await run(grant)
        assert _ename(await raw_read(tid, fid, 12345)) == Enobus
        done.set()

    async with trio.open_nursery() as n:
        n.start_soon(run_as, node, holder)
        n.start_soon(run_as, node, thief)


async def test_unmount_revokes_and_the_fd_goes_on_by_the_core(bnode: tuple[Node, list]) -> None:
    async def body() -> None:
        await _file()
        fd = await lib.open("/tmp/f", OREAD)
        ch = bus.chan(fd)
        assert ch is not None and await lib.read(fd, 2) == b"01"
        await lib.unmount(None, "/tmp")
        assert _ename(await raw_read(ch.tid, ch.fid, ch.badge)) == Enobus
        assert await lib.read(fd, 3) == b"234"  # classic path, from where the channel stopped
        assert bus.chan(fd) is None
        await lib.close(fd)

    assert await run_as(bnode[0], body) == ""


async def test_a_server_restart_ends_the_channel(bnode: tuple[Node, list]) -> None:
    node, svs = bnode
    ramfs = next(sv for sv in svs if sv.spec.srvname == "ramfs")
    opened, killed = trio.Event(), trio.Event()

    async def body() -> None:
        await _file()
        fd = await lib.open("/tmp/f", OREAD)
        ch = bus.chan(fd)
        assert ch is not None
        opened.set()
        await killed.wait()
        assert await raw_read(ch.tid, ch.fid, ch.badge) is None  # its endpoint is gone
        # the fd falls back to the classic path, where #M recovery (servants/mntrecover.py)
        # has walked and opened the file again on the restarted ramfs, which kept /tmp
        assert await lib.pread(fd, 4, 0) == b"0123"
        assert bus.chan(fd) is None
        await lib.close(fd)

    async with trio.open_nursery() as n:
        n.start_soon(run_as, node, body)
        await opened.wait()
        old = ramfs.pid
        pi = node.procmgr.bypid[old]
        node.procmgr.note(pi.proc, "kill")
        await node.wait(old)
        await await_until(lambda: ramfs.pid not in (0, old) and ramfs.up.is_set(), "a new ramfs")
        killed.set()


async def test_the_classic_path_is_a_node_switch() -> None:
    assert parse("[node]\nbus = false\n").bus is False
    assert parse("[node]\nbus = true\n").bus is True
    async with boot(bus=False) as n, trio.open_nursery() as nursery:
        svs = await start_servers(n, nursery)

        async def body() -> None:
            await _file()
            fd = await lib.open("/tmp/f", OREAD)
            assert bus.chan(fd) is None
            assert await lib.read(fd, 4) == b"0123"

        assert await run_as(n, body) == ""
        await stop_servers(n, svs)
