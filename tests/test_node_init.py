"""init on a booted node (in process): the namespace text it is given, sh -i on the console,
a new shell when the old one exits, and $sysname for scripts."""

from __future__ import annotations

import pytest
import trio

from lp49fs.cmd import init
from lp49fs.node.boot import Node
from lp49fs.node.servers import ServerSpec, start_servers
from tests.lib_helpers import node

__all__ = ["node"]


async def _until(node: Node, marker: str, start: int = 0) -> str:
    """Console output from ``start`` (``\\r\\n`` as ``\\n``) once ``marker`` is in it."""
    with trio.fail_after(20):
        while marker not in (out := node.console[start:].decode().replace("\r\n", "\n")):
            await trio.sleep(0.005)
    return out


async def test_init_runs_sh_on_the_console_and_restarts_it(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init, "RESPAWN", 0.01)
    async with trio.open_nursery() as nursery:
        await start_servers(node, nursery, (ServerSpec("ramfs", "ramfs", ("ramfs",)),))
        await node.spawn("init", ["init"])  # the default namespace file
        await _until(node, "% ")
        mark = len(node.console)
        node.machine.uart.feed(b"echo $sysname $user; exit\n")
        out = await _until(node, "% ", mark + 1)  # the next shell's prompt
        assert out.splitlines()[1] == "lp49 glenda"  # #c/sysname, #c/user
        mark = len(node.console)
        node.machine.uart.feed(b"echo again > /tmp/a; cat /tmp/a\n")
        assert "again\n% " in await _until(node, "again\n% ", mark)
        nursery.cancel_scope.cancel()


async def test_init_uses_the_namespace_text_it_is_given(node: Node) -> None:
    await node.spawn("init", ["init", "-n", "bind #c /dev\n# only cons\nbind #p /proc\ncd /dev\n"])
    await _until(node, "% ")
    mark = len(node.console)
    node.machine.uart.feed(b"ns; pwd\n")
    lines = (await _until(node, "/dev\n% ", mark)).splitlines()
    assert lines[1:] == ["bind  '#c' /dev", "bind  '#p' /proc", "cd /dev", "/dev", "% "]


async def test_init_usage(node: Node) -> None:
    assert await node.run("init", ["init", "-x"]) == "usage: init [-n nstext]"
