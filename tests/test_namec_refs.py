"""References through failing and cancelled name resolution (chan.py Rule 5, ``closeonerror``).

A walk holds references while it runs: the Chan it walks from, the union member it crossed
into, the clone a servant walk returned.  Whatever way resolution ends (a missing name, a
non-directory, a refused open, a cancellation while a servant walk waits), every reference it
took must be dropped: the mount table's Chans, the process's ``/`` and the servant's
instances end with the counts they started with.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio
from servant_tree import boot, err, ram

from lp49fs.core import sysfile as sys
from lp49fs.core.chan import Chan, Walkqid, closeonerror
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.core.mount import MAFTER, MREPL
from lp49fs.core.proc import Proc
from lp49fs.errors import Eperm, Error
from lp49fs.ninep import DMDIR, OEXCL, OREAD, OWRITE, QTDIR, QTFILE, Qid

RamA, RamB = ram("a"), ram("b")


class Slow(Servant):
    """``#w``: a directory ``d`` holding ``f``; a walk to ``f`` waits until ``go`` is set."""

    dc = "w"
    name = "slow"
    dirtab = (
        Dirtab(".", Qid(QTDIR, 0, 0), 0, DMDIR | 0o555),
        Dirtab("f", Qid(QTFILE, 0, 1), 0, 0o444),
    )

    def reset(self) -> None:
        self.go = trio.Event()
        self.waiting = trio.Event()

    async def walk(self, c: Chan, names: Sequence[str]) -> Walkqid:
        if "f" in names:
            self.waiting.set()
            await self.go.wait()
        return self.devwalk(c, names)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        return self.devdirread(c, count, offset) if c.isdir() else b""

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        raise Error(Eperm)


def refs(p: Proc) -> list[tuple[str, int]]:
    """Every reference count the name space holds, in a fixed order."""
    out = [("slash", p.slash.ref), ("dot", p.dot.ref)]
    for mh in p.pgrp.heads():
        out.append((f"from {mh.from_.path.s}", mh.from_.ref))
        out += [(f"to {m.to.path.s}", m.to.ref) for m in mh.mounts]
    return out


async def unioned() -> Proc:
    """``/tmp`` a union of #a and #b (#a has a file ``x``), ``/n`` bound to #w."""
    p = await boot(RamA, RamB, Slow)
    await sys.bind(p, "#a", "/tmp", MREPL | 4)
    await sys.bind(p, "#b", "/tmp", MAFTER)
    await sys.close(p, await sys.create(p, "/tmp/x", OWRITE, 0o444))
    await sys.bind(p, "#w", "/n", MREPL)
    return p


async def test_failed_resolutions_drop_every_reference() -> None:
    p = await unioned()
    before = refs(p)
    assert "does not exist" in await err(sys.open(p, "/tmp/missing/y", OREAD))
    assert "not a directory" in await err(sys.open(p, "/tmp/x/y", OREAD))
    assert await err(sys.open(p, "/tmp/x", OWRITE)) == Eperm  # the open itself refuses
    assert await err(sys.chdir(p, "/tmp/x")) == "not a directory"
    assert "exists" in await err(sys.create(p, "/tmp/x", OWRITE | OEXCL, 0o644))
    await sys.close(p, await sys.open(p, "/tmp/x", OREAD))  # and a success, for contrast
    assert refs(p) == before


async def test_a_cancelled_walk_drops_every_reference() -> None:
    p = await unioned()
    sv = p.core.devtab["w"]
    assert isinstance(sv, Slow)
    before = refs(p)
    async with trio.open_nursery() as nursery:
        cs = trio.CancelScope()

        async def opener() -> None:
            with cs:
                await sys.open(p, "/n/f", OREAD)

        nursery.start_soon(opener)
        await sv.waiting.wait()  # the walk holds /n's Chan and #w's root now
        assert refs(p) != before
        cs.cancel()
    assert refs(p) == before


async def test_closeonerror_drops_what_it_holds_only_on_failure() -> None:
    p = await boot(RamA)
    c = await p.core.attach("a")
    async with closeonerror(c) as h:
        d = await p.core.attach("a")
        await h.replace(d)  # c is dropped at once, d is held
    assert c.ref == 0 and d.ref == 1
    try:
        async with closeonerror(d):
            raise Error("boom")
    except Error:
        pass
    assert d.ref == 0
