"""Helpers for tests that run code as LP49 processes on a booted node.

``node`` (fixture) boots a node; ``run_as(node, fn)`` runs ``fn()`` (an async function that
makes ``lp49fs.lib`` calls) as a new process and re-raises whatever it raised, so a test's
assertions can live inside the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

from lp49fs import lib
from lp49fs.lib import RFFDG, RFPROC
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers
from tests.waiting import DEADLINE, await_until

_n = [0]


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with boot(ram=8 << 20) as n:
        yield n


@pytest.fixture
async def rnode() -> AsyncIterator[Node]:
    """A booted node with its servers running (ramfs posted and mounted on /tmp)."""
    with trio.fail_after(30):  # a guard against a hang, never a timing assertion
        async with boot() as n, trio.open_nursery() as nursery:
            svs = await start_servers(n, nursery)
            yield n
            await stop_servers(n, svs)


def program(node: Node, fn: Callable[[list[str]], Awaitable[Any]], name: str = "") -> str:
    """Register ``fn`` as a program of ``node``; returns its name."""
    _n[0] += 1
    name = name or f"t{_n[0]}"
    node.programs[name] = fn
    return name


async def start(
    node: Node, fn: Callable[[], Awaitable[Any]], flags: int = RFFDG | RFPROC
) -> tuple[int, list[BaseException]]:
    """Spawn ``fn`` as a process; returns (pid, box that receives its exception if any)."""
    box: list[BaseException] = []

    async def main(argv: list[str]) -> None:
        try:
            await fn()
        except trio.Cancelled:
            raise
        except BaseException as e:  # pytest's Failed is a BaseException: keep it, end cleanly
            box.append(e)
            await lib.exits("test failed")

    return await node.spawn(program(node, main), flags=flags), box


async def run_as(node: Node, fn: Callable[[], Awaitable[Any]], timeout: float = DEADLINE) -> str:
    """Run ``fn`` as a process to its end; re-raise its exception; return the exit string."""
    pid, box = await start(node, fn)
    with trio.fail_after(timeout):
        msg = await node.wait(pid)
    if box:
        raise box[0]
    return msg


class CallsInCore:
    """Which calls of a node's processes have reached a clerk (``Mngr.serving``).

    Take a snapshot before starting the call under test, then ``await reached(Sys.READ)``: it
    returns once a call that was not in the snapshot, with that system-call number, is held by a
    clerk, i.e. it left the caller and now runs (or blocks) in the core.  This is the condition
    "the read is blocked" that a test needs before it interrupts, kills or asserts that nothing
    has arrived yet.
    """

    def __init__(self, node: Node) -> None:
        self.node, self.before = node, set(node.mngr.serving)

    def new(self, call: int) -> list[Any]:
        return [c for t, c in list(self.node.mngr.serving.items())
                if t not in self.before and c.msg is not None and c.msg.label == call]

    async def reached(self, call: int, what: str = "the call to reach a clerk") -> None:
        await await_until(lambda: self.new(call), what)
