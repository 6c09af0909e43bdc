"""ramfs semantics (DMEXCL, DMAPPEND, ORCLOSE, OTRUNC, qid.vers, wstat, permissions) and
the ``lp49 ramfs`` command serving over unix and TCP sockets."""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import trio
from conformance import NinepTree, check_tree, dial_tree, ninep_tree

from lp49fs.errors import Eexist, Einuse, Enotempty, Eperm, Error
from lp49fs.lib9p import clientfid as cf
from lp49fs.ninep import (
    DMAPPEND,
    DMDIR,
    DMEXCL,
    ORCLOSE,
    ORDWR,
    OREAD,
    OTRUNC,
    OWRITE,
    QTAPPEND,
    QTEXCL,
    Dir,
)
from lp49fs.servers.ramfs import Ramfs
from tests.waiting import DEADLINE

NULL = Dir.nulldir()


@pytest.fixture
async def tree() -> AsyncIterator[NinepTree]:
    """glenda's attach to a ramfs that adm (the host owner) started."""
    async with ninep_tree(Ramfs("adm"), uname="glenda") as t:
        yield t


async def test_dmexcl_second_open_fails_until_clunk(tree: NinepTree) -> None:
    q = await tree.create("lock", DMEXCL | 0o666)
    assert q.type & QTEXCL
    first = await cf.open_path(tree.root, "lock", ORDWR)
    with pytest.raises(Error) as e:
        await tree.open_close("lock", OREAD)
    assert e.value.ename == Einuse
    await first.clunk()
    await tree.open_close("lock", OREAD)  # released by the clunk


async def test_dmexcl_held_by_create(tree: NinepTree) -> None:
    fid = await cf.create_path(tree.root, "lock", DMEXCL | 0o666, OWRITE)
    with pytest.raises(Error):
        await tree.open_close("lock", OREAD)
    await fid.clunk()
    await tree.open_close("lock", OREAD)


async def test_dmappend_writes_at_eof(tree: NinepTree) -> None:
    q = await tree.create("log", DMAPPEND | 0o666)
    assert q.type & QTAPPEND
    await tree.write("log", b"one ")
    await tree.write("log", b"two", offset=0)  # the offset is ignored
    assert await tree.read("log") == b"one two"


async def test_orclose_removes_on_clunk(tree: NinepTree) -> None:
    await tree.create("tmp", 0o666)
    fid = await cf.open_path(tree.root, "tmp", OWRITE | ORCLOSE)
    await fid.write(b"x", 0)
    assert "tmp" in [d.name for d in await tree.listdir("")]
    await fid.clunk()
    assert "tmp" not in [d.name for d in await tree.listdir("")]
    with pytest.raises(Error):
        await tree.open_close("", OREAD | ORCLOSE)  # not on a directory


async def test_otrunc_empties_and_bumps_vers(tree: NinepTree) -> None:
    await tree.create("f", 0o666)
    await tree.write("f", b"hello")
    v = (await tree.stat("f")).qid.vers
    await tree.open_close("f", OWRITE | OTRUNC)
    d = await tree.stat("f")
    assert d.length == 0 and d.qid.vers != v


async def test_qid_vers_per_file_and_new_path_on_recreate(tree: NinepTree) -> None:
    qa = await tree.create("a", 0o666)
    qb = await tree.create("b", 0o666)
    dir_vers = (await tree.stat("")).qid.vers
    await tree.write("a", b"1")
    await tree.write("a", b"2")
    assert (await tree.stat("a")).qid.vers == qa.vers + 2
    assert (await tree.stat("b")).qid.vers == qb.vers  # other files untouched
    await tree.remove("a")
    assert (await tree.stat("")).qid.vers != dir_vers  # directory changed
    qa2 = await tree.create("a", 0o666)
    assert qa2.path not in (qa.path, qb.path)


async def test_wstat_is_all_or_nothing(tree: NinepTree) -> None:
    await tree.create("f", 0o644)
    await tree.create("g", 0o644)
    before = await tree.stat("f")
    with pytest.raises(Error) as e:  # a legal mode change with an illegal rename
        await tree.wstat("f", dataclasses.replace(NULL, mode=0o600, name="g"))
    assert e.value.ename == Eexist
    with pytest.raises(Error):  # a legal length with an illegal uid change
        await tree.wstat("f", dataclasses.replace(NULL, length=10, uid="bootes"))
    assert await tree.stat("f") == before


@pytest.mark.parametrize(
    "change",
    [
        {"uid": "bootes"},
        {"muid": "bootes"},
        {"mode": DMDIR | 0o755},  # DMDIR is immutable
        {"name": "a/b"},
        {"name": ".."},
    ],
)
async def test_wstat_refused(tree: NinepTree, change: dict[str, object]) -> None:
    await tree.create("f", 0o644)
    with pytest.raises(Error):
        await tree.wstat("f", dataclasses.replace(NULL, **change))  # type: ignore[arg-type]


