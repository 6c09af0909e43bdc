"""One tree-behaviour suite over every servant of ``lp49fs.servants.CONFIG`` and every server.

The same ``check_tree`` (and ``check_rw`` where the tree is writable) from
``tests/conformance.py`` runs over each row below, each row naming the tree it expects.  The
servant rows are driven from the registry: a servant added to CONFIG without a row here fails
``test_servant`` with a message saying what to add.

How each row reaches its tree:

* servants: ``SysTree`` (system calls of a test process of a bare core with the whole CONFIG
  devtab), on ``#x`` or, for ``#|`` whose every attach is a new pipe, on a directory the pipe
  was bound to once; ``#M`` is ramfs mounted on ``/tmp`` of a booted node, by ``LibTree``.
* servers: the rows in ``tests/test_tree_suite_servers.py``, over the same ``RAMFS_TREE``.

Where a tree legitimately differs from the generic expectations the row says so through the
suite's documented options, with the reason: ``unread`` (files not probed past EOF: reads
block or ignore the offset) and ``refuses`` (write checks replaced by "this must fail").
"""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Awaitable, Callable, Iterable

import pytest
import trio
from conformance import EOF_PROBE, check_rw, check_tree
from lib_helpers import run_as
from lib_tree import LibTree
from servant_tree import SysTree, boot

from lp49fs import lib
from lp49fs.core import sysfile
from lp49fs.core.mount import MREPL
from lp49fs.core.proc import Proc, newproc
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE
from lp49fs.node import boot as nodeboot
from lp49fs.node.servers import start_servers, stop_servers
from lp49fs.servants import CONFIG
from lp49fs.servants.cons import DIRTAB as CONSTAB
from lp49fs.servants.proc import DIRTAB as PROCTAB
from lp49fs.servants.root import SKELETON
from tests.waiting import DEADLINE as GUARD

# #c files whose read blocks (cons: typed input) or is endless / ignores the offset
CONS_UNREAD = {
    "cons": "a read blocks until a line is typed",
    "zero": "endless: every read gives zeros",
    "random": "endless: every read gives fresh bytes",
    "bintime": "one 24-byte binary record whatever the offset (Plan 9 readbintime)",
    "consctl": "write-only (mode 0220): opening it for reading is refused",
}
PROC_UNREAD = {
    "ns": "one line per read, whatever the offset (Plan 9 proc(3))",
    "wait": "a read blocks until a child exits",
    "note": "a read takes the oldest note, whatever the offset",
    "ctl": "write-only in practice: Plan 9's procread has no Qctl case (Egreg)",
}


async def fresh() -> Proc:
    """A test process of a core with every configured servant."""
    return await boot(config=CONFIG)


def files(names: Iterable[str], kind: str = "file", prefix: str = "") -> dict[str, str]:
    """``expect`` entries: each of ``names`` (under ``prefix``) as ``kind``."""
    return {f"{prefix}{n}": kind for n in names}


# --- servant rows ---------------------------------------------------------------------------
async def row_root() -> None:
    p = await fresh()
    expect = {"": "dir", **files(SKELETON, "dir")}
    await check_tree(SysTree(p, "#R"), expect)


async def row_dup() -> None:
    p = await fresh()
    fd = await sysfile.open(p, "#c/null", ORDWR)
    tree = SysTree(p, "#d")
    held = await tree.hold()
    await check_tree(tree, {"": "dir", str(fd): "file", f"{fd}ctl": "file", f"{held}ctl": "file"})


async def row_cons() -> None:
    p = await fresh()
    names = [t.name for t in CONSTAB[1:]]
    assert {"cons", "consctl", "null", "zero", "time", "pid", "ppid", "user", "sysname",
            "random", "drivers"} <= set(names)  # fmt: skip
    await check_tree(SysTree(p, "#c"), {"": "dir", **files(names)}, unread=CONS_UNREAD)


async def row_env() -> None:
    p = await fresh()
    tree = SysTree(p, "#e")
    await tree.create("home", 0o666)
    await tree.write("home", b"/usr/glenda")
    await tree.create("empty", 0o666)
    await check_tree(tree, {"": "dir", "home": "file", "empty": "file"})
    await check_rw(tree, "", refuses={
        "mkdir": "#e is one flat directory of variables",
        "holes": "writing beyond a variable's end is an error (Plan 9 env(3))",
        "wstat": "variables have no changeable attributes (Plan 9 devenv uses devwstat)",
    })  # fmt: skip


async def row_pipe() -> None:
    p = await fresh()
    await sysfile.bind(p, "#|", "/n", MREPL)
    unread = {"data": "a read blocks until data1 is written", "data1": "likewise for data"}
    await check_tree(SysTree(p, "/n"), {"": "dir", "data": "file", "data1": "file"},
                     unread=unread)  # fmt: skip


