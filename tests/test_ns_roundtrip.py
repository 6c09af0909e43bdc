"""A faithful name space round trip: ``ns`` prints binds as binds and mounts (with their
server) only for a real ``#M`` mount, in quotes a namespace file reads; ``newns -n`` of the
saved text in a fresh process rebuilds the same tree, which a walker compares file by file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, QTDIR
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import ServerSpec, start_servers
from tests.sh_helpers import sh

SKIP = ("/proc", "/fd", "/env")  # per process by nature: pids, fds, newns' private $user
BUILD = ("mount -c /srv/ramfs /tmp; mkdir /tmp/a /tmp/u /tmp/'sp ace'; echo x > /tmp/a/f\n"
         "echo y > /tmp/u/g; bind -a /tmp/a /tmp/u; bind -b '#c' /tmp/u; bind /tmp/a /n\n"
         "bind -c '#e' /env; bind '#|' /tmp/'sp ace'\n")


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with boot(ram=8 << 20) as n, trio.open_nursery() as nursery:
        await start_servers(n, nursery, (ServerSpec("ramfs", "ramfs", ("ramfs",)),))
        n.programs["tree"] = tree
        yield n
        nursery.cancel_scope.cancel()


async def walk(path: str, out: list[str], depth: int = 0) -> None:
    fd = await lib.open(path, OREAD)
    try:
        dirs = sorted(await lib.dirreadall(fd), key=lambda d: d.name)
    finally:
        await lib.close(fd)
    for d in dirs:
        sub = path.rstrip("/") + "/" + d.name
        if sub in SKIP:
            continue
        isdir = bool(d.qid.type & QTDIR)
        out.append(f"{sub} {'d' if isdir else d.length} {chr(d.type)}{d.dev}")
        if isdir and depth < 3:
            try:
                await walk(sub, out, depth + 1)
            except Error as e:
                out.append(f"{sub}: {e.ename}")


async def tree(_: list[str]) -> None:
    """A program: every name under / (to depth 4) with its size and device, one a line."""
    out: list[str] = []
    await walk("/", out)
    await lib.print("".join(line + "\n" for line in out))


async def test_ns_prints_binds_as_binds_and_one_mount(node: Node) -> None:
    r = await sh(node, BUILD + "ns")
    lines = r.out.splitlines()
    assert "mount -c '#s/ramfs' /tmp" in lines
    assert [x for x in lines if x.startswith("mount")] == ["mount -c '#s/ramfs' /tmp"]
    assert "bind  /tmp/u /tmp/u" in lines  # the union's first member: the directory itself
    assert "bind -a /tmp/a /tmp/u" in lines
    assert "bind -b '#c' /tmp/u" in lines
    assert "bind  '#|' '/tmp/sp ace'" in lines
    assert lines[-1] == "cd /"


async def test_proc_ns_is_plain_text_one_line_per_read(node: Node) -> None:
    r = await sh(node, BUILD + "cat /proc/$pid/ns")
    assert "bind -b #c /tmp/u" in r.out.splitlines()  # the kernel's text: no quoting


async def test_saved_ns_replays_to_the_same_tree(node: Node) -> None:
    r = await sh(node, BUILD + "ns > /tmp/saved\ntree\necho '==='\n"
                       "newns -n /tmp/saved tree\necho '==='\nnewns -n /tmp/saved ns\n"
                       "echo '==='; cat /tmp/saved")
    assert r.err == ""
    here, replayed, ns2, saved = r.out.split("===\n")
    for name in ("/tmp/u/f", "/tmp/u/g", "/tmp/u/cons", "/n/f", "/tmp/sp ace/data"):
        assert any(line.startswith(name + " ") for line in here.splitlines()), name
    assert replayed == here
    assert ns2 == saved  # and the replay's own ns is the same text again


async def test_addns_adds_to_the_current_name_space(node: Node) -> None:
    """addns changes the name space it shares with the shell, as a bind would; newns's is
    its own."""
    r = await sh(node, "echo 'bind -a ''#c'' /n' > /env/nsf; ls /n | wc -l\n"
                       "newns -n /env/nsf ls /n | wc -l; ls /n | wc -l\n"
                       "addns -n /env/nsf ls /n | wc -l; ls /n | wc -l\n"
                       "newns -n /nonexistent; echo $status")
    before, new, after, added, later, status = r.out.splitlines()
    assert int(new) > int(before) + 5 and after == before  # newns: a private name space
    assert added == later and int(added) == int(before) + int(new)  # addns: the shared one
    assert "/nonexistent" in status and "newns: /nonexistent:" in r.err
