"""The page cache in booted nodes: ``[node] pagecache`` and ``#c/pagecache``.

Everything goes through the real path: programs make system calls through ``lp49fs.lib``,
ramfs runs as an LP49 process serving 9P on a pipe, ``#M`` proxies the mount on /tmp.  The
nodes run the classic path (``bus=False``): a file granted a service-bus channel is read
straight from its server, so its reads never reach ``#M`` or the cache.
"""

from __future__ import annotations

import trio

from lp49fs import lib
from lp49fs.cmd._util import readfile
from lp49fs.ninep import ORDWR, Qid
from lp49fs.node.boot import Node, boot
from lp49fs.node.config import ConfigError, parse
from lp49fs.node.servers import ServerSpec, start_servers, stop_servers

GUARD = 20  # seconds: a guard against a hang, never a timing assertion
PLAIN = (ServerSpec("ramfs", "ramfs", ("ramfs", "-S", "ramfs"), "/tmp"),)  # no -r: forgets


async def run(node: Node, body: object) -> str:
    node.programs["t"] = body  # type: ignore[assignment]
    return await node.run("t", ["t"])


def counters(text: bytes) -> dict[str, int]:
    """``#c/pagecache`` as {name: number} (the 'N/M pages' line gives 'pages': N)."""
    out = {}
    for line in text.decode().splitlines():
        num, _, name = line.partition(" ")
        if name:
            out[name] = int(num.split("/")[0])
    return out


async def put(path: str, data: bytes) -> Qid:
    fd = await lib.create(path, ORDWR, 0o644)
    await lib.write(fd, data)
    await lib.close(fd)
    return (await lib.stat(path)).qid


def test_the_config_switch_and_size() -> None:
    cfg = parse('[node]\npagecache = false\npagecache_size = "1M"\n')
    assert (cfg.pagecache, cfg.cachepages) == (False, 256)
    assert parse("").pagecache is True
    try:
        parse('[node]\npagecache_size = "lots"\n')
    except ConfigError as e:
        assert "pagecache_size" in str(e)
    else:
        raise AssertionError("a bad size was accepted")


async def test_dev_pagecache_counts_hits_and_the_switch_turns_it_off() -> None:
    seen: dict[bool, dict[str, int]] = {}
    for on in (True, False):

        async def client(argv: list[str], on: bool = on) -> None:
            await put("/tmp/f", b"sixteen bytes...")
            for _ in range(3):
                assert await readfile("/tmp/f") == b"sixteen bytes..."
            seen[on] = counters(await readfile("/dev/pagecache"))

        async with boot(pagecache=on, bus=False) as node, trio.open_nursery() as n:
            svs = await start_servers(node, n, PLAIN)
            with trio.fail_after(GUARD):
                assert await run(node, client) == ""
            await stop_servers(node, svs)
    assert seen[True]["hits"] >= 2 and seen[True]["pages"] >= 1
    assert seen[False]["hits"] == seen[False]["pages"] == 0
