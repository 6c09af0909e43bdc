"""The Pager's page cache (lp49fs.hvm.pagecache) as #M uses it: hits, validation, bounds.

The node side is real (system calls, namec, ``#M``, its Session, a ``#|`` pipe) and so is the
server: ramfs served by lib9p on the pipe's far end, through a link that counts the
T-messages it receives, so a test can say how many Treads a read cost.  Another client of the
same ramfs writes through its own 9P connection, as a second machine would.  A posted server
that restarts with an empty tree, whose new files reuse the old ones' qid paths and versions,
must not be answered from its predecessor's pages.  (test_pagecache_node.py boots whole nodes.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing
from mnt_helpers import CONFIG, fdlink, pipe
from servant_tree import boot

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.core.proc import Proc
from lp49fs.hvm.pagecache import PAGE, PageCache, cacheable
from lp49fs.lib9p import serve
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import attach, create_path, write_file
from lp49fs.ninep import NEED_DATA, ORDWR, OREAD, OWRITE, QTAPPEND, QTDIR, QTFILE, Framer, Qid
from lp49fs.ninep import decode as decode9p
from lp49fs.servants.mnt import ChanLink
from lp49fs.servers.ramfs import Ramfs

GUARD = 20  # seconds: a guard against a hang, never a timing assertion


class Counting:
    """A server link that counts the T-messages arriving on it, by type name."""

    def __init__(self, link: ChanLink) -> None:
        self.link = link
        self.framer = Framer(1 << 21)
        self.seen: Counter[str] = Counter()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.link.receive_some(max_bytes)
        self.framer.feed(data)
        while (frame := self.framer.next_frame()) is not NEED_DATA:
            assert isinstance(frame, bytes)
            self.seen[type(decode9p(frame)[1]).__name__] += 1
        return data

    async def send_all(self, data: bytes) -> None:
        await self.link.send_all(data)

    async def aclose(self) -> None:
        await self.link.aclose()


@asynccontextmanager
async def mounted(cache: PageCache | None) -> AsyncIterator[tuple[Proc, Counting, Ramfs]]:
    """A test node whose /tmp is a ramfs on a pipe; ``cache`` is its Pager's page cache."""
    p = await boot(config=CONFIG)
    p.core.pagecache = cache
    near, far = await pipe(p)
    link = Counting(await fdlink(p, far))
    fs = Ramfs()
    async with trio.open_nursery() as n:
        n.start_soon(lambda: serve(link, fs))
        await sys.mount(p, near, -1, "/tmp", MREPL | MCREATE, "")
        await sys.close(p, near)
        with trio.fail_after(GUARD):
            yield p, link, fs
        await sys.unmount(p, None, "/tmp")
        n.cancel_scope.cancel()


async def put(p: Proc, name: str, data: bytes) -> None:
    fd = await sys.create(p, name, OWRITE, 0o644)
    assert await sys.write(p, fd, data) == len(data)
    await sys.close(p, fd)


async def get(p: Proc, name: str, count: int = 16, offset: int = 0) -> bytes:
    fd = await sys.open(p, name, OREAD)
    try:
        return await sys.pread(p, fd, count, offset)
    finally:
        await sys.close(p, fd)


@asynccontextmanager
async def other_client(fs: Ramfs) -> AsyncIterator[Session]:
    """A second 9P connection to the same ramfs (another machine, in effect)."""
    a, b = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as n:
        n.start_soon(lambda: serve(b, fs))
        s = Session(a)
        await n.start(s.run)
        await s.version(8192)
        yield s
        n.cancel_scope.cancel()


def test_the_cacheable_rule() -> None:
    assert cacheable(Qid(QTFILE, 1, 7))
    assert not cacheable(Qid(QTFILE, 0, 7))  # vers 0: a server that does not version it
    assert not cacheable(Qid(QTDIR, 3, 7))
    assert not cacheable(Qid(QTAPPEND, 3, 7))


async def test_a_cached_read_sends_no_tread() -> None:
    cache = PageCache()
    async with mounted(cache) as (p, link, _):
        await put(p, "/tmp/a", b"0123456789abcdef")
        assert await get(p, "/tmp/a") == b"0123456789abcdef"
        before = link.seen["Tread"]
        assert before == 1 and cache.misses == 1
        for _ in range(3):
            assert await get(p, "/tmp/a", 8, 4) == b"456789ab"
        assert link.seen["Tread"] == before  # three opens, three hits, no Tread
        assert cache.hits == 3 and link.seen["Topen"] >= 4  # every open still asks the server
        assert await get(p, "/tmp/a", 100, 10) == b"abcdef"  # the known end of the file
        assert await get(p, "/tmp/a", 16, 16) == b""
        assert link.seen["Tread"] == before


async def test_a_write_by_another_client_is_seen_at_the_next_open() -> None:
    cache = PageCache()
    async with mounted(cache) as (p, link, fs), other_client(fs) as s:
        await put(p, "/tmp/b", b"old contents....")
        assert await get(p, "/tmp/b") == b"old contents...."
        root = await attach(s, "glenda")
        await write_file(root, "b", b"NEW")  # OTRUNC + Twrite: vers moves on the server
        n = link.seen["Tread"]
        assert await get(p, "/tmp/b") == b"NEW"
        assert link.seen["Tread"] == n + 1 and cache.dropped >= 1


