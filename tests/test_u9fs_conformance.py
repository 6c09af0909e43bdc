"""The shared tree suite (tests/conformance.py) over u9fs on a temporary directory."""

from __future__ import annotations

import pathlib

from conformance import check_rw, check_tree, ninep_tree

from lp49fs.ninep import DMDIR
from lp49fs.servers.u9fs import U9fs


async def test_u9fs_tree_and_rw(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_bytes(b"linux")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g").write_bytes(b"")
    async with ninep_tree(U9fs(str(tmp_path), owner="glenda")) as tree:
        await check_tree(tree, {"": "dir", "f": "file", "d": "dir", "d/g": "file"})
        await check_rw(tree, "")
        await tree.create("a", DMDIR | 0o775)
        await tree.create("a/b", 0o664)
        await tree.write("a/b", b"data")
        await check_tree(tree, {"": "dir", "a": "dir", "a/b": "file"})
        await check_rw(tree, "a")
    assert (tmp_path / "a" / "b").read_bytes() == b"data"
