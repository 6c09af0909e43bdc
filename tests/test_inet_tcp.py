"""The own TCP between two booted nodes on a hub: ports after TIME_WAIT, window scaling,
fast retransmit, and shutdown of a node whose peer is gone.

The nodes and the hub are ``tests/test_inet.py``'s ``pair``; everything the programs do goes
through /net files and L4 IPC system calls, and the tests look into the stacks' Tcbs only to
check what the segments did.
"""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing
from lib_helpers import run_as

from hwsim.hub import Hub
from hwsim.nic import Nic
from lp49fs import lib
from lp49fs.core.proc import RFFDG, RFPROC
from lp49fs.errors import Error
from lp49fs.ninep import OREAD
from lp49fs.node.boot import SHUTDOWN_GRACE, Node, boot
from lp49fs.servants import OWNSTACK
from lp49fs.servants.inet.tcb import MSL, Tcb
from tests.test_inet import A, B, pair, tcp_transfer
from tests.waiting import await_until


def tcbs(n: Node) -> list[Tcb]:
    tcp = n.core.devtab["I"].stack.tcp  # type: ignore[attr-defined]
    return [] if tcp is None else list(tcp.conns.values())


async def local_port(fd: int) -> str:
    """The local port of the conversation whose data file is ``fd``."""
    d = (await lib.fd2path(fd)).rsplit("/", 1)[0]
    return (await lib.readall(await lib.open(f"{d}/local", OREAD))).decode().split("!")[1].strip()


async def test_port_reused_after_time_wait(tmp_path: os.PathLike[str]) -> None:
    """The side that closes first holds its port in TIME_WAIT (a second call from it is
    ``address in use``) and gives it back once TIME_WAIT ends, even though a lower-numbered
    conversation is what the next clone takes."""
    async with pair(f"{tmp_path}/hub") as (a, b, _):

        async def server() -> None:
            _ctl, d = await lib.announce("tcp!*!7100")
            for _ in range(2):
                lctl, ld = await lib.listen(d)
                fd = await lib.accept(lctl, ld)
                while await lib.read(fd, 100):
                    pass  # until the caller's FIN: the caller closes first
                await lib.close(fd)
                await lib.close(lctl)

        seen: list[str] = []

        async def client() -> None:
            lctl, _d = await lib.announce("tcp!*!7200")  # a lower conversation, closed below
            fd = await lib.dial(f"tcp!{B}!7100", "6001")
            seen.append(await local_port(fd))
            await lib.write(fd, b"hello")
            await lib.close(fd)
            await await_until(lambda: [t.state for t in tcbs(a)] == ["Time_wait"], "TIME_WAIT")
            with pytest.raises(Error, match="address in use"):
                await lib.dial(f"tcp!{B}!7100", "6001")
            await lib.close(lctl)
            await await_until(lambda: not tcbs(a), "the end of TIME_WAIT", timeout=4 * MSL + 5)
            fd = await lib.dial(f"tcp!{B}!7100", "6001")
            seen.append(await local_port(fd))
            await lib.close(fd)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, server)
            await trio.testing.wait_all_tasks_blocked()
            await run_as(a, client)
        assert seen == ["6001", "6001"]


async def test_window_scaling_and_fast_retransmit(tmp_path: os.PathLike[str]) -> None:
    """Both SYNs offer window scaling, so the window grows past 64 KiB; with 3% loss the
    sender repairs holes by fast retransmit (three duplicate ACKs), not only by timeouts."""
    async with pair(f"{tmp_path}/hub", loss=0.03, seed=5) as (a, b, hub):
        seen: list[Tcb] = []

        async def watch() -> None:
            await await_until(lambda: [t for t in tcbs(a) if t.state == "Established"], "a call")
            seen.extend(tcbs(a))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            await tcp_transfer(a, b, 1 << 20)
        t = seen[0]
        assert t.snd_scale == 3 and t.rcv_scale == 3
        assert t.cc.counts["fastrexmit"] > 0, (t.cc.counts, t.counts, hub.counts)
        assert hub.counts["lost"] > 0


async def test_shutdown_with_the_peer_gone_ends_after_the_grace(tmp_path: os.PathLike[str]) -> None:
    """a imports b's /dev and a process of a holds b's sysname open when b's card is
    unplugged.  a's shutdown ends once its processes' grace is over (their closes are cut
    short), not when the 9P ping (peer_timeout 60 s here) or TCP's retransmission timeout
    would end the waiting clunk: the guard is far below both."""
    path = f"{tmp_path}/hub"
    kw = {"ram": 16 << 20, "config": OWNSTACK, "nics": [f"hub:{path}"]}
    async with trio.open_nursery() as nursery:
        await nursery.start(Hub(path).serve)
        async with boot("b", ips=[f"{B}/24"], **kw) as b:  # type: ignore[arg-type]
            await b.spawn("exportfs", ["exportfs", "-l", "tcp!*!17007"])
            await trio.testing.wait_all_tasks_blocked()
            with trio.fail_after(10 * SHUTDOWN_GRACE):
                async with boot("a", ips=[f"{A}/24"], peer_timeout=60, **kw) as a:  # type: ignore[arg-type]  # fmt: skip

                    async def hold() -> None:
                        await lib.spawn("import", ["import", B, "/dev", "/n"], RFPROC | RFFDG)
                        assert (await lib.wait()).msg == ""
                        assert await lib.read(await lib.open("/n/sysname", OREAD), 10) == b"b"
                        await trio.sleep_forever()  # the fd stays open until the shutdown

                    nursery.start_soon(run_as, a, hold)
                    await await_until(lambda: a.core.devtab["M"].mnts, "the import")  # type: ignore[attr-defined]  # fmt: skip
                    await trio.testing.wait_all_tasks_blocked()
                    nic = b.machine.bus.get("ether0")
                    assert isinstance(nic, Nic)
                    nic.detach()  # b is gone: nothing it sends reaches the hub
        nursery.cancel_scope.cancel()
