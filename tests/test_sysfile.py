"""The file system calls: fds, offsets, modes, stat/wstat, remove, chdir, dup, errors."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conformance import check_rw, check_tree
from servant_tree import SysTree, boot, err, ram

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MAFTER, MCREATE, MREPL
from lp49fs.core.proc import Proc
from lp49fs.ninep import DMDIR, OEXEC, ORDWR, OREAD, OTRUNC, OWRITE, Dir

RamA = ram("a")


@pytest.fixture
async def p() -> Proc:
    p = await boot(RamA)
    await sys.bind(p, "#a", "/tmp", MREPL | 4)  # MCREATE
    fd = await sys.create(p, "/tmp/f", ORDWR, 0o644)
    await sys.write(p, fd, b"hello world")
    await sys.close(p, fd)
    return p


async def test_offsets_read_write_seek(p: Proc) -> None:
    fd = await sys.open(p, "/tmp/f", ORDWR)
    assert await sys.read(p, fd, 5) == b"hello"
    assert await sys.read(p, fd, 100) == b" world"
    assert await sys.read(p, fd, 100) == b""
    assert await sys.seek(p, fd, 6, 0) == 6
    assert await sys.write(p, fd, b"WORLD") == 5
    assert await sys.pread(p, fd, 5, 0) == b"hello"
    assert await sys.seek(p, fd, -5, 1) == 6
    assert await sys.read(p, fd, 5) == b"WORLD"
    assert await sys.seek(p, fd, 0, 2) == 11
    assert await sys.pwrite(p, fd, b"H", 0) == 1
    assert await sys.seek(p, fd, 0, 1) == 11  # pwrite leaves the offset
    assert await sys.pread(p, fd, 100, 0) == b"Hello WORLD"
    await sys.close(p, fd)


async def test_create_truncate_remove(p: Proc) -> None:
    fd = await sys.open(p, "/tmp/f", OWRITE | OTRUNC)
    await sys.close(p, fd)
    assert (await sys.stat(p, "/tmp/f")).length == 0
    await sys.remove(p, "/tmp/f")
    assert await err(sys.stat(p, "/tmp/f")) == "'/tmp/f' does not exist"


async def test_exclusive_create_of_existing_file(p: Proc) -> None:
    assert await err(sys.create(p, "/tmp/f", OWRITE | 0x1000, 0o644)) == "file already exists"


async def test_stat_names_and_wstat(p: Proc) -> None:
    assert (await sys.stat(p, "/tmp/f")).name == "f"
    assert (await sys.stat(p, "/")).name == "/"
    assert (await sys.stat(p, "/tmp")).mode & DMDIR
    await sys.wstat(p, "/tmp/f", replace(Dir.nulldir(), name="g"))
    assert (await sys.stat(p, "/tmp/g")).length == 11
    fd = await sys.open(p, "/tmp/g", OREAD)
    await sys.fwstat(p, fd, replace(Dir.nulldir(), length=5))
    assert (await sys.fstat(p, fd)).length == 5
    assert await err(sys.wstat(p, "/dev", replace(Dir.nulldir(), name="x"))) == (
        "permission denied"
    )


async def test_chdir_and_relative_names(p: Proc) -> None:
    await sys.chdir(p, "/tmp")
    assert await sys.fd2path(p, await sys.open(p, "f", OREAD)) == "/tmp/f"
    assert await err(sys.chdir(p, "/tmp/f")) == "not a directory"
    assert await err(sys.chdir(p, "nope")) == "'nope' does not exist"


async def test_dup(p: Proc) -> None:
    fd = await sys.open(p, "/tmp/f", OREAD)
    fd2 = await sys.dup(p, fd)
    assert fd2 == fd + 1
    assert await sys.read(p, fd, 6) == b"hello "
    assert await sys.read(p, fd2, 5) == b"world"  # one Chan, one offset
    assert await sys.dup(p, fd, 7) == 7
    await sys.close(p, fd)
    assert await sys.pread(p, 7, 5, 0) == b"hello"
    assert await err(sys.dup(p, 42)) == "fd out of range or not open"


ERRORS = [
    ("read bad fd", lambda p: sys.read(p, 42, 1), "fd out of range or not open"),
    ("close negative fd", lambda p: sys.close(p, -1), "fd out of range or not open"),
    ("fstat bad fd", lambda p: sys.fstat(p, 3), "fd out of range or not open"),
    ("bad open mode", lambda p: sys.open(p, "/tmp/f", 0x80), "bad arg in system call"),
    ("bad bind flag", lambda p: sys.bind(p, "#a", "/mnt", 0x100), "bad arg in system call"),
    ("bind -a -b", lambda p: sys.bind(p, "#a", "/mnt", 3), "bad arg in system call"),
    ("unknown # letter", lambda p: sys.open(p, "#Q", OREAD), "unknown device in # filename"),
    ("bare #", lambda p: sys.stat(p, "#"), "unknown device in # filename"),
    ("#M is not attachable", lambda p: sys.stat(p, "#M"), "mount/attach disallowed"),
    ("mount without #M", lambda p: sys.mount(p, 0, -1, "/n", 0, ""), "mount/attach disallowed"),
    ("missing element", lambda p: sys.open(p, "/dev/x/y", OREAD), "'/dev/x' does not exist"),
    ("missing last", lambda p: sys.open(p, "/tmp/nope", OREAD), "'/tmp/nope' does not exist"),
    ("walk through file", lambda p: sys.stat(p, "/tmp/f/x"), "'/tmp/f' not a directory"),
    ("empty name", lambda p: sys.stat(p, ""), "empty file name"),
    ("control char", lambda p: sys.stat(p, "/tmp/\x01"), "bad character in file name"),
    ("write a directory", lambda p: sys.open(p, "/tmp", OWRITE), "file is a directory"),
    ("create in #R", lambda p: sys.create(p, "/x", OWRITE, 0o644), "permission denied"),
    ("remove in #R", lambda p: sys.remove(p, "/dev"), "permission denied"),
    ("chdir to a file", lambda p: sys.chdir(p, "/tmp/f"), "not a directory"),
]


@pytest.mark.parametrize(("what", "call", "want"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_errors(p: Proc, what: str, call: object, want: str) -> None:
    assert await err(call(p)) == want  # type: ignore[operator]


async def test_wrong_use_of_fd(p: Proc) -> None:
    r = await sys.open(p, "/tmp/f", OREAD)
    w = await sys.open(p, "/tmp/f", OWRITE)
    assert await err(sys.write(p, r, b"x")) == "inappropriate use of fd"
    assert await err(sys.read(p, w, 1)) == "inappropriate use of fd"
    assert await err(sys.open(p, "/tmp/f", OEXEC)) == "permission denied"  # 0644: no x


async def test_directory_reads_are_whole_entries_and_restart_at_zero(p: Proc) -> None:
    await sys.bind(p, "#R", "/mnt", MREPL)
    await sys.bind(p, "#a", "/mnt", MAFTER)
    fd = await sys.open(p, "/mnt", OREAD)
    first = await sys.dirread(p, fd, 100)  # a small count: fewer entries, never a fraction
    rest: list[Dir] = []
    while ds := await sys.dirread(p, fd, 100):
        rest += ds
    names = [d.name for d in first + rest]
    assert names[:12] == ["dev", "env", "net", "proc", "srv", "n", "mnt", "tmp", "bin", "fd",
                          "boot", "root"]  # fmt: skip
    assert names[12:] == ["f"]
    assert await sys.seek(p, fd, 0, 0) == 0
    assert [d.name for d in await sys.dirread(p, fd, 100)] == [d.name for d in first]
    assert await err(sys.seek(p, fd, 5, 0)) == "file is a directory"


class Counting(RamA):  # type: ignore[misc, valid-type]
    """#a that counts servant closes (one per open Chan's last reference)."""

    closes = 0

    async def close(self, c: object) -> None:
        type(self).closes += 1


