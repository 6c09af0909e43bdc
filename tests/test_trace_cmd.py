"""The in-node ``trace`` program and ``/proc/N/ctl trace`` / ``/proc/N/trace`` (#p)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from lib_helpers import rnode, run_as
from sh_helpers import run, sh

from kernel import trace as ktrace
from lp49fs import lib
from lp49fs import trace as t
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers
from tests.waiting import DEADLINE as GUARD

__all__ = ["rnode"]



@pytest.fixture
async def cnode() -> AsyncIterator[Node]:
    """A node with the service bus off: /proc/N/trace sees the calls that reach the core, and
    with the bus on a read of a ramfs file does not (docs/servicebus.md)."""
    with trio.fail_after(GUARD):  # a guard against a hang, never a timing assertion
        async with boot(bus=False) as n, trio.open_nursery() as nursery:
            svs = await start_servers(n, nursery)
            yield n
            await stop_servers(n, svs)


async def test_trace_c_cat_shows_each_call_through_the_layers(cnode: Node) -> None:
    rnode = cnode
    assert (await sh(rnode, "echo hello > /tmp/x")).status == ""
    r = await run(rnode, "trace", ["-c", "cat", "/tmp/x"])
    assert r.out == "hello\n" and r.status == ""
    titles = [x for x in r.err.splitlines() if x.startswith("trace: ")]
    calls = [x.split()[-1] for x in titles]
    assert "spawn" in calls and "wait" in calls  # the stub's own
    at = calls.index("open")
    assert calls[at : at + 4] == ["open", "read", "write", "read"]  # cat: open, copy, EOF
    block = r.err.split(titles[at + 1])[1].split("trace: ")[0]
    lanes = [tuple(x.split()[1:4:2]) for x in block.splitlines() if " -> " in x]
    assert lanes[:3] == [("lib", "L4"), ("L4", "Mngr"), ("Mngr", "clerk")]
    assert ("clerk", "#M") in lanes and ("#M", "9P") in lanes and ("9P", "server") in lanes
    assert "Rread tag " in block and "'hello\\n'" in block
    assert "time per layer: " in block
    assert not t.on and not ktrace.on and t.users == 0


async def test_ctl_trace_toggles_and_bad_args_are_refused(rnode: Node) -> None:
    async def body() -> None:
        me = await lib.getpid()
        ctl = await lib.open(f"/proc/{me}/ctl", OWRITE)
        for bad in (b"trace 2", b"trace 1 1"):
            with pytest.raises(Error, match="bad arg"):
                await lib.write(ctl, bad)
        await lib.write(ctl, b"trace 1")
        assert t.on and t.users == 1
        await lib.write(ctl, b"trace")  # toggles off: the read is at end of file at once
        assert not t.on
        fd = await lib.open(f"/proc/{me}/trace", OREAD)
        assert await lib.read(fd, 100) == b""

    assert await run_as(rnode, body) == ""
    assert t.users == 0 and not t.on


async def test_trace_of_a_pid_and_of_nothing(rnode: Node) -> None:
    r = await run(rnode, "trace", ["999"])
    assert r.status.startswith("999: ") and "trace: 999: " in r.err
    r = await run(rnode, "trace", [])
    assert r.err.startswith("usage: trace ")
