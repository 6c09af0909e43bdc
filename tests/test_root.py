"""#R root: the read-only skeleton of every name space."""

from __future__ import annotations

import pytest
from conformance import check_tree
from servant_tree import SysTree, boot, err

from lp49fs.core import sysfile as sys
from lp49fs.core.proc import Proc
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE, QTDIR
from lp49fs.servants.root import SKELETON


@pytest.fixture
async def p() -> Proc:
    return await boot()


async def test_skeleton(p: Proc) -> None:
    fd = await sys.open(p, "/", OREAD)
    ds = await sys.dirread(p, fd)
    assert [d.name for d in ds] == list(SKELETON)
    assert set(SKELETON) >= {"dev", "env", "net", "proc", "srv", "n", "mnt", "tmp", "fd"}
    assert all(d.qid.type == QTDIR and d.mode == DMDIR | 0o555 for d in ds)
    assert len({d.qid.path for d in ds}) == len(ds)
    assert await sys.dirread(p, fd) == []
    for name in SKELETON:
        assert (await sys.stat(p, f"/{name}")).qid.type == QTDIR
        assert (await sys.stat(p, f"/{name}/..")).qid == (await sys.stat(p, "/")).qid


REFUSED = [
    ("create", lambda p: sys.create(p, "/new", OWRITE, 0o644), "permission denied"),
    ("mkdir", lambda p: sys.create(p, "/dev/x", OREAD, DMDIR | 0o755), "permission denied"),
    ("remove", lambda p: sys.remove(p, "/tmp"), "permission denied"),
    ("open for write", lambda p: sys.open(p, "/dev", ORDWR), "file is a directory"),
    ("missing", lambda p: sys.open(p, "/usr", OREAD), "'/usr' does not exist"),
    ("missing #R", lambda p: sys.stat(p, "#R/usr/glenda"), "'#R/usr' does not exist"),
]


@pytest.mark.parametrize(("what", "call", "want"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_read_only(p: Proc, what: str, call: object, want: str) -> None:
    assert await err(call(p)) == want  # type: ignore[operator]


async def test_conformance(p: Proc) -> None:
    expect = {"": "dir", **dict.fromkeys(SKELETON, "dir")}
    await check_tree(SysTree(p, "#R"), expect)
    await check_tree(SysTree(p, "/"), expect)
