"""The namespace-file interpreter (lp49fs.cmd.newns): parsing tables, $var rules, and newns/addns
run inside an LP49 process on a booted node (failing lines skipped, ". file", clear, cd)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from lp49fs import lib
from lp49fs.cmd import newns as ns
from lp49fs.cmd.newns import Op
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE
from lp49fs.node.boot import Node
from lp49fs.node.servers import ServerSpec, start_servers
from lp49fs.syscall import MAFTER, MBEFORE, MCACHE, MCREATE, MREPL
from tests.lib_helpers import node, run_as

__all__ = ["node"]

PARSE = [
    ("blank and comments", "\n   \n# c\n\t# indented comment\n", []),
    ("bind", "bind #c /dev", [Op(1, "bind", MREPL, ("#c", "/dev"))]),
    ("# inside a line is an argument", "bind -a #S /dev # x",
     [Op(1, "bind", MAFTER, ("#S", "/dev", "#", "x"))]),
    ("tabs and runs of blanks", "mount\t-c   /srv/ramfs\t\t/tmp  spec",
     [Op(1, "mount", MCREATE, ("/srv/ramfs", "/tmp", "spec"))]),
    ("grouped flags", "bind -bcC a b", [Op(1, "bind", MBEFORE | MCREATE | MCACHE, ("a", "b"))]),
    ("separate flags", "bind -a -c a b", [Op(1, "bind", MAFTER | MCREATE, ("a", "b"))]),
    ("unknown flag letters ignored", "bind -q -a a b", [Op(1, "bind", MAFTER, ("a", "b"))]),
    ("flags end at --", "bind -- -a b", [Op(1, "bind", MREPL, ("-a", "b"))]),
    ("quotes kept until the line runs", "bind '#c' /dev", [Op(1, "bind", MREPL, ("'#c'", "/dev"))]),
    ("a quoted blank", "bind 'a b'  c", [Op(1, "bind", MREPL, ("'a b'", "c"))]),
    ("ns output", "mount -c '#s/ramfs' /tmp ", [Op(1, "mount", MCREATE, ("'#s/ramfs'", "/tmp"))]),
    ("line numbers count comments", "# x\n\nclear\ncd /tmp",
     [Op(3, "clear", 0, ()), Op(4, "cd", 0, ("/tmp",))]),
    ("dot", ". /lib/namespace.local", [Op(1, ".", 0, ("/lib/namespace.local",))]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "ops"), [p[1:] for p in PARSE], ids=[p[0] for p in PARSE])
def test_parse(text: str, ops: list[Op]) -> None:
    assert ns.parse(text) == ops


ENV = {"user": "glenda", "sysname": "helix", "a": "A", "empty": ""}
EXPAND = [
    ("plain", "/usr/x", [], "/usr/x"),
    ("whole word", "$user", ["user"], "glenda"),
    ("ends at slash", "/usr/$user/tmp", ["user"], "/usr/glenda/tmp"),
    ("ends at dollar", "$a$user", ["a", "user"], "Aglenda"),
    ("dot does not end a name", "/lib/namespace.$sysname", ["sysname"], "/lib/namespace.helix"),
    ("name runs to the end", "x$sysname.local", ["sysname.local"], "x"),
    ("unset is empty", "/n/$nosuch/x", ["nosuch"], "/n//x"),
    ("set but empty", "[$empty]", ["empty]"], "["),
    ("bare dollar", "a$/b", [], "a/b"),
    ("trailing dollar", "a$", [], "a"),
    ("quotes removed", "'#c'", [], "#c"),
    ("a quote inside quotes", "'it''s'", [], "it's"),
    ("quoted dollar is literal", "'$user'/$user", ["user"], "$user/glenda"),
    ("quote ends a name", "$user'.x'", ["user"], "glenda.x"),
]  # fmt: skip


@pytest.mark.parametrize(("arg", "names", "want"), [e[1:] for e in EXPAND],
                         ids=[e[0] for e in EXPAND])  # fmt: skip
def test_expand(arg: str, names: list[str], want: str) -> None:
    assert ns.varnames(arg) == names
    assert ns.expand(arg, ENV) == want


def test_default_namespace_parses_to_the_standard_binds() -> None:
    ops = ns.parse(ns.DEFAULT_NAMESPACE)
    assert Op(2, "bind", MREPL, ("#c", "/dev")) in ops
    assert any(o.name == "mount" and o.args == ("/srv/ramfs", "/tmp") and o.flag == MCREATE
               for o in ops)  # fmt: skip


async def _nslines() -> list[str]:
    fd = await lib.open(f"#p/{await lib.getpid()}/ns", OREAD)
    lines = []
    while data := await lib.read(fd, 8192):
        lines.append(data.decode().rstrip("\n"))
    await lib.close(fd)
    return lines


async def _write(path: str, text: str) -> None:
    fd = await lib.create(path, OWRITE, 0o664)
    await lib.write(fd, text.encode())
    await lib.close(fd)


async def test_newns_default_builds_the_standard_name_space(node: Node) -> None:
    ether = node.core.devtab.get("l")  # #l without a card cannot be attached either
    missing = sum(dc not in node.core.devtab for dc in "SI") + (not getattr(ether, "ctlrs", 0))

    async with _servers(node):

        async def body() -> None:
            failed = await ns.newns("glenda")
            lines = await _nslines()
            assert "bind  #c /dev" in lines
            assert "bind -c #e /env" in lines
            assert "bind -c #s /srv" in lines
            assert "mount -c #s/ramfs /tmp " in lines
            assert lines[-1] == "cd /"
            assert failed == missing  # their binds are skipped silently
            assert await ns.getenv("user") == "glenda"
            assert await ns.getenv("home") == "/usr/glenda"
            await _write("/tmp/made", "x")  # -c: ramfs takes creates
            assert (await lib.stat("/tmp/made")).length == 1

        assert await run_as(node, body) == ""


async def test_addns_skips_failing_lines_and_runs_the_rest(node: Node) -> None:
    text = """