async def row_proc() -> None:
    p = await fresh()
    other = newproc(p.core, p.slash, name="other", ppid=p.pid)
    names = [t.name for t in PROCTAB[1:]]
    expect: dict[str, str] = {"": "dir"}
    unread: dict[str, str] = {}
    for pid in (str(p.pid), str(other.pid)):
        expect |= {pid: "dir", **files(names, prefix=f"{pid}/")}
        unread |= {f"{pid}/{k}": why for k, why in PROC_UNREAD.items()}
    await check_tree(SysTree(p, "#p"), expect, unread=unread)


async def row_srv() -> None:
    p = await fresh()
    null = await sysfile.open(p, "#c/null", ORDWR)
    fd = await sysfile.create(p, "#s/posted", OWRITE, 0o666)
    await sysfile.write(p, fd, str(null).encode())
    await sysfile.close(p, fd)
    await check_tree(SysTree(p, "#s"), {"": "dir", "posted": "file"})


async def in_node(body: Callable[[], Awaitable[None]], servers: bool = True) -> None:
    """Run ``body`` as an LP49 process of a booted node (ramfs mounted on /tmp)."""
    with trio.fail_after(GUARD):
        async with nodeboot.boot() as node, trio.open_nursery() as n:
            svs = await start_servers(node, n) if servers else []
            try:
                assert await run_as(node, body, timeout=GUARD) == ""
            finally:
                await stop_servers(node, svs)


async def ramfs_files(root: str) -> None:
    await lib.close(await lib.create(f"{root}/f", ORDWR, 0o644))
    await lib.close(await lib.create(f"{root}/d", OREAD, DMDIR | 0o755))
    await lib.close(await lib.create(f"{root}/d/g", ORDWR, 0o644))


RAMFS_TREE = {"": "dir", "f": "file", "d": "dir", "d/g": "file"}


async def row_mnt() -> None:
    async def body() -> None:
        await ramfs_files("/tmp")
        tree = LibTree("/tmp")
        await check_tree(tree, RAMFS_TREE)
        await check_rw(tree, "d")

    await in_node(body)


async def row_ip() -> None:
    p = await fresh()
    ctl = await sysfile.open(p, "#I/tcp/clone", ORDWR)
    n = (await sysfile.read(p, ctl, 32)).decode()
    conv = {f"tcp/{n}/{f}": "file" for f in ("local", "remote", "status")}
    await check_tree(SysTree(p, "#I"), {"": "dir", "cs": "file", "tcp": "dir", "udp": "dir",
                                        "tcp/clone": "file", "tcp/stats": "file",
                                        f"tcp/{n}": "dir", **conv})  # fmt: skip
    await sysfile.close(p, ctl)


async def row_tls() -> None:
    p = await fresh()
    ctl = await sysfile.open(p, "#a/tls/clone", ORDWR)
    n = (await sysfile.read(p, ctl, 32)).decode()
    conv = {f"tls/{n}/{f}": "file" for f in ("ctl", "data", "status", "stats")}
    unread = {f"tls/{n}/data": "before a handshake a read fails (tls: handshake not done)"}
    await check_tree(SysTree(p, "#a"), {"": "dir", "tls": "dir", "tls/clone": "file",
                                        "tls/encalgs": "file", f"tls/{n}": "dir", **conv},
                     unread=unread)  # fmt: skip
    await sysfile.close(p, ctl)


async def row_cap() -> None:
    p = await fresh()
    unread = {"caphash": "write-only (0200)", "capuse": "write-only (0222)"}
    await check_tree(SysTree(p, "#¤"), {"": "dir", **files(unread)}, unread=unread)


async def row_sd() -> None:
    """#S with one 1 MiB disk and a partition written to its ctl, as fdisk -p would."""

    async def body() -> None:
        fd = await lib.open("#S/sdC0/ctl", OWRITE)
        await lib.write(fd, b"part dos 64 2048\n")
        await lib.close(fd)
        unit = {f"sdC0/{f}": "file" for f in ("ctl", "raw", "data", "dos")}
        await check_tree(LibTree("#S"), {"": "dir", "sdctl": "file", "sdC0": "dir", **unit})

    with tempfile.TemporaryDirectory() as tmp:
        img = pathlib.Path(tmp) / "d.img"
        img.write_bytes(bytes(range(256)) * 4096)
        with trio.fail_after(GUARD):
            async with nodeboot.boot(disks=(str(img),)) as node:
                assert await run_as(node, body, timeout=GUARD) == ""


async def row_floppy() -> None:
    """#f with a 1.44 MB image in drive 0."""
    from hwsim.fdc import DISKSIZE

    async def body() -> None:
        await check_tree(LibTree("#f"), {"": "dir", "fd0disk": "file", "fd0ctl": "file"})

    with tempfile.TemporaryDirectory() as tmp:
        img = pathlib.Path(tmp) / "fd.img"
        img.write_bytes(bytes(DISKSIZE))
        with trio.fail_after(GUARD):
            async with nodeboot.boot(floppy=str(img)) as node:
                assert await run_as(node, body, timeout=GUARD) == ""


