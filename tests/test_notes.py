"""Notes and the console: DEL posts ``interrupt`` to the console reader's note group; the
shell survives it and prompts again, the foreground commands die of it, background jobs and
init do not.  Driven through the real UART interrupt path of a booted node."""

from __future__ import annotations

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.host.console import typed
from lp49fs.lib import RFCFDG, RFNOTEG, RFPROC
from lp49fs.node.boot import Node
from lp49fs.servants.cons.kbd import Kbd
from tests.lib_helpers import node
from tests.waiting import await_until

__all__ = ["node"]

NSTEXT = "bind #c /dev\nbind #p /proc\nbind -c #e /env\nbind -c #s /srv\n"
DEL = b"\x7f"


def test_kbd_del_drops_the_line_and_counts_an_interrupt() -> None:
    k = Kbd()
    assert k.input(b"echo par" + DEL) == b"echo par"  # DEL itself echoes nothing
    assert k.interrupts == 1 and not k.line and not k.ready
    k.input(b"ok\n")
    assert k.take(100) == b"ok\n"
    k.setraw(True)
    k.input(DEL)
    assert k.interrupts == 1 and k.take(100) == DEL  # raw: just a byte


def test_console_client_sends_ctl_c_as_del() -> None:
    assert typed(b"ab\x7fc") == b"ab\x08c"  # the backspace key
    assert typed(b"sleep 9\n\x03") == b"sleep 9\n\x7f"  # ^C: the interrupt key
    assert typed(b"x\x1dy") == b"x"  # ^]: detach, nothing after it is sent


class Console:
    """The node's console as a person at it sees it."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def text(self, start: int = 0) -> str:
        return self.node.console[start:].decode(errors="replace").replace("\r\n", "\n")

    async def type(self, data: bytes, until: str) -> str:
        """Type ``data``; the output after it once ``until`` is in it."""
        mark = len(self.node.console)
        self.node.machine.uart.feed(data)
        await await_until(lambda: until in self.text(mark), 'until in self.text(mark)')
        return self.text(mark)


def procs(node: Node, name: str) -> list[int]:
    return [p.pid for p in node.core.procs.values() if p.name == name and not p.exited]


async def shell(node: Node) -> Console:
    await node.spawn("init", ["init", "-n", NSTEXT])
    con = Console(node)
    await await_until(lambda: "% " in con.text(), '"% " in con.text()')
    cons = node.core.devtab["c"]  # DEL goes to the console's reader: the shell, once it reads
    await await_until(lambda: cons.st.notepg != 0, "the shell to read the console")  # type: ignore[attr-defined]
    return con


async def test_del_stops_a_runaway_pipeline_and_the_shell_prompts(node: Node) -> None:
    con = await shell(node)
    con.node.machine.uart.feed(b"cat /dev/bintime | wc\n")
    await await_until(lambda: procs(node, "cat") and procs(node, "wc"), "cat and wc")
    await con.type(DEL, "% ")
    await await_until(lambda: not procs(node, "cat") and not procs(node, "wc"), "their end")
    out = await con.type(b"echo alive $status\n", "\n% ")  # the prompt after the output
    assert "alive interrupted" in out
    assert procs(node, "init") and len(procs(node, "sh")) == 1  # the same shell, init lives


async def test_del_at_the_prompt_drops_the_typed_line(node: Node) -> None:
    con = await shell(node)
    await con.type(b"echo partial" + DEL, "% ")
    out = await con.type(b"echo ok\n", "ok\n% ")
    assert "partial\n" not in out and "sh:" not in out


async def test_del_stops_a_loop_a_server_and_a_blocked_read(node: Node) -> None:
    con = await shell(node)
    node.machine.uart.feed(b"while(~ a a) sleep 100\n")
    await await_until(lambda: procs(node, "sleep"), 'procs(node, "sleep")')
    await con.type(DEL, "% ")
    node.machine.uart.feed(b"ramfs -S fg\n")  # a foreground server never returns by itself
    await await_until(lambda: procs(node, "ramfs"), "ramfs to start")
    await con.type(DEL, "% ")
    await await_until(lambda: not procs(node, "ramfs"), 'not procs(node, "ramfs")')
    node.machine.uart.feed(b"cat /proc/$pid/wait\n")  # waits for its own exit: forever
    await await_until(lambda: procs(node, "cat"), 'procs(node, "cat")')
    await con.type(DEL, "% ")
    out = await con.type(b"echo after; ps | wc -l\n", "\n% ")  # the prompt after the output
    assert "sh:" not in out
    assert not procs(node, "sleep") and not procs(node, "cat")


async def test_wait_is_interrupted_and_background_jobs_survive(node: Node) -> None:
    con = await shell(node)
    await con.type(b"sleep 100 &\n", "% ")
    await await_until(lambda: procs(node, "sleep"), 'procs(node, "sleep")')
    node.machine.uart.feed(b"wait\n")
    await trio.testing.wait_all_tasks_blocked()
    await con.type(DEL, "% ")
    out = await con.type(b"echo back $status\n", "\n% ")  # the prompt after the output
    assert "back interrupted" in out
    assert procs(node, "sleep")  # its own note group: DEL did not reach it


async def test_a_note_ends_a_process_without_a_handler(node: Node) -> None:
    """Plan 9: a note to a process that has no notify handler ends it, the note as status;
    with a handler only its calls are interrupted."""
    box: dict[str, str] = {}

    async def sleeper(_: list[str]) -> None:
        await lib.sleep(100_000)

    async def handler(_: list[str]) -> None:
        await lib.notify(True)
        try:
            await lib.sleep(100_000)
        except Error as e:
            box["err"] = e.ename

    async def driver(_: list[str]) -> None:
        a = await lib.spawn("sleeper", ["sleeper"], RFCFDG | RFPROC | RFNOTEG)
        b = await lib.spawn("handler", ["handler"], RFCFDG | RFPROC | RFNOTEG)
        await await_until(lambda: node.core.procs[b].state == "Sleep", "the handler's sleep")
        await lib.postnote(a, "interrupt")
        await lib.postnote(b, "interrupt")
        got = {}
        for _ in range(2):
            w = await lib.wait()
            got[w.pid] = w.msg
        box["a"], box["b"] = got[a], got[b]

    node.programs.update(sleeper=sleeper, handler=handler, driver=driver)
    with trio.fail_after(20):
        assert await node.run("driver") == ""
    assert box == {"a": "interrupt", "b": "", "err": "interrupted"}