bind /nonexistent /tmp
frobnicate a b
bind a
import tcp!h!1 /n/h
bind #e /mnt
unmount /nothing/mounted
mount /srv/none /n
bind -a -b #c /n
bind -b #c /n
"""

    async def body() -> None:
        assert await ns.addns(text) == 7
        lines = await _nslines()
        assert "bind  #e /mnt" in lines
        assert "bind -b #c /n" in lines
        assert not any("/tmp" in ln for ln in lines)
        with pytest.raises(Error, match="connection refused"):
            await ns.nsop(Op(1, "import", 0, ("tcp!127.0.0.1!1", "/n/h")))

    assert await run_as(node, body) == ""


async def test_vars_are_read_from_env_when_the_line_runs(node: Node) -> None:
    async def body() -> None:
        await ns.putenv("where", "mnt")
        await ns.putenv("list", "n\0other\0")  # a list: the first element counts
        assert await ns.addns("bind #c /$where\nbind #p /$list\n") == 0
        assert (await lib.stat("/mnt/sysname")).name == "sysname"
        assert (await lib.stat("/n/1")).name == "1"  # /proc/1: the boot process

    assert await run_as(node, body) == ""


async def test_dot_file_cd_unmount_and_clear(node: Node) -> None:
    async def body() -> None:
        await ns.addns("bind -c #e /env\n")
        await _write("/env/nsinc", "bind #c /mnt\ncd /mnt\n")
        await _write("/env/loop", ". /env/loop\n")
        assert await ns.addns(". /env/nsinc\n. /env/loop\n") == 1  # the loop ends, nested
        assert await lib.getwd() == "/mnt"
        assert await ns.addns("cd /\nunmount /mnt\n") == 0
        with pytest.raises(Error):
            await lib.stat("/mnt/sysname")
        assert await ns.addns("clear\nbind #c /dev\n") == 0
        assert await _nslines() == ["bind  #c /dev", "cd /"]

    assert await run_as(node, body) == ""


@asynccontextmanager
async def _servers(node: Node) -> AsyncIterator[None]:
    """ramfs started and posted by the node's own server code, for the block."""
    async with trio.open_nursery() as nursery:
        spec = ServerSpec("ramfs", "ramfs", ("ramfs", "-S", "ramfs"))
        await start_servers(node, nursery, (spec,))
        yield
        nursery.cancel_scope.cancel()
