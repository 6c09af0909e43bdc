"""The shared tree-behaviour suite, run over every 9P server and every in-core servant.

The suite talks to a small path-based adapter (``Tree``), not to 9P, so a servant (through
system calls) and a server (through a 9P session, ``NinepTree``) run the same checks, the
way hugelgupf/p9 runs one test suite over every backend.  Using it is a few lines::

    async with ninep_tree(Ramfs("glenda"), uname="glenda") as tree:
        await check_tree(tree, {"": "dir"})
        await check_rw(tree, "")

* ``check_tree(tree, expect)``: ``expect`` maps paths ("" is the root) to "dir" or "file".
  Read-only checks: stat types and names, every child listed in its parent with the same
  qid, listings consistent with stat, directories refuse opening for writing, a missing
  name raises Error, reading a file far past its end gives b"".  ``unread`` (path ->
  reason) names files that are not read at all: a read blocks (``#c/cons``, ``#|/data``) or
  is endless or ignores the offset (``#c/zero``, ``#p/N/ns``); they get every other check.
* ``check_rw(tree, base)``: write checks in directory ``base`` (which must be writable and
  is left as it was): create file and directory, write and read back at offsets, holes,
  OTRUNC, qid.vers changes on write, create over an existing name, wstat of length, name
  and mode with don't-touch fields, removing a non-empty directory fails, remove.
  ``refuses`` (capability -> reason) turns a group of checks into "this must fail" for a
  tree that legitimately lacks it (see ``REFUSALS``): ``mkdir`` (creating a directory
  fails; no subdirectory checks), ``holes`` (writing past the end fails), ``wstat`` (a
  length wstat fails; no wstat checks), ``modes`` (permission bits are not kept as given,
  e.g. FAT's one read-only bit: a mode wstat with the owner write bit must keep it).
  ``skip`` (check -> reason) leaves out a check the tree is known to fail, for a bug
  reported against it (see ``SKIPS``): ``create-existing``
  (a create over an existing name must fail).  Unknown names are a ValueError.

Errors must come out as ``lp49fs.errors.Error``; the suite checks that something fails,
not the exact Plan 9 text (servants and servers legitimately differ there).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import pytest
import trio

from lp49fs.errors import Error
from lp49fs.lib9p import FileServer, serve
from lp49fs.lib9p import clientfid as cf
from lp49fs.lib9p.client import Session
from lp49fs.ninep import DMDIR, OREAD, OTRUNC, OWRITE, QTDIR, Dir, Qid
from lp49fs.transport import Link, dial, pipe_pair

EOF_PROBE = 1 << 40  # an offset far past the end of any test file
PREFIX = "conf."  # names check_rw creates start with this


class Tree(Protocol):
    """A file tree under test; paths are relative to its root, '' is the root."""

    async def stat(self, path: str) -> Dir: ...

    async def listdir(self, path: str) -> list[Dir]: ...  # whole directory read

    async def read(self, path: str, offset: int = 0, count: int = 8192) -> bytes: ...

    async def write(self, path: str, data: bytes, offset: int = 0, trunc: bool = False) -> int: ...

    async def create(self, path: str, perm: int, mode: int = OREAD) -> Qid: ...  # create+close

    async def remove(self, path: str) -> None: ...

    async def wstat(self, path: str, d: Dir) -> None: ...

    async def open_close(self, path: str, mode: int) -> None: ...


def join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}" if base else name


def parent_and_name(path: str) -> tuple[str, str]:
    head, _, tail = path.rpartition("/")
    return head, tail


# --- check_tree ----------------------------------------------------------------------------
async def check_tree(
    tree: Tree, expect: dict[str, str], *, unread: Mapping[str, str] | None = None
) -> None:
    """Read-only behaviour of the paths in ``expect`` (see the module docstring)."""
    unread = unread or {}
    if stray := set(unread) - {p for p, k in expect.items() if k == "file"}:
        raise ValueError(f"unread names no expected file: {sorted(stray)}")
    stats: dict[str, Dir] = {}
    for path, kind in expect.items():
        d = stats[path] = await tree.stat(path)
        isdir = kind == "dir"
        assert bool(d.qid.type & QTDIR) == isdir, f"{path!r}: qid type {d.qid.type:#x}"
        assert bool(d.mode & DMDIR) == isdir, f"{path!r}: mode {d.mode:#o}"
        if path:
            assert d.name == parent_and_name(path)[1], f"{path!r}: stat name {d.name!r}"
    for path, kind in expect.items():
        if path:
            await check_listed(tree, path, stats[path])
        if kind == "dir":
            await check_dir(tree, path)
            with pytest.raises(Error):
                await tree.open_close(path, OWRITE)
            with pytest.raises(Error):
                await tree.stat(join(path, "conformance-no-such-file"))
        elif path not in unread:
            assert await tree.read(path, EOF_PROBE) == b"", f"{path!r}: read past EOF"


async def check_listed(tree: Tree, path: str, d: Dir) -> None:
    parent, name = parent_and_name(path)
    entries = {e.name: e for e in await tree.listdir(parent)}
    assert name in entries, f"{path!r} not listed in {parent!r}: {sorted(entries)}"
    e = entries[name]
    assert (e.qid.path, e.qid.type) == (d.qid.path, d.qid.type), f"{path!r}: {e.qid} {d.qid}"


async def check_dir(tree: Tree, path: str) -> None:
    entries = await tree.listdir(path)
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), f"{path!r}: duplicate entries {names}"
    assert "." not in names and ".." not in names
    for e in entries:
        d = await tree.stat(join(path, e.name))
        assert (d.qid.path, d.qid.type, d.name) == (e.qid.path, e.qid.type, e.name)
        assert d.mode == e.mode, f"{join(path, e.name)!r}: mode {d.mode:#o} vs {e.mode:#o}"


# --- check_rw ------------------------------------------------------------------------------
REFUSALS = frozenset({"mkdir", "holes", "wstat", "modes"})  # the names check_rw's refuses takes
SKIPS = frozenset({"create-existing"})  # the names check_rw's skip takes


async def check_rw(
    tree: Tree,
    base: str,
    *,
    refuses: Mapping[str, str] | None = None,
    skip: Mapping[str, str] | None = None,
) -> None:
    """Write behaviour in directory ``base`` (see the module docstring)."""
    refuses, skip = refuses or {}, skip or {}
    if unknown := set(refuses) - REFUSALS:
        raise ValueError(f"unknown refusals {sorted(unknown)}; known: {sorted(REFUSALS)}")
    if unknown := set(skip) - SKIPS:
        raise ValueError(f"unknown skips {sorted(unknown)}; known: {sorted(SKIPS)}")
    before = {e.name for e in await tree.listdir(base)}
    f = join(base, PREFIX + "file")
    qid = await tree.create(f, 0o664)
    assert not qid.type & QTDIR
    d0 = await tree.stat(f)
    assert (d0.qid.path, d0.length, d0.name) == (qid.path, 0, PREFIX + "file")
    if "create-existing" not in skip:
        with pytest.raises(Error):
            await tree.create(f, 0o664)  # create over an existing name

    assert await tree.write(f, b"hello") == 5
    assert await tree.read(f) == b"hello"
    d1 = await tree.stat(f)
    assert d1.length == 5 and d1.qid.vers != d0.qid.vers, "qid.vers must change on write"
    assert await tree.write(f, b"XY", offset=3) == 2
    assert await tree.read(f) == b"helXY"
    assert await tree.read(f, offset=1, count=3) == b"elX"
    if "holes" in refuses:
        with pytest.raises(Error):
            await tree.write(f, b"abc", offset=8)
        assert await tree.read(f) == b"helXY"
    else:
        await tree.write(f, b"abc", offset=8)
        assert await tree.read(f) == b"helXY\0\0\0abc"
        assert await tree.read(f, offset=11) == b""
    await tree.write(f, b"new", trunc=True)
    assert await tree.read(f) == b"new"

    if "wstat" in refuses:
        with pytest.raises(Error):
            await tree.wstat(f, dataclasses.replace(Dir.nulldir(), length=2))
        assert await tree.read(f) == b"new"
        await tree.remove(f)
    else:
        await check_wstat(tree, base, f, modes="modes" not in refuses)
    if "mkdir" in refuses:
        with pytest.raises(Error):
            await tree.create(join(base, PREFIX + "dir"), DMDIR | 0o775)
    else:
        await check_subdir(tree, base)
    after = {e.name for e in await tree.listdir(base)}
    assert after == before, f"check_rw left {after - before} behind"


async def check_wstat(tree: Tree, base: str, f: str, modes: bool = True) -> None:
    null = Dir.nulldir()
    d = await tree.stat(f)
    await tree.wstat(f, null)  # all don't-touch: a sync request, changes nothing
    same = await tree.stat(f)
    assert dataclasses.replace(same, atime=0) == dataclasses.replace(d, atime=0)

    await tree.wstat(f, dataclasses.replace(null, length=2))
    assert await tree.read(f) == b"ne"
    assert (await tree.stat(f)).length == 2

    await tree.wstat(f, dataclasses.replace(null, mode=(d.mode & ~0o777) | 0o640))
    m = await tree.stat(f)
    assert m.mode & 0o777 == 0o640 if modes else m.mode & 0o200
    assert (m.name, m.uid, m.gid, m.length, m.qid.path) == (d.name, d.uid, d.gid, 2, d.qid.path)

    g = join(base, PREFIX + "renamed")
    await tree.wstat(f, dataclasses.replace(null, name=PREFIX + "renamed"))
    with pytest.raises(Error):
        await tree.stat(f)
    r = await tree.stat(g)
    assert (r.name, r.qid.path, r.mode) == (PREFIX + "renamed", d.qid.path, m.mode)
    assert await tree.read(g) == b"ne"
    await tree.remove(g)
    with pytest.raises(Error):
        await tree.stat(g)
    assert PREFIX + "renamed" not in {e.name for e in await tree.listdir(base)}


async def check_subdir(tree: Tree, base: str) -> None:
    sub = join(base, PREFIX + "dir")
    q = await tree.create(sub, DMDIR | 0o775)
    assert q.type & QTDIR
    s = await tree.stat(sub)
    assert s.mode & DMDIR and s.qid.path == q.path
    assert await tree.listdir(sub) == []
    inner = join(sub, "inner")
    await tree.create(inner, 0o664)
    await tree.write(inner, b"x" * 10000)
    assert await tree.read(inner, offset=9990) == b"x" * 10
    assert [e.name for e in await tree.listdir(sub)] == ["inner"]
    with pytest.raises(Error):
        await tree.open_close(sub, OWRITE)
    with pytest.raises(Error):
        await tree.remove(sub)  # not empty
    assert (await tree.stat(sub)).qid.path == q.path
    await tree.remove(inner)
    await tree.remove(sub)
    with pytest.raises(Error):
        await tree.stat(sub)


# --- NinepTree: the adapter over a 9P session -----------------------------------------------
@dataclasses.dataclass
class NinepTree:
    """``Tree`` over an attached 9P session (``root`` is the attach fid)."""

    root: cf.Fid

    async def stat(self, path: str) -> Dir:
        return await cf.stat_path(self.root, path)

    async def listdir(self, path: str) -> list[Dir]:
        return await cf.readdir_path(self.root, path)

    async def read(self, path: str, offset: int = 0, count: int = 8192) -> bytes:
        async with await cf.open_path(self.root, path, OREAD) as fid:
            return await fid.read(count, offset)

    async def write(self, path: str, data: bytes, offset: int = 0, trunc: bool = False) -> int:
        async with await cf.open_path(self.root, path, OWRITE | (OTRUNC if trunc else 0)) as fid:
            return await fid.write(data, offset)

    async def create(self, path: str, perm: int, mode: int = OREAD) -> Qid:
        async with await cf.create_path(self.root, path, perm, mode) as fid:
            return fid.qid

    async def remove(self, path: str) -> None:
        await cf.remove_path(self.root, path)

    async def wstat(self, path: str, d: Dir) -> None:
        await cf.wstat_path(self.root, path, d)

    async def open_close(self, path: str, mode: int) -> None:
        fid = await cf.open_path(self.root, path, mode)
        await fid.clunk()


@contextlib.asynccontextmanager
async def ninep_session(link: Link, uname: str = "glenda", aname: str = "") -> AsyncIterator[
    NinepTree
]:
    """A NinepTree over ``link`` (version + attach), closed on exit."""
    session = Session(link)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        await session.version()
        root = await cf.attach(session, uname, aname)
        try:
            yield NinepTree(root)
        finally:
            # cancelling run hangs up and closes the link after its read has stopped; closing
            # first raced a read still pending on an LP49 fd ("fd out of range or not open")
            nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def ninep_tree(fs: FileServer, uname: str = "glenda") -> AsyncIterator[NinepTree]:
    """Serve ``fs`` in process over a pipe and yield a NinepTree attached to it."""
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
        async with ninep_session(client, uname) as tree:
            yield tree
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def dial_tree(addr: str, uname: str = "glenda") -> AsyncIterator[NinepTree]:
    """A NinepTree on the 9P server at dial string ``addr``."""
    async with ninep_session(await dial(addr), uname) as tree:
        yield tree