async def test_the_host_owner_changes_owners() -> None:
    fs = Ramfs("adm")  # started by adm, the host owner
    async with ninep_tree(fs, uname="glenda") as glenda, ninep_tree(fs, uname="adm") as adm:
        await glenda.create("f", 0o644)
        with pytest.raises(Error) as e:  # an owner cannot give a file away
            await glenda.wstat("f", dataclasses.replace(NULL, uid="bootes"))
        assert e.value.ename == Eperm
        await glenda.wstat("f", dataclasses.replace(NULL, uid="glenda"))  # no change: allowed
        await adm.wstat("f", dataclasses.replace(NULL, uid="bootes", gid="sys"))
        d = await adm.stat("f")
        assert (d.uid, d.gid) == ("bootes", "sys")
        with pytest.raises(Error):  # glenda no longer owns it: no chgrp, no chmod
            await glenda.wstat("f", dataclasses.replace(NULL, gid="glenda"))
        with pytest.raises(Error):
            await glenda.wstat("f", dataclasses.replace(NULL, mode=0o666))
        await adm.wstat("f", dataclasses.replace(NULL, gid="adm"))  # not the owner, but host
        assert (await glenda.stat("f")).gid == "adm"


async def test_wstat_dir_length_and_mtime(tree: NinepTree) -> None:
    await tree.create("d", DMDIR | 0o755)
    await tree.wstat("d", dataclasses.replace(NULL, length=0))
    with pytest.raises(Error):
        await tree.wstat("d", dataclasses.replace(NULL, length=1))
    await tree.wstat("d", dataclasses.replace(NULL, mtime=12345))
    assert (await tree.stat("d")).mtime == 12345


async def test_permissions() -> None:
    fs = Ramfs("glenda")
    async with ninep_tree(fs, uname="glenda") as owner:
        await owner.create("private", DMDIR | 0o700)
        await owner.create("ro", 0o644)
        await owner.create("full", DMDIR | 0o775)
        await owner.create("full/x", 0o664)
        async with ninep_tree(fs, uname="other") as other:
            with pytest.raises(Error):  # no search permission: a partial walk
                await other.stat("private/anything")
            with pytest.raises(Error) as e:
                await other.listdir("private")
            assert e.value.ename == Eperm
            assert await other.read("ro") == b""
            with pytest.raises(Error):
                await other.write("ro", b"no")
            with pytest.raises(Error):
                await other.create("full/y", 0o666)  # no write permission in full
            with pytest.raises(Error):
                await other.remove("full/x")
            with pytest.raises(Error):
                await other.wstat("ro", dataclasses.replace(NULL, mode=0o666))  # not owner
            d = await owner.stat("full/x")
            assert (d.uid, d.gid) == ("glenda", "glenda")


async def test_create_perm_masked_by_directory(tree: NinepTree) -> None:
    await tree.create("d", DMDIR | 0o750)
    await tree.create("d/f", 0o666)
    await tree.create("d/e", DMDIR | 0o777)
    assert (await tree.stat("d/f")).mode & 0o777 == 0o640
    assert (await tree.stat("d/e")).mode & 0o777 == 0o750


async def test_remove_nonempty_and_root(tree: NinepTree) -> None:
    await tree.create("d", DMDIR | 0o755)
    await tree.create("d/f", 0o644)
    with pytest.raises(Error) as e:
        await tree.remove("d")
    assert e.value.ename == Enotempty
    with pytest.raises(Error):
        await tree.remove("")


async def test_removed_file_stays_readable_through_open_fid(tree: NinepTree) -> None:
    await tree.create("f", 0o644)
    await tree.write("f", b"still here")
    fid = await cf.open_path(tree.root, "f", OREAD)
    await tree.remove("f")
    assert await fid.read(100, 0) == b"still here"
    await fid.clunk()


async def test_dotdot_at_root_stays(tree: NinepTree) -> None:
    await tree.create("d", DMDIR | 0o755)
    root = await tree.stat("")
    assert (await tree.stat("..")).qid == root.qid
    assert (await tree.stat("d/..")).qid.path == root.qid.path


# --- the lp49 ramfs command ----------------------------------------------------------------
async def start_ramfs(addr: str, nursery: trio.Nursery) -> tuple[trio.Process, str]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen", addr, "--owner", "glenda"],
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await proc.stderr.receive_some(1)
            assert chunk, "lp49 ramfs exited before serving"
            line += chunk
    text = line.decode()
    assert text.startswith("ramfs: serving on "), text
    return proc, text.split()[-1]


@pytest.mark.parametrize("kind", ["unix", "tcp"])
async def test_lp49_ramfs_command(kind: str, tmp_path: pathlib.Path) -> None:
    addr = f"unix!{tmp_path}/ramfs" if kind == "unix" else "tcp!127.0.0.1!0"
    async with trio.open_nursery() as nursery:
        proc, bound = await start_ramfs(addr, nursery)
        try:
            from lp49fs.transport import dial

            bad = await dial(bound)
            await bad.send_all(b"\xff\xff\xff\xff garbage")
            assert await bad.receive_some(10) == b""
            await bad.aclose()
            async with dial_tree(bound) as t:
                await t.create("hello", 0o644)
                await t.write("hello", b"world")
                await check_tree(t, {"": "dir", "hello": "file"})
            assert proc.poll() is None  # still serving
            proc.terminate()
            assert proc.stderr is not None
            with trio.fail_after(DEADLINE):
                rest = b""
                while chunk := await proc.stderr.receive_some(4096):
                    rest += chunk
            assert rest.count(b"closing connection") == 1, rest
        finally:
            proc.kill()
            await proc.wait()
