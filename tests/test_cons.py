"""#c cons as a servant: console input through the UART interrupt path, and the text files."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from hwsim.uart import Uart
from lp49fs.core.chan import Chan, cclose
from lp49fs.core.core import Core
from lp49fs.core.proc import Proc, newproc
from lp49fs.errors import Eperm, Error
from lp49fs.ninep import ORDWR, OREAD, OWRITE, decode_dirs
from lp49fs.servants import boot_core
from lp49fs.servants.cons import Cons


class Node:
    """A core with #R and #c, a UART whose output is recorded, and one process."""

    def __init__(self) -> None:
        self.core = Core("kremvax")
        self.uart = Uart()
        self.out = bytearray()
        self.uart.attach_output(self.out.extend)
        boot_core(self.core, ("root", "cons"))
        cons = self.core.devtab["c"]
        assert isinstance(cons, Cons)
        cons.uart = self.uart
        self.cons = cons
        self.proc: Proc | None = None

    async def boot(self) -> Proc:
        slash = await self.core.attach("R")
        self.proc = newproc(self.core, slash, name="rc")
        await cclose(slash)
        return self.proc

    async def open(self, name: str, omode: int = OREAD) -> Chan:
        root = await self.cons.attach("")
        wq = await self.cons.walk(root, [name] if name else [])
        assert wq.clone is not None
        return await self.cons.open(wq.clone, omode)

    async def read(self, name: str, count: int = 8192, offset: int = 0) -> bytes:
        c = await self.open(name)
        try:
            return await self.cons.read(c, count, offset)
        finally:
            await cclose(c)

    def type(self, data: bytes) -> None:
        self.uart.feed(data)
        self.cons.interrupt()


@pytest.fixture
async def node() -> Node:
    n = Node()
    await n.boot()
    return n


async def test_listing(node: Node) -> None:
    names = [d.name for d in decode_dirs(await node.read(""))]
    for want in ("cons", "consctl", "null", "zero", "time", "pid", "ppid", "user", "sysname",
                 "random", "drivers", "osversion", "hostowner"):
        assert want in names
    root = await node.cons.attach("")
    wq = await node.cons.walk(root, ["time"])
    assert wq.clone is not None
    assert (await node.cons.stat(wq.clone)).length == 78


async def test_cooked_read_one_line_and_echo(node: Node) -> None:
    c = await node.open("cons", ORDWR)
    node.type(b"helx\blo\r")
    node.type(b"world\n")
    assert await node.cons.read(c, 100, 0) == b"hello\n"
    assert await node.cons.read(c, 3, 0) == b"wor"
    assert await node.cons.read(c, 100, 0) == b"ld\n"
    assert bytes(node.out) == b"helx\blo\r\nworld\r\n"


async def test_kill_and_eof(node: Node) -> None:
    c = await node.open("cons")
    node.type(b"oops\x15fine\x04")
    assert await node.cons.read(c, 100, 0) == b"fine"
    node.type(b"\x04")
    assert await node.cons.read(c, 100, 0) == b""


async def test_blocked_read_wakes_on_interrupt(node: Node) -> None:
    c = await node.open("cons")
    got: list[bytes] = []

    async def reader() -> None:
        got.append(await node.cons.read(c, 100, 0))

    async with trio.open_nursery() as n:
        n.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        node.type(b"partial")
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # no newline yet
        node.type(b" line\n")
    assert got == [b"partial line\n"]


async def test_cancelled_read_loses_nothing(node: Node) -> None:
    c = await node.open("cons")
    with trio.move_on_after(0.01) as scope:
        await node.cons.read(c, 100, 0)
    assert scope.cancelled_caught
    node.type(b"kept\n")
    with trio.move_on_after(0.01) as scope:
        await trio.sleep_forever()
    assert await node.cons.read(c, 100, 0) == b"kept\n"


async def test_raw_while_consctl_open(node: Node) -> None:
    c = await node.open("cons")
    ctl = await node.open("consctl", OWRITE)
    await node.cons.write(ctl, b"rawon", 0)
    node.out.clear()
    node.type(b"a\bb")
    assert await node.cons.read(c, 100, 0) == b"a\bb"
    assert bytes(node.out) == b""  # no echo when raw
    await cclose(ctl)  # last close of consctl: cooked again
    node.type(b"x\by\n")
    assert await node.cons.read(c, 100, 0) == b"y\n"


async def test_write_prints_with_crlf(node: Node) -> None:
    c = await node.open("cons", OWRITE)
    assert await node.cons.write(c, b"hello\nworld\n", 0) == 12
    assert bytes(node.out) == b"hello\r\nworld\r\n"


async def test_text_files(node: Node) -> None:
    p = node.proc
    assert p is not None
    with p.running():
        assert await node.read("pid") == b"%11d " % p.pid
        assert await node.read("pid", 4, 8) == (b"%11d " % p.pid)[8:12]
        assert await node.read("ppid") == b"          0 "
        assert await node.read("user") == b"glenda"
    assert await node.read("sysname") == b"kremvax"
    assert await node.read("hostowner") == b"glenda"
    assert await node.read("osversion") == b"2000"
    assert await node.read("drivers") == b"#R root\n#c cons\n"
    assert await node.read("zero", 5) == b"\0" * 5
    assert await node.read("null") == b""
    assert len(await node.read("random", 16)) == 16
    t = await node.read("time")
    assert len(t) == 78
    assert await node.read("time", 10, 70) == t[70:]
    assert len(await node.read("bintime")) == 24


async def test_sysname_write(node: Node) -> None:
    c = await node.open("sysname", OWRITE)
    await node.cons.write(c, b"gnot\n", 0)
    assert node.core.sysname == "gnot"
    with pytest.raises(Error):
        await node.cons.write(c, b"x", 3)  # offset must be 0


async def test_user_write_only_none(node: Node) -> None:
    p = node.proc
    assert p is not None
    with p.running():
        c = await node.open("user", OWRITE)
        with pytest.raises(Error) as e:
            await node.cons.write(c, b"root", 0)
        assert e.value.ename == Eperm
        await node.cons.write(c, b"none", 0)
        assert p.user == "none"
