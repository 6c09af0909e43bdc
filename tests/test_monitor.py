"""The server monitor (lp49fs.node.monitor): health checks that kill a server which stops
answering, and every server's state in /dev/servers and the ``servers`` program.

Real processes: an LP49 server that serves ramfs until it freezes (its reader stops in the
middle of a request, the process stays alive), and a real ``lp49 u9fs`` host process stopped
with SIGSTOP.  Neither exits by itself; the health check kills each, its supervisor restarts
it, and the mount that was there works again (``#M`` recovery).
"""

from __future__ import annotations

import os
import pathlib
import signal

import trio
from lib_helpers import run_as

from lp49fs import lib
from lp49fs.cmd.ramfs import serveposted
from lp49fs.lib9p import File
from lp49fs.ninep import ORDWR, OREAD, Dir
from lp49fs.node.boot import Node, boot
from lp49fs.node.config import HostServerConf
from lp49fs.node.hostservers import start_hostservers
from lp49fs.node.servers import ServerSpec, start_servers, stop_servers
from lp49fs.servers.ramfs import RamFile, Ramfs
from tests.waiting import DEADLINE as GUARD
from tests.waiting import await_until

PERIOD = 0.3  # health checks in these tests: every 0.3 s, answers within 0.3 s
HOSTPERIOD = 2.0  # a host server's check dials a fresh connection: room for a loaded host
FROZEN = {"on": False, "runs": 0}


class FreezingFile(RamFile):
    """A ramfs file whose stat never returns once FROZEN is on, in the first run only."""

    async def stat(self) -> Dir:
        if FROZEN["on"] and FROZEN["runs"] == 1:
            await trio.sleep_forever()  # inline: the server's reader stops here
        return await super().stat()

    async def walk1(self, name: str) -> RamFile:
        f = await super().walk1(name)
        return FreezingFile(f.fs, f.node, f.uid)

    async def clone(self) -> File:
        return FreezingFile(self.fs, self.node, self.uid)


class FreezingFs(Ramfs):
    async def attach(self, uname: str, aname: str) -> File:
        return FreezingFile(self, self.root, uname)


async def freezer(argv: list[str]) -> None:
    FROZEN["runs"] += 1
    await serveposted("frz", FreezingFs())


async def text(node: Node, path: str) -> str:
    out: list[str] = []

    async def body() -> None:
        out.append((await lib.readall(await lib.open(path, OREAD))).decode())

    await run_as(node, body)
    return out[0]


async def test_a_server_that_stops_answering_is_killed_and_restarted() -> None:
    FROZEN.update(on=False, runs=0)
    with trio.fail_after(GUARD):
        async with boot() as node, trio.open_nursery() as n:
            node.programs["frz"] = freezer  # type: ignore[assignment]
            spec = ServerSpec("frz", "frz", ("frz",), "/n")
            (sv,) = await start_servers(node, n, (spec,), health=PERIOD)
            first = sv.pid
            line = (await text(node, "/dev/servers")).split()
            assert line[:6] == ["frz", "lp49", "up", str(first), "1", "0"]
            FROZEN["on"] = True  # the next stat (the health check's) never comes back
            await await_until(lambda: sv.pid not in (0, first) and sv.up.is_set(), "a restart")
            assert sv.budget is not None and sv.budget.why.startswith("health check: no answer")
            status = await text(node, "/dev/servers")
            assert status.startswith(f"frz lp49 up {sv.pid} 2 1 'health check: no answer")

            async def works() -> None:  # the mount on /n is the recovered one
                fd = await lib.create("/n/after", ORDWR, 0o644)
                await lib.write(fd, b"ok")
                await lib.close(fd)
                assert (await lib.stat("/n/after")).length == 2

            await run_as(node, works)
            out: list[str] = []

            async def table() -> None:
                r, w = await lib.pipe()
                pid = await lib.spawn("servers", ["servers"], fds={1: w})
                await lib.close(w)
                out.append((await lib.readall(r)).decode())
                await lib.wait()
                assert pid

            await run_as(node, table)
            head, row = out[0].splitlines()
            assert head.split()[:3] == ["NAME", "KIND", "STATE"]
            assert row.split()[:6] == ["frz", "lp49", "up", str(sv.pid), "2", "1"]
            assert "health check: no answer to 9P within 0.3 s: pid" in row
            await stop_servers(node, [sv])


async def test_a_stopped_host_server_is_killed_restarted_and_its_mount_recovers(
    tmp_path: pathlib.Path,
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    (share / "hello").write_bytes(b"hello from linux\n")
    conf = HostServerConf("unix", "u9fs", (str(share),), "/n")
    seen: list[bytes] = []
    opened, read_again = trio.Event(), trio.Event()

    async def client(argv: list[str]) -> None:
        fd = await lib.open("/n/hello", OREAD)
        seen.append(await lib.pread(fd, 100, 0))
        opened.set()
        await read_again.wait()
        seen.append(await lib.pread(fd, 100, 0))  # the same open fd, on the new u9fs

    with trio.fail_after(GUARD):
        async with boot() as node, trio.open_nursery() as n:
            (hs,) = await start_hostservers(node, n, (conf,), health=HOSTPERIOD)
            node.programs["c"] = client  # type: ignore[assignment]
            n.start_soon(node.run, "c", ["c"])
            await opened.wait()
            await await_until(hs.up.is_set, "u9fs up")
            first = hs.pid
            os.kill(first, signal.SIGSTOP)  # alive, silent: only the health check can tell
            await await_until(lambda: hs.up.is_set() and hs.pid not in (0, first), "restart")
            assert hs.last_exit.startswith("health check: no answer to 9P within 2 s")
            read_again.set()
            await await_until(lambda: len(seen) == 2, "the second read")
            assert seen == [b"hello from linux\n"] * 2
            await await_until(hs.up.is_set, "u9fs up")
            line = (await text(node, "/dev/servers")).split()
            assert line[:3] == ["unix", "host", "up"]
            assert int(line[4]) == int(line[5]) + 1 >= 2  # runs = restarts + 1
            n.cancel_scope.cancel()