async def test_a_write_through_this_node_drops_the_pages_of_an_open_file() -> None:
    cache = PageCache()
    async with mounted(cache) as (p, _, _):
        await put(p, "/tmp/c", b"x" * 3 * PAGE)
        rd = await sys.open(p, "/tmp/c", OREAD)
        assert await sys.pread(p, rd, 4, PAGE) == b"xxxx"
        wr = await sys.open(p, "/tmp/c", ORDWR)
        assert await sys.pwrite(p, wr, b"yy", PAGE + 1) == 2
        assert await sys.pread(p, rd, 4, PAGE) == b"xyyx"  # the same open fd sees the write
        await sys.close(p, wr)
        await sys.close(p, rd)


async def test_the_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = PageCache(maxpages=4)
    data = bytes(range(256)) * (10 * PAGE // 256)
    async with mounted(cache) as (p, _, _):
        await put(p, "/tmp/big", data)
        fd = await sys.open(p, "/tmp/big", OREAD)
        for i in range(10):
            assert await sys.pread(p, fd, PAGE, i * PAGE) == data[i * PAGE : (i + 1) * PAGE]
            assert cache.npages <= 4
        assert cache.evicted == 6
        hits = cache.hits
        assert await sys.pread(p, fd, PAGE, 9 * PAGE) == data[9 * PAGE :]  # still there
        assert cache.hits == hits + 1
        assert await sys.pread(p, fd, PAGE, 0) == data[:PAGE]  # evicted: read again
        assert cache.hits == hits + 1
        await sys.close(p, fd)


async def test_switched_off_every_read_is_a_tread() -> None:
    cache = PageCache(on=False)
    async with mounted(cache) as (p, link, _):
        await put(p, "/tmp/d", b"0123456789abcdef")
        for _ in range(3):
            assert await get(p, "/tmp/d") == b"0123456789abcdef"
        assert link.seen["Tread"] == 3 and cache.hits == cache.npages == 0


async def test_directories_and_unversioned_files_are_read_from_the_server() -> None:
    cache = PageCache()
    async with mounted(cache) as (p, link, _):
        await sys.close(p, await sys.create(p, "/tmp/e", OWRITE, 0o644))  # never written
        assert (await sys.stat(p, "/tmp/e")).qid.vers == 0
        await sys.create(p, "/tmp/dir", OREAD, 0o755 | (1 << 31))
        for _ in range(2):
            assert await get(p, "/tmp/e") == b""
            fd = await sys.open(p, "/tmp", OREAD)
            assert await sys.read(p, fd, 8192)
            await sys.close(p, fd)
        assert link.seen["Tread"] == 4 and cache.hits == 0


async def serve_posted(p: Proc, fs: Ramfs, n: trio.Nursery) -> trio.CancelScope:
    """Serve ``fs`` on a new pipe posted as /srv/ram; the scope that ends (kills) it."""
    near, far = await pipe(p)
    link = await fdlink(p, far)
    post = await sys.create(p, "/srv/ram", OWRITE, 0o600)
    await sys.write(p, post, str(near).encode())
    await sys.close(p, post)
    await sys.close(p, near)
    scope = trio.CancelScope()

    async def server() -> None:
        with scope:
            await serve(link, fs)

    n.start_soon(server)
    return scope


async def test_a_restarted_server_is_not_answered_from_its_predecessors_pages() -> None:
    p = await boot(config=CONFIG)
    p.core.pagecache = cache = PageCache()
    await sys.bind(p, "#s", "/srv", MREPL | MCREATE)
    async with trio.open_nursery() as n:
        with trio.fail_after(GUARD):
            first = await serve_posted(p, Ramfs(), n)
            fd = await sys.open(p, "/srv/ram", ORDWR)
            await sys.mount(p, fd, -1, "/tmp", MREPL | MCREATE, "")
            await sys.close(p, fd)
            await put(p, "/tmp/x", b"the first server")
            q1 = (await sys.stat(p, "/tmp/x")).qid
            assert await get(p, "/tmp/x") == await get(p, "/tmp/x") == b"the first server"
            assert cache.hits == 1
            first.cancel()  # the server dies; a new one with an empty tree is posted
            await sys.remove(p, "/srv/ram")
            second = Ramfs()
            await serve_posted(p, second, n)
            async with other_client(second) as s:  # another machine writes the new file
                f = await create_path(await attach(s, "glenda"), "x", 0o644, OWRITE)
                await f.write(b"the second one!!")
                await f.clunk()
            assert (await sys.stat(p, "/tmp/x")).qid == q1  # same path and vers
            assert await get(p, "/tmp/x") == b"the second one!!"
            await sys.unmount(p, None, "/tmp")
        n.cancel_scope.cancel()


async def test_a_read_that_raced_a_write_stores_nothing() -> None:
    cache = PageCache()
    key, q = (1, 5), Qid(QTFILE, 2, 5)
    gen = cache.cread(key, q, 0, 16)
    assert isinstance(gen, int)
    cache.cwrite(key)  # a write finished while the Tread was out
    cache.cupdate(key, q, gen, 0, PAGE, b"stale")
    assert cache.cread(key, q, 0, 16) != b"stale" and cache.npages == 0
    gen = cache.cread(key, q, 0, 16)
    assert isinstance(gen, int)
    cache.cupdate(key, q, gen, 0, PAGE, b"fresh")
    assert cache.cread(key, q, 0, 16) == b"fresh"
    cache.copen(key, Qid(QTFILE, 3, 5))  # the server says the file moved on
    assert cache.npages == 0
