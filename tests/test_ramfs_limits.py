"""ramfs's bounded memory (ramfs Rule 6, ``lp49fs.servers.ramdata``) through real 9P.

A write at 3 GiB stores one block and leaves the process's RSS where it was; lengths and
offsets past ``maxfile`` are ``file too large``; blocks past ``maxsize`` are ``file system
full``, with nothing changed; another client keeps being served meanwhile; a removed file's
blocks return to the store.  And alice cannot read bob's 0600 file (permissions against the
attach name).
"""

from __future__ import annotations

import dataclasses
import gc
import os

import pytest
import trio
from conformance import ninep_tree

from lp49fs.errors import Efbig, Efull, Error
from lp49fs.lib9p import clientfid as cf
from lp49fs.lib9p import serve
from lp49fs.lib9p.client import Session
from lp49fs.ninep import Dir
from lp49fs.servers.ramdata import BLOCK, Blocks, Store
from lp49fs.servers.ramfs import Ramfs
from lp49fs.transport import pipe_pair
from tests.waiting import DEADLINE

GiB = 1 << 30


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_a_write_at_3_gib_stores_one_block() -> None:
    fs = Ramfs("glenda")
    async with ninep_tree(fs) as t:
        await t.create("big", 0o644)
        before = rss()
        assert await t.write("big", b"hello", offset=3 * GiB) == 5
        assert rss() - before < 8 << 20  # a few MB at most, not 3 GB
        assert fs.store.used == BLOCK
        assert (await t.stat("big")).length == 3 * GiB + 5
        assert await t.read("big", offset=3 * GiB, count=100) == b"hello"
        assert await t.read("big", offset=GiB, count=16) == bytes(16)  # a hole reads zeros
        # a wstat of length 4 GiB is one field, not 4 GB
        await t.wstat("big", dataclasses.replace(Dir.nulldir(), length=4 * GiB))
        assert (await t.stat("big")).length == 4 * GiB
        assert fs.store.used == BLOCK and rss() - before < 8 << 20
        await t.wstat("big", dataclasses.replace(Dir.nulldir(), length=2))
        assert await t.read("big", offset=0, count=10) == bytes(2)
        assert fs.store.used == 0  # the far block is gone; the first was never written


async def test_offsets_and_lengths_past_maxfile_are_refused() -> None:
    fs = Ramfs("glenda", maxfile=1 << 20)
    async with ninep_tree(fs) as t:
        await t.create("f", 0o644)
        for offset in (1 << 20, 1 << 62, (1 << 64) - 2):
            with pytest.raises(Error, match=Efbig):
                await t.write("f", b"xy", offset=offset)
        with pytest.raises(Error, match=Efbig):
            await t.wstat("f", dataclasses.replace(Dir.nulldir(), length=2 << 20))
        assert await t.read("f", offset=(1 << 64) - 1, count=10) == b""
        assert (await t.stat("f")).length == 0 and fs.store.used == 0


async def test_the_store_fills_up_without_changing_anything() -> None:
    fs = Ramfs("glenda", maxsize=4 * BLOCK)
    async with ninep_tree(fs) as t:
        await t.create("a", 0o644)
        await t.write("a", b"x" * (3 * BLOCK))
        await t.create("b", 0o644)
        with pytest.raises(Error, match=Efull):  # one Twrite needing two blocks, one left
            await t.write("b", b"yy", offset=BLOCK - 1)
        assert (await t.stat("b")).length == 0
        await t.write("b", b"y" * BLOCK)  # what fits still goes in
        await t.remove("a")
        gc.collect()
        assert fs.store.used == BLOCK
        await t.write("b", b"z" * (3 * BLOCK), offset=BLOCK)
        assert (await t.stat("b")).length == 4 * BLOCK


async def test_another_client_is_served_during_a_huge_write() -> None:
    fs = Ramfs("glenda")
    async with ninep_tree(fs) as t:
        await t.create("small", 0o644)
        await t.write("small", b"steady")
        await t.create("big", 0o644)
        client, server = pipe_pair()
        async with trio.open_nursery() as n:
            n.start_soon(serve, server, fs)
            session = Session(client)
            await n.start(session.run)
            await session.version()
            other = await cf.attach(session, "glenda", "")
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as w:
                    for i in range(8):
                        w.start_soon(t.write, "big", b"w", (3 + i) * GiB)
                    for _ in range(50):
                        assert await cf.read_file(other, "small") == b"steady"
            n.cancel_scope.cancel()
    assert fs.store.used == 9 * BLOCK  # small's block and one per far write


def test_blocks_account_and_zero_the_tail() -> None:
    store = Store(limit=16 * BLOCK)
    b = Blocks(store)
    b.write(BLOCK - 2, b"abcd")
    assert store.used == 2 * BLOCK and b.read(BLOCK - 2, 10) == b"abcd"
    b.truncate(BLOCK - 1)
    assert store.used == BLOCK
    b.truncate(BLOCK + 4)
    assert b.read(BLOCK - 2, 10) == b"a" + bytes(5)  # nothing past a shrink comes back
    del b
    gc.collect()
    assert store.used == 0


async def test_alice_cannot_read_bobs_private_file() -> None:
    fs = Ramfs("glenda")
    async with ninep_tree(fs, uname="bob") as bob:
        await bob.create("secret", 0o600)
        await bob.write("secret", b"bob's")
        async with ninep_tree(fs, uname="alice") as alice:
            with pytest.raises(Error, match="permission denied"):
                await alice.read("secret")
            with pytest.raises(Error, match="permission denied"):
                await alice.write("secret", b"x")
        async with ninep_tree(fs, uname="none") as nobody:
            with pytest.raises(Error, match="permission denied"):
                await nobody.read("secret")
        assert await bob.read("secret") == b"bob's"