async def test_close_runs_once_on_the_last_reference() -> None:
    from lp49fs.core.proc import RFFDG, RFPROC, pexit, rfork

    p = await boot(Counting)
    Counting.closes = 0
    fd = await sys.create(p, "#a/f", ORDWR, 0o644)
    d = await sys.dup(p, fd)
    child = await rfork(p, RFPROC | RFFDG)
    await sys.close(p, fd)
    await sys.close(p, d)
    assert Counting.closes == 0  # the child's copied table still holds it
    await pexit(child)
    assert Counting.closes == 1
    await sys.bind(p, "#a", "/mnt", MREPL)
    for _ in range(3):
        await sys.close(p, await sys.open(p, "/mnt/f", OREAD))
    await sys.stat(p, "/mnt/f")  # walks and stats close nothing: never opened
    assert Counting.closes == 4
    assert p.slash.ref == 2 and p.dot.ref == 2  # slash and dot of p (same chan)


class FakeMnt(RamA):  # type: ignore[misc, valid-type]
    """A stand-in #M: mntattach gives the root of its own tree, remembering the call."""

    dc = "M"
    calls: list[tuple[str, int]] = []

    async def mntattach(self, c: object, ac: object, spec: str, flag: int) -> object:
        self.calls.append((spec, flag))
        return self.devattach(spec)


async def test_mount_goes_through_the_mnt_servant() -> None:
    p = await boot(FakeMnt, RamA)
    await sys.close(p, await sys.create(p, "#a/link", ORDWR, 0o600))
    fd = await sys.open(p, "#a/link", ORDWR)
    mid = await sys.mount(p, fd, -1, "/n", MREPL | MCREATE, "spec")
    assert mid > 0 and FakeMnt.calls == [("spec", MREPL | MCREATE)]
    await sys.close(p, await sys.create(p, "/n/seen", OWRITE, 0o644))
    assert (await sys.stat(p, "/n/seen")).type == ord("M")
    await sys.unmount(p, None, "/n")
    assert await err(sys.stat(p, "/n/seen")) == "'/n/seen' does not exist"
    assert await err(sys.mount(p, fd, -1, "/n", 0x100, "")) == "bad arg in system call"
    ro = await sys.open(p, "#a/link", OREAD)
    assert await err(sys.mount(p, ro, -1, "/n", MREPL, "")) == "inappropriate use of fd"


async def test_conformance_through_a_union(p: Proc) -> None:
    """The shared suite over a Ram tree reached through a union with an MCREATE member."""
    await sys.bind(p, "#R", "/n", MREPL)
    await sys.bind(p, "#a", "/n", MAFTER | MCREATE)
    tree = SysTree(p, "/n")
    await check_rw(tree, "")
    await check_tree(tree, {"f": "file", "dev": "dir"})  # not tmp: a mount point stats as
    # what is mounted there, while its directory entry is the mounted-on dir (as in Plan 9)
