"""Run ``sh`` (or any program) on a booted node the way a user would: fds 0, 1, 2 on pipes.

``run(node, prog, argv, stdin)`` spawns a driver process that makes three pipes, spawns the
program with its fds 0, 1, 2 on them (RFCFDG, so nothing else leaks in), writes ``stdin``,
reads fd 1 and fd 2 to end of file and waits; everything goes through ``lp49fs.lib``.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from lp49fs import lib
from lp49fs.node.boot import Node
from tests.waiting import DEADLINE

_n = [0]


@dataclass
class Result:
    out: str  # what the program wrote on fd 1
    err: str  # what it wrote on fd 2
    status: str  # its exit string


async def run(node: Node, prog: str, argv: list[str], stdin: bytes = b"",
              timeout: float = DEADLINE) -> Result:
    box: dict[str, str] = {}

    async def driver(_: list[str]) -> None:
        ir, iw = await lib.pipe()
        outr, outw = await lib.pipe()
        errr, errw = await lib.pipe()
        pid = await lib.spawn(prog, [prog, *argv], lib.RFCFDG | lib.RFPROC,
                              {0: ir, 1: outw, 2: errw})
        for fd in (ir, outw, errw):
            await lib.close(fd)
        if stdin:
            await lib.write(iw, stdin)
        await lib.close(iw)
        box["out"] = (await lib.readall(outr)).decode()
        box["err"] = (await lib.readall(errr)).decode()
        while (w := await lib.wait()).pid != pid:
            pass
        box["status"] = w.msg

    _n[0] += 1
    name = f"driver{_n[0]}"
    node.programs[name] = driver
    with trio.fail_after(timeout):
        msg = await node.run(name)
    assert msg == "", f"driver failed: {msg}"
    return Result(box["out"], box["err"], box["status"])


async def sh(node: Node, script: str, stdin: bytes = b"") -> Result:
    """``sh -c script``."""
    return await run(node, "sh", ["-c", script], stdin)
