"""u9fs semantics, checked on both sides: what 9P does is seen with os.stat and file
contents, what Linux does is seen through 9P; confinement; errors; --readonly (as a
U9fs flag: root ignores mode bits, so a read-only tree is how refusals are tested)."""

from __future__ import annotations

import dataclasses
import grp
import os
import pathlib
import pwd
import stat
from collections.abc import AsyncIterator

import pytest
import trio
from conformance import NinepTree, ninep_tree

from lp49fs.errors import Ebadattach, Eexist, Enonexist, Enotempty, Eperm, Error
from lp49fs.lib9p import clientfid as cf
from lp49fs.ninep import DMDIR, OEXEC, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, Dir
from lp49fs.servers.u9fs import U9fs

NULL = Dir.nulldir()


@pytest.fixture
def top(tmp_path: pathlib.Path) -> pathlib.Path:
    """A served directory inside a parent that holds a secret outside it."""
    (tmp_path / "secret").write_text("outside")
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
async def tree(top: pathlib.Path) -> AsyncIterator[NinepTree]:
    async with ninep_tree(U9fs(str(top), owner="glenda")) as t:
        yield t


async def ename(aw: object) -> str:
    with pytest.raises(Error) as e:
        await aw  # type: ignore[misc]
    return e.value.ename


