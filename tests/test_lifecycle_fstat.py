"""fstat of open servant files: stat must not clone the open Chan (``Servant.devstat``).

Run both ways: through ``sysfile`` on a bare core, and through ``lp49fs.lib`` from a process
of a booted node (the path the FUSE bridge's getattr takes).
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.core import sysfile
from lp49fs.core.chan import cclose
from lp49fs.core.core import Core
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.core.proc import Proc, newproc
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE
from lp49fs.node.boot import Node
from lp49fs.servants import boot_core
from tests.lib_helpers import node, run_as

__all__ = ["node"]


async def _proc() -> Proc:
    core = boot_core(Core(), ("root", "cons", "env", "pipe", "proc"))
    slash = await core.attach("R")
    p = newproc(core, slash, name="t")
    await cclose(slash)
    await sysfile.bind(p, "#c", "/dev", MREPL)
    await sysfile.bind(p, "#e", "/env", MREPL | MCREATE)
    return p


async def test_fstat_of_open_cons_env_and_pipe_files() -> None:
    p = await _proc()
    fd = await sysfile.open(p, "/dev/sysname", OREAD)
    d = await sysfile.fstat(p, fd)
    assert (d.name, d.type, d.mode & DMDIR) == ("sysname", ord("c"), 0)
    assert d.qid == p.fgrp.get(fd).qid

    efd = await sysfile.create(p, "/env/planet", OWRITE, 0o664)
    await sysfile.write(p, efd, b"mars")
    d = await sysfile.fstat(p, efd)
    assert (d.name, d.type, d.length) == ("planet", ord("e"), 4)
    rfd = await sysfile.open(p, "/env/planet", OREAD)
    assert (await sysfile.fstat(p, rfd)).qid == d.qid

    await sysfile.bind(p, "#|", "/mnt", MREPL)  # pipe(2) as Plan 9's sysfile does it
    a = await sysfile.open(p, "/mnt/data", ORDWR)
    b = await sysfile.open(p, "/mnt/data1", ORDWR)
    da, db = await sysfile.fstat(p, a), await sysfile.fstat(p, b)
    assert (da.name, db.name) == ("data", "data1")
    assert da.type == ord("|") and da.qid != db.qid
    # the open Chans are untouched: still usable after stat
    assert await sysfile.write(p, b, b"ping") == 4
    assert await sysfile.read(p, a, 10) == b"ping"
    for f in (fd, efd, rfd, a, b):
        await sysfile.close(p, f)


async def test_fstat_of_open_files_from_a_process(node: Node) -> None:
    async def body() -> None:
        fd = await lib.open("/dev/cons", ORDWR)
        assert (await lib.fstat(fd)).name == "cons"
        efd = await lib.create("/env/x", OWRITE, 0o664)
        await lib.write(efd, b"12345")
        d = await lib.fstat(efd)
        assert (d.name, d.length) == ("x", 5)
        a, b = await lib.pipe()
        assert {(await lib.fstat(a)).name, (await lib.fstat(b)).name} == {"data", "data1"}
        assert await lib.write(a, b"x") == 1 and await lib.read(b, 1) == b"x"

    await run_as(node, body)
