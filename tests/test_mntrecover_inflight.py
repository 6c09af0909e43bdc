"""#M recovery with a request held in flight at each kill: the interleavings, made exact.

The server is a real ramfs (its tree in a retained region) run as a supervised LP49 process,
with a *gate*: the test arms it with one request ("walk d", "attach gated") and the server
holds the first such request it reads, without answering, until the test kills it.  So a
request is provably in flight when its link dies, and nothing depends on timing.

The case (docs/recovery.md, the "unknown fid" seen once after a restart): a create whose
parent walk is in flight when ramfs is killed, and the restarted ramfs killed again while
the mount's re-attach on it is in flight (a kill soon after a restart).  The walk must be
repeated on the third ramfs and the create succeed: no ``unknown fid``, and nothing lost.
The test runs with the service bus on and off.
"""

from __future__ import annotations

import pytest
import trio
from lib_helpers import run_as

from lp49fs import lib
from lp49fs.cmd.ramfs import retain, serveposted
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.errors import Ehungup, Error
from lp49fs.lib9p import File
from lp49fs.ninep import DMDIR, ORDWR, OREAD, Twalk
from lp49fs.node.boot import Node, boot
from lp49fs.node.budget import Budget
from lp49fs.node.servers import ServerSpec, Supervised, stop_servers, supervise
from lp49fs.servants.mnt import Mnt
from lp49fs.servants.mntrecover import PREFIX
from lp49fs.servers.ramfs import RamFile, Ramfs
from tests.waiting import DEADLINE as GUARD
from tests.waiting import await_until


class Gate:
    """The one request the gated ramfs holds (``armed``), and who has been held."""

    def __init__(self) -> None:
        self.armed = ""
        self.held: list[str] = []

    async def at(self, what: str) -> None:
        if what == self.armed:
            self.armed = ""
            self.held.append(what)
            await trio.sleep_forever()  # never answered: the test kills this server


class GatedRamfs(Ramfs):
    """ramfs whose attaches (by aname) and walks (by name) pass its gate first."""

    def __init__(self, owner: str, gate: Gate) -> None:
        super().__init__(owner)
        self.gate = gate

    async def attach(self, uname: str, aname: str) -> File:
        await self.gate.at(f"attach {aname}")
        return GatedFile(self, self.root, uname)


class GatedFile(RamFile):
    async def clone(self) -> File:
        return GatedFile(self.fs, self.node, self.uid)

    async def walk1(self, name: str) -> RamFile:
        assert isinstance(self.fs, GatedRamfs)
        await self.fs.gate.at(f"walk {name}")
        f = await super().walk1(name)
        return GatedFile(self.fs, f.node, f.uid)


def walks_pending(n: Node, name: str) -> int:
    """Twalks of ``name`` waiting for their answer on any link of ``#M`` (none answered)."""
    mnt = n.core.devtab.get("M")
    assert isinstance(mnt, Mnt)
    count = 0
    for m in mnt.mnts.values():
        s = m.session
        while hasattr(s, "cur"):  # a recovering session: its live plain one
            s = s.cur
        calls = getattr(s, "_calls", {})
        count += sum(1 for c in calls.values()
                     if isinstance(c.msg, Twalk) and c.msg.wname == (name,))  # fmt: skip
    return count


async def kill(n: Node, sv: Supervised) -> int:
    old = sv.pid
    n.procmgr.note(n.procmgr.bypid[old].proc, "kill")
    await n.wait(old)
    return old


@pytest.mark.parametrize(("srvname", "bus"), [("gramfs", True), ("gramfs", False),
                                              ("import.gramfs", False)],
                         ids=["bus", "nobus", "import"])  # fmt: skip
async def test_a_walk_in_flight_at_a_kill_and_a_re_attach_in_flight_at_the_next(
    srvname: str, bus: bool
) -> None:
    gate = Gate()
    go = trio.Event()
    ready: list[int] = []
    made: list[str] = []
    errors: list[str] = []
    ended: list[str] = []

    async def gramfs(argv: list[str]) -> None:
        fs = GatedRamfs(await lib.whoami(), gate)
        await retain(fs, f"gramfs.{srvname}", "1M")
        await serveposted(srvname, fs, prog="gramfs")

    async def client(argv: list[str]) -> None:
        fd = await lib.open(f"/srv/{srvname}", ORDWR)
        await lib.mount(fd, -1, "/mnt", MREPL | MCREATE, "gated")  # its own attach
        await lib.close(fd)
        await lib.close(await lib.create("/mnt/d", OREAD, DMDIR | 0o755))
        ready.append(1)
        await go.wait()
        for name in ("f", "g"):  # f's parent walk is held by the first ramfs
            try:
                fd = await lib.create(f"/mnt/d/{name}", ORDWR, 0o644)
                await lib.write(fd, name.encode() * 10)
                await lib.close(fd)
                made.append(name)
            except Error as e:
                errors.append(e.ename)

    async def runc() -> None:
        ended.append(await n.run("c", ["c"]))

    async def check() -> None:
        for name in made:
            fd = await lib.open(f"/mnt/d/{name}", OREAD)
            assert await lib.readall(fd) == name.encode() * 10
            await lib.close(fd)

    with trio.fail_after(GUARD):
        async with boot(bus=bus) as n, trio.open_nursery() as nursery:
            n.programs["gramfs"] = gramfs  # type: ignore[assignment]
            n.programs["c"] = client  # type: ignore[assignment]
            sv = Supervised(ServerSpec(srvname, "gramfs", ("gramfs",), "/tmp"))
            budget = Budget("gramfs", limit=100, backoff=0.01)
            await nursery.start(lambda task_status: supervise(n, sv, budget=budget,
                                                              task_status=task_status))  # fmt: skip
            nursery.start_soon(runc)
            await await_until(lambda: ready or ended, "the client's mount and /mnt/d")
            assert ready, ended

            gate.armed = "walk d"
            go.set()
            await await_until(lambda: gate.held == ["walk d"], "the walk of d held by ramfs 1")
            assert walks_pending(n, "d") == 1  # in flight: sent, never answered
            gate.armed = "attach gated"  # the client mount's re-attach, on ramfs 2
            first = await kill(n, sv)
            await await_until(lambda: len(gate.held) == 2, "the re-attach held by ramfs 2")
            assert gate.held[1] == "attach gated" and not ended
            await await_until(lambda: sv.up.is_set() and sv.pid != first, "ramfs 2 up")
            await kill(n, sv)  # the re-attach in flight when its link dies
            await await_until(lambda: ended, "the client's creates")
            assert ended == [""], ended
            if srvname.startswith(PREFIX):  # Rule 8: the walk in flight fails once, g is made
                assert errors == [f"'/mnt/d' {Ehungup}"] and made == ["g"], errors
            else:  # the walk is safe to repeat: f is made on ramfs 3, then g
                assert errors == [] and made == ["f", "g"], errors
            await await_until(lambda: sv.up.is_set(), "ramfs 3 up")
            assert await run_as(n, check) == ""
            await stop_servers(n, [sv])
