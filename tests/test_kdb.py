"""The debug console (lp49fs.node.kdb): its commands on a booted node, and over its socket."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import trio
from lib_helpers import rnode, start
from waiting import DEADLINE as GUARD
from waiting import await_until, wait_until

from lp49fs import lib
from lp49fs.node.boot import Node
from lp49fs.node.kdb import LIMIT, command

__all__ = ["rnode"]

LP49 = pathlib.Path(sys.executable).parent / "lp49"


async def test_commands_read_the_kernel_and_the_core(rnode: Node) -> None:
    gate = trio.Event()

    async def reader() -> None:  # a process blocked in read on a pipe: a clerk holds its call
        r, _w = await lib.pipe()
        await lib.bind("#|", "/mnt", 0)
        gate.set()
        await lib.read(r, 10)

    pid, _ = await start(rnode, reader)
    await gate.wait()
    await await_until(lambda: f"(pid {pid} " in command(rnode, "clerks"), "a clerk with the read")
    clerks = command(rnode, "clerks")
    assert clerks.startswith("Mngr ") and f"(pid {pid} " in clerks and " idle\n" in clerks

    threads = command(rnode, "threads")
    assert " Mngr\n" in threads and " clerk\n" in threads and " HVM\n" in threads
    ramfs = [x for x in threads.splitlines() if x.endswith(" ramfs")]
    assert ramfs and all(x.split()[2] in ("receiving", "sending", "running") for x in ramfs)
    assert "irq " in threads  # the UART line's interrupt thread, with its handler

    spaces = command(rnode, "spaces").splitlines()
    name = next(x.split()[1] for x in spaces if x.split()[1].startswith("ramfs."))
    tree = command(rnode, f"mappings {name}").splitlines()
    roots = [x for x in tree if not x.startswith((" ", "... "))]
    assert roots and roots[0].startswith("sigma0 ")  # physical memory: the roots (and the KIP)
    assert any(x.startswith("  ") and name in x for x in tree)  # derived: the process's pages

    irq = command(rnode, "irq").splitlines()
    assert irq[0].split()[:2] == ["line", "pending"] and len(irq) >= 2

    chans = command(rnode, f"chans {pid}")
    assert chans.startswith(f"pid {pid} ") and "#| " in chans  # the two pipe ends

    mounts = command(rnode, f"mounts {pid}")
    assert "/tmp" in mounts and "#M " in mounts and "/mnt" in mounts and "#| " in mounts
    assert command(rnode, "procs").splitlines()[0].split()[:2] == ["pid", "ppid"]
    assert command(rnode, "bogus").startswith("unknown command 'bogus'")
    assert command(rnode, "chans 9999") == "chans: no process 9999\n"
    assert "threads" in command(rnode, "help")
    assert len(command(rnode, "mappings sigma0").splitlines()) <= LIMIT + 1
    rnode.procmgr.note(rnode.procmgr.bypid[pid].proc, "kill")


def test_node_serves_it_and_console_debug_attaches(tmp_path: pathlib.Path) -> None:
    sock = tmp_path / "kdb.sock"
    node = subprocess.Popen([str(LP49), "node", "--console", "none", "--debug-console",
                             f"unix!{sock}"], stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_until(sock.exists, "the debug console socket", timeout=GUARD)
        r = subprocess.run([str(LP49), "console", "--debug", f"unix!{sock}"],
                           input="procs\nmounts 1\nnope\n", capture_output=True, text=True,
                           timeout=GUARD)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("lp49 debug console: ")
        assert r.stdout.count("kdb> ") == 4
        assert " init " in r.stdout and "unknown command 'nope'" in r.stdout
    finally:
        node.send_signal(signal.SIGTERM)
        node.communicate(timeout=GUARD)
    assert not sock.exists()
    r = subprocess.run([str(LP49), "node", "--debug-console", "stdio"], capture_output=True,
                       text=True, timeout=GUARD)  # fmt: skip
    assert r.returncode == 1 and "is not unix!PATH" in r.stderr
    assert not os.path.exists(sock)
