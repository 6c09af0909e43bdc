"""#d dup: N and Nctl per open fd of the caller; opening N dups the fd."""

from __future__ import annotations

import pytest
from conformance import check_tree
from servant_tree import SysTree, boot, err, ram

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MREPL
from lp49fs.core.proc import RFCFDG, RFPROC, Proc, rfork
from lp49fs.ninep import ORDWR, OREAD, OWRITE


@pytest.fixture
async def p() -> Proc:
    p = await boot(ram("a"))
    fd = await sys.create(p, "#a/f", ORDWR, 0o666)
    await sys.write(p, fd, b"0123456789")
    await sys.close(p, fd)
    await sys.bind(p, "#d", "/fd", MREPL)
    return p


async def names(p: Proc, path: str = "/fd") -> list[str]:
    fd = await sys.open(p, path, OREAD)
    out = [d.name for d in await sys.dirread(p, fd)]
    await sys.close(p, fd)
    return out


async def test_listing_follows_the_callers_fds(p: Proc) -> None:
    assert await names(p) == ["0", "0ctl"]  # the listing's own fd is open while it reads
    r = await sys.open(p, "#a/f", OREAD)
    w = await sys.open(p, "#a/f", OWRITE)
    assert (r, w) == (0, 1)
    assert await names(p) == ["0", "0ctl", "1", "1ctl", "2", "2ctl"]
    perms = {d.name: d.mode & 0o777 for d in [await sys.stat(p, f"/fd/{n}") for n in "01"]}
    assert perms == {"0": 0o400, "1": 0o200}
    child = await rfork(p, RFPROC | RFCFDG)
    assert await names(child) == ["0", "0ctl"]


async def test_open_n_is_dup(p: Proc) -> None:
    fd = await sys.open(p, "#a/f", OREAD)
    assert await sys.read(p, fd, 4) == b"0123"
    d = await sys.open(p, f"/fd/{fd}", OREAD)
    assert d != fd
    assert p.fgrp.get(d) is p.fgrp.get(fd)  # the same Chan: one offset
    assert await sys.read(p, d, 3) == b"456"
    assert await sys.read(p, fd, 3) == b"789"
    await sys.close(p, fd)
    assert await sys.pread(p, d, 2, 0) == b"01"  # still open through the dup


OPEN_MODES = [
    # (fd's mode, mode asked through #d, error or None)
    (OREAD, OREAD, None),
    (OREAD, OWRITE, "inappropriate use of fd"),
    (OWRITE, OREAD, "inappropriate use of fd"),
    (ORDWR, OWRITE, None),
    (ORDWR, OREAD, None),
]


@pytest.mark.parametrize(("mode", "ask", "want"), OPEN_MODES)
async def test_open_mode_must_fit(p: Proc, mode: int, ask: int, want: str | None) -> None:
    fd = await sys.open(p, "#a/f", mode)
    if want is None:
        await sys.close(p, await sys.open(p, f"/fd/{fd}", ask))
    else:
        assert await err(sys.open(p, f"/fd/{fd}", ask)) == want


async def test_ctl_line(p: Proc) -> None:
    fd = await sys.open(p, "#a/f", ORDWR)
    await sys.read(p, fd, 7)
    c = await sys.open(p, f"#d/{fd}ctl", OREAD)
    line = (await sys.read(p, c, 200)).decode()
    fields = line.split()
    assert line.endswith(" #a/f\n")
    assert fields[:4] == [str(fd), "rw", "a", "0"]
    assert fields[-2] == "7"  # the offset
    assert fields[4].startswith("(") and fields[6].endswith(")")
    assert await err(sys.open(p, "#d/9", OREAD)) == "'#d/9' does not exist"
    assert await err(sys.open(p, f"#d/{fd}ctl", OWRITE)) == "permission denied"


async def test_conformance(p: Proc) -> None:
    fd = await sys.open(p, "#a/f", ORDWR)
    tree = SysTree(p, "#d")
    held = await tree.hold()
    expect = {"": "dir", str(fd): "file", f"{fd}ctl": "file", f"{held}ctl": "file"}
    await check_tree(tree, expect)
    assert await tree.read(f"{fd}ctl") == (
        await sys.read(p, await sys.open(p, f"/fd/{fd}ctl", OREAD), 200)
    )
