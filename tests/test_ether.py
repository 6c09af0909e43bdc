"""#l ether on booted nodes: two nodes with a NIC each on one hub, driven by LP49 processes.

Every frame here goes the whole way: a process writes /net/ether0/N/data (an L4 IPC system
call), the servant's driver fills a transmit descriptor, the card DMAs it to the hub, the
other card DMAs it into a receive buffer and interrupts, the interrupt reaches the driver
thread as IPC, and ``etheriq`` queues it for every connection of its type.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from lib_helpers import run_as

from hwsim.hub import Hub
from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.netboot import NicError, macaddr
from tests.waiting import await_until

ETYPE = 0x88B5  # IEEE local experimental: nothing else on the hub uses it


@asynccontextmanager
async def two_nodes(path: str, **faults: float) -> AsyncIterator[tuple[Node, Node, Hub]]:
    hub = Hub(path, **faults)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        await nursery.start(hub.serve)
        a = await stack.enter_async_context(boot("a", ram=8 << 20, nics=[f"hub:{path}"]))
        b = await stack.enter_async_context(boot("b", ram=8 << 20, nics=[f"hub:{path}"]))
        await await_until(lambda: len(hub.ports) == 2, "both cards on the hub")
        yield a, b, hub
        nursery.cancel_scope.cancel()


async def connect(etype: int, *extra: str) -> tuple[int, int, str]:
    """A new connection of ``etype``: (ctl fd, data fd, its number)."""
    ctl = await lib.open("/net/ether0/clone", ORDWR)
    n = (await lib.read(ctl, 32)).decode()
    await lib.write(ctl, f"connect {etype}".encode())
    for verb in extra:
        await lib.write(ctl, verb.encode())
    data = await lib.open(f"/net/ether0/{n}/data", ORDWR)
    return ctl, data, n


def frame(dst: bytes, payload: bytes, etype: int = ETYPE) -> bytes:
    return dst + bytes(6) + etype.to_bytes(2, "big") + payload


async def test_fanout_and_sniffers(tmp_path: os.PathLike[str]) -> None:
    async with two_nodes(f"{tmp_path}/hub") as (a, b, _):
        mb = macaddr("b", 0)
        got: dict[str, list[bytes]] = {}
        ready = trio.Event()

        async def receiver() -> None:
            addr = await lib.readall(await lib.open("/net/ether0/addr", OREAD))
            assert addr == mb.hex().encode()
            conns = {"t1": await connect(ETYPE), "t2": await connect(ETYPE),
                     "all": await connect(-1), "sniff": await connect(-2),
                     "other": await connect(0x0801)}  # fmt: skip
            ready.set()
            for name in ("t1", "t2", "all", "sniff"):
                got[name] = [await lib.read(conns[name][1], 2048) for _ in range(2)]
            tfd = await lib.open(f"/net/ether0/{conns['sniff'][2]}/type", OREAD)
            assert await lib.read(tfd, 9) == b"-2"

        async def sender() -> None:
            await ready.wait()
            _, data, _ = await connect(ETYPE)
            await lib.write(data, frame(mb, b"A" * 100))
            await lib.write(data, frame(b"\xff" * 6, b"B" * 100))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, receiver)
            nursery.start_soon(run_as, a, sender)
        ma = macaddr("a", 0)
        for name in ("t1", "t2", "all"):
            assert [f[14] for f in got[name]] == [ord("A"), ord("B")], name
            assert all(f[6:12] == ma and len(f) == 114 for f in got[name])  # source filled in
        assert [len(f) for f in got["sniff"]] == [64, 64]
        stats = b.core.devtab["l"].stats(b.core.devtab["l"].ctlrs[0])  # type: ignore[attr-defined]
        assert "in: 2\n" in stats and "soft overflows: 0\n" in stats


async def test_drops_are_counted(tmp_path: os.PathLike[str]) -> None:
    """A connection nobody reads fills to QLIMIT; the rest are soft overflows.  A short frame
    is refused with Ebadarg; bad ctl messages are errors, the node keeps running."""
    from lp49fs.servants.ether import QLIMIT

    async with two_nodes(f"{tmp_path}/hub") as (a, b, _):
        ready = trio.Event()
        mb = macaddr("b", 0)

        async def idle() -> None:
            await connect(ETYPE)
            ready.set()
            await trio.sleep_forever()

        async def flood() -> None:
            await ready.wait()
            ctl, data, _ = await connect(ETYPE)
            for i in range(QLIMIT + 10):
                await lib.write(data, frame(mb, i.to_bytes(2, "big") * 30))
            with pytest.raises(Error, match="bad arg"):
                await lib.write(data, b"short")
            for bad in (b"connect x", b"bogus", b"connect 70000"):
                with pytest.raises(Error):
                    await lib.write(ctl, bad)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, idle)
            await run_as(a, flood)
            ether = b.core.devtab["l"]
            ni = ether.ctlrs[0]  # type: ignore[attr-defined]
            await await_until(lambda: ni.inpackets == QLIMIT + 10, "every frame at b")
            assert ni.soverflows == 10
            nursery.cancel_scope.cancel()
        text = ether.stats(ni)  # type: ignore[attr-defined]
        assert "soft overflows: 10\n" in text and f"in: {QLIMIT + 10}\n" in text


async def test_a_missing_hub_fails_the_boot(tmp_path: os.PathLike[str]) -> None:
    nicerror = pytest.RaisesExc(NicError, match="ether0 hub:.*No such file")
    with pytest.RaisesGroup(nicerror, flatten_subgroups=True):
        async with boot("x", ram=8 << 20, nics=[f"hub:{tmp_path}/nohub"]):
            pass
