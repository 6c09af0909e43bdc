"""A clerk leaves a caller's buffer mapped in its window (clerk Rule 5, kernel.mapdb Rule 5).

The pages stay between calls, so a loop of calls maps nothing new; a call can still reach
only the pages of its own MapItem, and the pages go when the caller's space does.
"""

from __future__ import annotations

import pytest

from kernel.types import PAGE_SIZE, Msg, R, W
from lp49fs import lib
from lp49fs.errors import Ebadarg, Error
from lp49fs.lib.items import mapitem
from lp49fs.lib.uctx import UThread, current
from lp49fs.lib.workers import run
from lp49fs.ninep import ORDWR
from lp49fs.node.boot import Node
from lp49fs.syscall import Sys
from tests.lib_helpers import node, run_as

__all__ = ["node"]


def window_frames(node: Node) -> dict[int, int]:
    """Frame of every page mapped in some clerk window of the core: {vpn: frame}."""
    sp = node.mngr.clerks[0].thread.space if node.mngr.clerks[0].thread else None
    assert sp is not None
    base = node.mngr.window(0).base >> 12
    return {v: m.frame for v, m in sp.pages.items() if v >= base}


async def test_buffer_stays_mapped_between_calls_and_goes_with_the_space(node: Node) -> None:
    frames: list[int] = []
    kept: list[dict[int, int]] = []

    async def body() -> None:
        fd = await lib.create("/env/kept", ORDWR, 0o664)
        await lib.write(fd, b"0123456789abcdef")
        ut = current()
        sp = ut.thread.space
        assert sp is not None
        look = sp.lookup(ut.buf)
        assert look is not None
        frames.append(look[0])
        assert await lib.pread(fd, 16, 0) == b"0123456789abcdef"
        kept.append(window_frames(node))
        assert await lib.pread(fd, 4, 4) == b"4567"  # same pages again: still right
        kept.append(window_frames(node))
        await lib.close(fd)

    assert await run_as(node, body) == ""
    assert frames[0] in kept[0].values()  # the caller's page is still in a clerk's window
    assert kept[0] == kept[1]  # the second call changed no mapping
    assert frames[0] not in window_frames(node).values()  # the caller's space is gone


async def test_a_buffer_beyond_its_own_mapitem_is_refused(node: Node) -> None:
    async def body() -> None:
        fd = await lib.create("/env/big", ORDWR, 0o664)
        await lib.write(fd, b"x" * (2 * PAGE_SIZE))
        for _ in range(4):  # leaves two pages of this buffer in the windows of the clerks
            await lib.stat("/env/big")

        async def op(ut: UThread) -> bytes:
            addr = ut.buf
            await ut.prefault(addr, 2 * PAGE_SIZE)
            item = mapitem(addr, 16, R | W)  # one page travels, the words claim two
            msg = Msg(Sys.PREAD, (fd, 0, addr, 2 * PAGE_SIZE), (item,))
            await ut.call(msg)
            return b""

        with pytest.raises(Error) as ei:
            await run(op)
        assert ei.value.ename == Ebadarg
        assert await lib.pread(fd, 16, 0) == b"x" * 16  # a right call still works
        await lib.close(fd)

    assert await run_as(node, body) == ""