async def test_eve_opens_a_file_with_group_rights() -> None:
    """Plan 9 devpermcheck: the owner gets the owner bits, the host owner (eve) the group
    bits, everybody else the other bits; so eve may read /proc/N/args (0660) of a process
    of user none."""
    p = await fresh()
    other = newproc(p.core, p.slash, user="none", name="other", ppid=p.pid)
    assert p.user == p.core.eve
    assert await SysTree(p, "#p").read(f"{other.pid}/args", EOF_PROBE) == b""


async def row_ether() -> None:
    from hwsim.nic import Nic
    from hwsim.ram import Ram
    from lp49fs.servants.etherdrv import NFRAMES, EtherDriver

    p = await fresh()
    ram = Ram(1 << 20)
    drv = EtherDriver(Nic(ram, None, 5, bytes.fromhex("020000000001")), ram, range(NFRAMES))
    p.core.devtab["l"].addctlr(0, drv)  # type: ignore[attr-defined]
    ctl = await sysfile.open(p, "#l0/ether0/clone", ORDWR)
    n = (await sysfile.read(p, ctl, 32)).decode()
    top = files(("addr", "stats", "ifstats", "clone"), prefix="ether0/")
    conn = files(("stats", "ifstats", "type"), prefix=f"ether0/{n}/")
    await check_tree(SysTree(p, "#l0"), {"": "dir", "ether0": "dir", f"ether0/{n}": "dir",
                                         **top, **conn},
                     unread={"ether0/clone": "opening it makes a new connection"})  # fmt: skip
    await sysfile.close(p, ctl)


async def test_inet_own_stack_tree() -> None:
    """``inet`` (the own stack's #I) replaces ``ip`` in OWNSTACK, so it has no CONFIG row."""
    from lp49fs.servants import OWNSTACK

    p = await boot(config=OWNSTACK)
    ctl = await sysfile.open(p, "#I/tcp/clone", ORDWR)
    n = (await sysfile.read(p, ctl, 32)).decode()
    ifc = await sysfile.open(p, "#I/ipifc/clone", ORDWR)
    conv = files(("local", "remote", "status"), prefix=f"tcp/{n}/")
    protos = {f"{q}/{f}": "file" for q in ("icmp", "udp", "tcp") for f in ("clone", "stats")}
    await check_tree(SysTree(p, "#I"), {"": "dir", "cs": "file", "arp": "file",
                                        "iproute": "file", "ipifc": "dir", "ipifc/0": "dir",
                                        "ipifc/0/status": "file", "ipifc/0/local": "file",
                                        "icmp": "dir", "udp": "dir", "tcp": "dir",
                                        f"tcp/{n}": "dir", **conv, **protos},
                     unread={f"{q}/clone": "opening it makes a new conversation"
                             for q in ("icmp", "udp", "tcp")})  # fmt: skip
    await sysfile.close(p, ctl)
    await sysfile.close(p, ifc)


SERVANTS: dict[str, Callable[[], Awaitable[None]]] = {
    "root": row_root,
    "dup": row_dup,
    "cons": row_cons,
    "env": row_env,
    "pipe": row_pipe,
    "proc": row_proc,
    "srv": row_srv,
    "mnt": row_mnt,
    "ip": row_ip,
    "tls": row_tls,
    "cap": row_cap,
    "ether": row_ether,
    "sd": row_sd,
    "floppy": row_floppy,
}


@pytest.mark.parametrize("name", CONFIG)
async def test_servant(name: str) -> None:
    row = SERVANTS.get(name)
    if row is None:
        pytest.fail(
            f"servant {name!r} is in lp49fs.servants.CONFIG but has no row in "
            "tests/test_tree_suite.py: add SERVANTS[name] with its expected tree"
        )
    await row()


def test_every_row_is_a_configured_servant() -> None:
    assert set(SERVANTS) <= set(CONFIG), f"stale rows: {set(SERVANTS) - set(CONFIG)}"


async def test_suite_options_are_checked() -> None:
    """A misspelt option or an ``unread`` path that is not an expected file is an error,
    not a silently skipped check."""
    p = await fresh()
    with pytest.raises(ValueError, match="unread"):
        await check_tree(SysTree(p, "#c"), {"": "dir"}, unread={"cons": "typo"})
    with pytest.raises(ValueError, match="refusals"):
        await check_rw(SysTree(p, "#e"), "", refuses={"mkdirs": "typo"})
    with pytest.raises(ValueError, match="skips"):
        await check_rw(SysTree(p, "#e"), "", skip={"create": "typo"})
