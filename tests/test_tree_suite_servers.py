"""The tree-behaviour suite of ``tests/test_tree_suite.py`` over every file server.

Each server serves the same small tree (``RAMFS_TREE``: ``f``, ``d``, ``d/g``), checked by
``check_tree`` and ``check_rw`` of ``tests/conformance.py``:

* ramfs, u9fs (on a temp dir) and dossrv (on a FAT image) served in process over a pipe
  (``ninep_tree``);
* exportfs of a booted node's ``/tmp`` (an ``exportfs -r /tmp`` program on a pipe, the 9P
  client inside the node speaking over the other end);
* ext2srv as a program of a node serving an mke2fs image on its disk, mounted on ``/mnt``
  (then ``e2fsck -fn`` is clean).

Where a server legitimately differs it says so through the suite's ``refuses`` option, with
the reason (FAT's one read-only bit).
"""

from __future__ import annotations

import pathlib
from collections.abc import Awaitable, Callable

import dos_helpers
import ext2_helpers
import pytest
from conformance import NinepTree, check_rw, check_tree, ninep_session, ninep_tree
from dos_helpers import mkfat, mput, mtools
from ext2_helpers import mkimage
from lib_tree import LibTree
from test_tree_suite import RAMFS_TREE, in_node, ramfs_files

from lp49fs import lib
from lp49fs.errors import Eexist, Error
from lp49fs.lib import RFFDG, RFNOWAIT, RFPROC
from lp49fs.ninep import DMDIR
from lp49fs.servers.ramfs import Ramfs
from lp49fs.servers.u9fs import U9fs


async def test_ramfs() -> None:
    async with ninep_tree(Ramfs("glenda")) as tree:
        await tree.create("d", DMDIR | 0o755)
        await tree.create("d/g", 0o644)
        await tree.create("f", 0o644)
        await check_tree(tree, RAMFS_TREE)
        await check_rw(tree, "")
        await check_rw(tree, "d")


async def test_u9fs(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_bytes(b"u9fs")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g").write_bytes(b"")
    async with ninep_tree(U9fs(str(tmp_path), owner="glenda")) as tree:
        await check_tree(tree, RAMFS_TREE)
        await check_rw(tree, "")
        await check_rw(tree, "d")


@pytest.mark.parametrize("fattype", [12, 32])
async def test_dossrv(tmp_path: pathlib.Path, fattype: int) -> None:
    """dossrv on an image made by mkfs.fat and filled by mtools; FAT keeps one read-only bit
    for the permissions, so ``modes``."""
    img = mkfat(tmp_path / "fat.img", fattype)
    mtools("mmd", img, "::d")
    mput(img, "f", b"dos", tmp_path)
    mput(img, "d/g", b"", tmp_path)
    modes = {"modes": "FAT keeps only a read-only attribute (0444 or 0666)"}
    async with dos_helpers.served(img) as tree:
        await check_tree(tree, RAMFS_TREE)
        await check_rw(tree, "", refuses=modes)
        await check_rw(tree, "d", refuses=modes)
    dos_helpers.fsck(img)


async def exportfs_session(body: Callable[[NinepTree], Awaitable[None]]) -> None:
    """``body(tree)`` on a 9P session with ``exportfs -r /tmp`` of a booted node."""

    async def client() -> None:
        await ramfs_files("/tmp")
        mine, theirs = await lib.pipe()
        argv = ["exportfs", "-r", "/tmp"]
        await lib.spawn("exportfs", argv, RFPROC | RFFDG | RFNOWAIT, fds={0: theirs})
        await lib.close(theirs)
        async with ninep_session(lib.FdLink(mine)) as tree:
            await body(tree)

    await in_node(client)


async def test_ext2srv(tmp_path: pathlib.Path) -> None:
    """ext2srv serving an image made by mke2fs, on sdC0 of a booted node, mounted on /mnt."""
    img = mkimage(tmp_path / "e.img", 8 << 20, 1024)

    async def body() -> None:
        await ramfs_files("/mnt")
        tree = LibTree("/mnt")
        await check_tree(tree, {**RAMFS_TREE, "lost+found": "dir"})
        await check_rw(tree, "")
        await check_rw(tree, "d")

    await ext2_helpers.served(img, body)
    ext2_helpers.fsck(img)


async def test_exportfs_of_a_nodes_tmp() -> None:
    async def body(tree: NinepTree) -> None:
        await check_tree(tree, RAMFS_TREE)
        await check_rw(tree, "")
        await check_rw(tree, "d")

    await exportfs_session(body)


async def test_exportfs_create_over_an_existing_name_fails() -> None:
    """exportfs relays Tcreate as create(2) with OEXCL: an existing name is not truncated."""

    async def body(tree: NinepTree) -> None:
        await tree.write("f", b"kept")
        with pytest.raises(Error) as e:
            await tree.create("f", 0o644)
        assert e.value.ename == Eexist
        assert await tree.read("f") == b"kept"  # not truncated

    await exportfs_session(body)
