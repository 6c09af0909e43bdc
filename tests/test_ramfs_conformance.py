"""The shared tree suite (tests/conformance.py) over ramfs, in process and over TCP."""

from __future__ import annotations

import trio
from conformance import check_rw, check_tree, dial_tree, ninep_tree

from lp49fs.lib9p import serve_forever
from lp49fs.ninep import DMDIR
from lp49fs.servers.ramfs import Ramfs
from lp49fs.transport import announce


async def test_ramfs_tree_and_rw() -> None:
    async with ninep_tree(Ramfs("glenda")) as tree:
        await check_tree(tree, {"": "dir"})
        await check_rw(tree, "")
        await tree.create("a", DMDIR | 0o775)
        await tree.create("a/b", 0o664)
        await tree.write("a/b", b"data")
        await check_tree(tree, {"": "dir", "a": "dir", "a/b": "file"})
        await check_rw(tree, "a")


async def test_ramfs_conformance_over_tcp() -> None:
    listener = await announce("tcp!127.0.0.1!0")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_forever, listener, Ramfs("glenda"))
        async with dial_tree(str(listener.addr)) as tree:
            await check_tree(tree, {"": "dir"})
            await check_rw(tree, "")
        nursery.cancel_scope.cancel()
    await listener.aclose()