async def test_9p_changes_seen_on_linux(tree: NinepTree, top: pathlib.Path) -> None:
    os.chmod(top, 0o750)
    await tree.create("d", DMDIR | 0o777)
    assert stat.S_IMODE(os.stat(top / "d").st_mode) == 0o750  # perm & dir perm
    await tree.create("d/f", 0o666)
    assert stat.S_IMODE(os.stat(top / "d/f").st_mode) == 0o640  # perm & (dir perm & 0666)
    await tree.create("d/x", 0o777)
    assert stat.S_IMODE(os.stat(top / "d/x").st_mode) == 0o751  # x bits kept
    await tree.write("d/f", b"hello, world")
    assert (top / "d/f").read_bytes() == b"hello, world"
    await tree.write("d/f", b"HELLO", offset=0)
    assert (top / "d/f").read_bytes() == b"HELLO, world"
    await tree.wstat("d/f", dataclasses.replace(NULL, name="g", length=5, mtime=1_000_000))
    assert not (top / "d/f").exists()
    st = os.stat(top / "d/g")
    assert (st.st_size, int(st.st_mtime)) == (5, 1_000_000)
    d = await tree.stat("d/g")
    assert (d.qid.path, d.length, d.mtime) == (st.st_ino, 5, 1_000_000)
    assert (d.uid, d.gid) == (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
    await tree.remove("d/g")
    assert not (top / "d/g").exists()
    assert await ename(tree.remove("d")) == Enotempty
    await tree.remove("d/x")
    await tree.remove("d")
    assert list(top.iterdir()) == []


async def test_linux_changes_seen_through_9p(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "a").write_bytes(b"one")
    assert [e.name for e in await tree.listdir("")] == ["a"]
    q1 = (await tree.stat("a")).qid
    assert await tree.read("a") == b"one"
    (top / "a").write_bytes(b"two!")
    q2 = (await tree.stat("a")).qid
    assert q2.path == q1.path and q2.vers != q1.vers
    assert await tree.read("a") == b"two!"
    os.rename(top / "a", top / "b")
    assert await ename(tree.stat("a")) == Enonexist
    assert (await tree.stat("b")).qid.path == q1.path
    (top / "sub").mkdir()
    (top / "sub" / "c").write_bytes(b"c")
    assert sorted(e.name for e in await tree.listdir("")) == ["b", "sub"]
    assert await tree.read("sub/c") == b"c"


async def test_open_fid_survives_linux_unlink(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "a").write_bytes(b"kept")
    async with await cf.open_path(tree.root, "a", OREAD) as fid:
        os.unlink(top / "a")
        assert await fid.read(10, 0) == b"kept"
        assert (await fid.stat()).length == 4  # fstat of the open fd


async def test_confinement(tree: NinepTree, top: pathlib.Path) -> None:
    root = await tree.stat("")
    assert root.name == "/"
    assert (await tree.stat("..")).qid == root.qid
    (top / "d").mkdir()
    assert (await tree.stat("d/../..")).qid.path == root.qid.path
    assert (await ename(tree.stat("../secret"))).endswith("does not exist")
    os.symlink("../secret", top / "esc")
    os.symlink("/etc", top / "etc")
    os.symlink("nowhere", top / "dangling")
    os.symlink("d", top / "indir")
    (top / "d" / "f").write_bytes(b"inside")
    os.symlink("d/f", top / "infile")
    os.close(os.open(os.fsencode(top) + b"/latin1-\xe9", os.O_CREAT | os.O_WRONLY))
    names = sorted(e.name for e in await tree.listdir(""))
    assert names == ["d", "indir", "infile"]  # escaping, dangling, non-UTF-8 names absent
    for bad in ("esc", "etc", "dangling", "etc/passwd"):
        assert await ename(tree.stat(bad)) == Enonexist
    assert await tree.read("infile") == b"inside"
    assert await tree.read("indir/f") == b"inside"
    assert (await tree.stat("indir")).qid.path == os.stat(top / "d").st_ino
    assert (await tree.stat("indir/..")).qid.path == root.qid.path  # lexical ..
    await tree.create("../x", 0o644)  # .. at the root is the root
    assert (top / "x").exists() and not (top.parent / "x").exists()


async def test_errors(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "f").write_bytes(b"")
    assert await ename(tree.stat("nope")) == Enonexist
    assert await ename(tree.create("f", 0o644)) == Eexist
    assert await ename(tree.open_close("f", OEXEC)) == Eperm  # no x bit, even for root
    os.chmod(top / "f", 0o755)
    await tree.open_close("f", OEXEC)
    assert await ename(tree.wstat("", dataclasses.replace(NULL, name="x"))) == Eperm
    assert await ename(tree.remove("")) == Eperm
    assert await ename(tree.wstat("f", dataclasses.replace(NULL, uid="nobody"))) == Eperm
    assert await ename(tree.wstat("f", dataclasses.replace(NULL, mode=DMDIR | 0o755))) == Eperm
    assert await ename(tree.wstat("f", dataclasses.replace(NULL, gid="no-such-grp"))) == Eperm


async def test_wstat_all_or_nothing(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "f").write_bytes(b"12345")
    (top / "g").write_bytes(b"")
    os.chmod(top / "f", 0o644)
    change = dataclasses.replace(NULL, name="g", length=1, mode=0o600)
    assert await ename(tree.wstat("f", change)) == Eexist
    st = os.stat(top / "f")
    assert (st.st_size, stat.S_IMODE(st.st_mode)) == (5, 0o644)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's group needs root here")
async def test_wstat_gid(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "f").write_bytes(b"")
    group = grp.getgrgid(1).gr_name  # daemon on Debian
    await tree.wstat("f", dataclasses.replace(NULL, gid=group))
    assert os.stat(top / "f").st_gid == 1
    assert (await tree.stat("f")).gid == group


async def test_open_modes(tree: NinepTree, top: pathlib.Path) -> None:
    (top / "f").write_bytes(b"data")
    await tree.write("f", b"x", trunc=True)
    assert (top / "f").read_bytes() == b"x"
    fid = await cf.open_path(tree.root, "f", ORDWR | ORCLOSE)
    await fid.write(b"y", 1)
    assert (top / "f").read_bytes() == b"xy"
    await fid.clunk()
    assert not (top / "f").exists()
    for mode in (OWRITE, ORDWR, OREAD | OTRUNC, OREAD | ORCLOSE):
        assert await ename(tree.open_close("", mode)) != ""
    fid = await cf.create_path(tree.root, "t", 0o644, ORDWR | ORCLOSE)
    assert (top / "t").exists()
    await fid.clunk()
    assert not (top / "t").exists()


async def test_fifo_runs_in_a_thread(top: pathlib.Path) -> None:
    os.mkfifo(top / "fifo")
    async with ninep_tree(U9fs(str(top), devices=True, owner="glenda")) as tree:
        await _fifo(tree, top)


async def _fifo(tree: NinepTree, top: pathlib.Path) -> None:
    async with await cf.open_path(tree.root, "fifo", ORDWR) as fid:
        await fid.write(b"through the pipe", 0)
        assert await fid.read(100, 0) == b"through the pipe"
        with trio.move_on_after(0.2) as scope:  # an empty FIFO blocks: the read is flushed
            await fid.read(100, 0)
        assert scope.cancelled_caught
        assert await tree.read("", count=65536)  # the server still answers
        w = os.open(top / "fifo", os.O_WRONLY | os.O_NONBLOCK)
        os.write(w, b"!")  # releases the abandoned worker thread (its byte is lost)
        os.close(w)
    assert [e.name for e in await tree.listdir("")] == ["fifo"]


async def test_readonly(top: pathlib.Path) -> None:
    (top / "f").write_bytes(b"ro")
    (top / "d").mkdir()
    async with ninep_tree(U9fs(str(top), readonly=True, owner="glenda")) as t:
        assert await t.read("f") == b"ro"
        assert [e.name for e in await t.listdir("d")] == []
        for aw in (
            t.open_close("f", OWRITE),
            t.open_close("f", OREAD | OTRUNC),
            t.open_close("f", OREAD | ORCLOSE),
            t.create("g", 0o644),
            t.create("d/g", DMDIR | 0o755),
            t.remove("f"),
            t.remove("d"),
            t.wstat("f", dataclasses.replace(NULL, length=0)),
            t.wstat("f", dataclasses.replace(NULL, name="h")),
        ):
            assert await ename(aw) == Eperm
        await t.wstat("f", NULL)  # a sync request is not a change
    assert (top / "f").read_bytes() == b"ro" and sorted(os.listdir(top)) == ["d", "f"]


async def test_attach_spec(top: pathlib.Path) -> None:
    fs = U9fs(str(top), owner="glenda")
    assert (await fs.attach("glenda", "/")).qid.path == os.stat(top).st_ino
    with pytest.raises(Error) as e:
        await fs.attach("glenda", "usr")
    assert e.value.ename == Ebadattach
