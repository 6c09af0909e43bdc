"""The debug console (the paper's debug shell, after Pistachio's kdb): look inside a node.

Theory of operation: a node started with ``--debug-console unix!PATH`` (``lp49 node``) or
``-o debugcons=unix!PATH`` (``lp49 mount``) serves this console on a unix socket beside its
ordinary console; ``lp49 console --debug unix!PATH`` attaches to it.  Each line is one
command; the answer is text read straight from the kernel model and the core -- the L4
threads and their IPC state, the address spaces, the mapping database as trees, the
interrupt lines, the Mngr's clerks, every process's open Chans and mount table -- then the
prompt ``kdb> ``.  It runs in the node's own event loop, so what it prints is one
consistent moment of the node.  Nothing here changes the node.

Rules:
1. Commands only read; a bad command or argument is one line of text, never an exception
   out of the connection.
2. Long listings stop at ``LIMIT`` lines and say how many were left out.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from kernel.mapdb import Mapping
from kernel.space import Space
from lp49fs.syscall import Sys
from lp49fs.trace import tidname

if TYPE_CHECKING:
    from lp49fs.core.proc import Proc
    from lp49fs.node.boot import Node

PROMPT = b"kdb> "
LIMIT = 200  # Rule 2


def _proc(node: Node, pid: str) -> Proc:
    p = node.core.procs.get(int(pid)) if pid.isdigit() else None
    if p is None:
        raise LookupError(f"no process {pid}")
    return p


def threads(node: Node, args: list[str]) -> list[str]:
    """L4 threads: id, space, IPC state and partner, and who it is (idle irq lines left out)."""
    out = [f"{'tid':>8} {'space':<18} {'state':<10} {'partner':>8} {'queued':>6} {'faults':>6} "
           "who"]  # fmt: skip
    for n in sorted(node.kernel.threads):
        t = node.kernel.threads[n]
        if t.irq is not None and not t.pager and t.state == "running":
            continue  # an interrupt line nobody handles
        partner: int = t.send_to.id if t.send_to is not None else t.wait_from
        if t.state not in ("sending", "receiving"):
            partner = 0  # not in an IPC: no partner
        pi = node.procmgr.bytid.get(t.id)
        who = f"pid {pi.proc.pid} {pi.proc.name}" if pi else t.name
        if t.irq is not None:
            who = f"irq {t.irq} -> {tidname(t.pager)}"
        space = t.space.name if t.space is not None else "-"
        out.append(f"{tidname(t.id):>8} {space:<18} {t.state:<10} {tidname(partner):>8} "
                   f"{len(t.sendq):>6} {t.faults:>6} {who}")  # fmt: skip
    return out


def _spaces(node: Node) -> list[Space]:
    seen: dict[int, Space] = {}
    for t in node.kernel.threads.values():
        if t.space is not None:
            seen.setdefault(t.space.sid, t.space)
    return [seen[k] for k in sorted(seen)]


def spaces(node: Node, args: list[str]) -> list[str]:
    """Every address space with threads: its pages and who runs in it."""
    out = [f"{'sid':>4} {'name':<20} {'pages':>6} {'threads':>7}"]
    for s in _spaces(node):
        out.append(f"{s.sid:>4} {s.name:<20} {len(s.pages):>6} {s.nthreads:>7}")
    return out


def _root(m: Mapping) -> Mapping:
    while m.parent is not None:
        m = m.parent
    return m


def _tree(m: Mapping, depth: int, out: list[str]) -> None:
    rw = "".join(c for c, b in (("r", 4), ("w", 2), ("x", 1)) if m.rights & b)
    out.append(f"{'  ' * depth}{m.space.name} {m.vpn << 12:#010x} frame {m.frame} {rw}")
    for c in m.children:
        _tree(c, depth + 1, out)


def mappings(node: Node, args: list[str]) -> list[str]:
    """The mapping database as trees (each root: a physical frame), of one space's pages."""
    if not args:
        return ["usage: mappings SPACE (a name or sid from 'spaces')"]
    sp = [s for s in _spaces(node) if args[0] in (s.name, str(s.sid))]
    if not sp:
        return [f"no space {args[0]}"]
    roots: dict[int, Mapping] = {}
    for m in sp[0].pages.values():
        r = _root(m)
        roots.setdefault(id(r), r)
    out: list[str] = []
    for r in sorted(roots.values(), key=lambda r: r.frame):
        _tree(r, 0, out)
    return out


def irq(node: Node, args: list[str]) -> list[str]:
    """Interrupt lines: pending, in service, enabled, and the thread that handles each."""
    ic = node.machine.irqc
    out = [f"{'line':>4} {'pending':>7} {'service':>7} {'enabled':>7} {'thread':>8} handler"]
    for i, t in enumerate(node.kernel.irq_threads):
        if not t.pager and not ic.pending[i]:
            continue
        out.append(f"{i:>4} {ic.pending[i]!s:>7} {ic.in_service[i]!s:>7} {ic.enabled[i]!s:>7} "
                   f"{t.state:>8} {tidname(t.pager)}")  # fmt: skip
    return out


def clerks(node: Node, args: list[str]) -> list[str]:
    """The Mngr's clerks: idle, or the call in hand (caller, process, system call)."""
    m = node.mngr
    out = [f"Mngr {tidname(m.tid or 0)}: {m.calls} calls received, {len(m.clerks)} clerks, "
           f"{len(m.idle)} idle"]  # fmt: skip
    for c in m.clerks:
        if c.caller is None or c.msg is None:
            out.append(f"  clerk {c.index} {tidname(c.tid or 0)} idle")
            continue
        pi = node.procmgr.bytid.get(c.caller)
        try:
            call = Sys(c.msg.label).name.lower()
        except ValueError:
            call = f"label {c.msg.label}"
        who = f"pid {pi.proc.pid} {pi.proc.name}" if pi else "?"
        out.append(f"  clerk {c.index} {tidname(c.tid or 0)} {call} for {tidname(c.caller)} "
                   f"({who})")  # fmt: skip
    return out


def procs(node: Node, args: list[str]) -> list[str]:
    out = [f"{'pid':>4} {'ppid':>4} {'name':<10} {'user':<8} {'state':<9} threads calls"]
    for pid in sorted(node.core.procs):
        p = node.core.procs[pid]
        pi = node.procmgr.bypid.get(pid)
        nt, nc = (len(pi.threads), len(pi.calls)) if pi else (0, 0)
        out.append(f"{pid:>4} {p.ppid:>4} {p.name:<10} {p.user:<8} {p.state:<9} {nt:>7} {nc:>5}")
    return out


def chans(node: Node, args: list[str]) -> list[str]:
    """Open Chans of one process (or every process): fd, servant, path, qid, mode, refs."""
    ps = [_proc(node, a) for a in args] or [node.core.procs[k] for k in sorted(node.core.procs)]
    out = []
    for p in ps:
        out.append(f"pid {p.pid} {p.name}:")
        for fd, c in enumerate(p.fgrp.fd):
            if c is not None:
                out.append(f"  {fd:>3} #{c.sv.dc} {c.path.s:<24} qid {c.qid} mode {c.mode} "
                           f"offset {c.offset} ref {c.ref}")  # fmt: skip
    return out


def mounts(node: Node, args: list[str]) -> list[str]:
    """The mount table of one process (or every name space): mount point -> union."""
    ps = [_proc(node, a) for a in args] or [node.core.procs[k] for k in sorted(node.core.procs)]
    out, seen = [], set()
    for p in ps:
        if id(p.pgrp) in seen:
            out.append(f"pid {p.pid} {p.name}: shares the name space above")
            continue
        seen.add(id(p.pgrp))
        out.append(f"pid {p.pid} {p.name}: name space (ref {p.pgrp.ref})")
        for mh in p.pgrp.mnthash.values():
            members = ", ".join(f"#{m.to.sv.dc} {m.to.path.s}" + (f" spec {m.spec!r}"
                                if m.spec else "") for m in mh.mounts)  # fmt: skip
            out.append(f"  {mh.from_.path.s:<16} <- {members}")
    return out


def help_(node: Node, args: list[str]) -> list[str]:
    return [f"{name:<9} {(fn.__doc__ or '').splitlines()[0]}" for name, fn in COMMANDS.items()]


help_.__doc__ = "this list"
procs.__doc__ = "processes: pid, parent, name, user, state, L4 threads, calls in flight"

COMMANDS: dict[str, Callable[[Node, list[str]], list[str]]] = {
    "help": help_, "threads": threads, "spaces": spaces, "mappings": mappings, "irq": irq,
    "clerks": clerks, "procs": procs, "chans": chans, "mounts": mounts,
}  # fmt: skip


def command(node: Node, line: str) -> str:
    """The answer to one command line (Rules 1 and 2)."""
    words = line.split()
    if not words:
        return ""
    fn = COMMANDS.get(words[0])
    if fn is None:
        return f"unknown command {words[0]!r}: try help\n"
    try:
        lines = fn(node, words[1:])
    except (LookupError, ValueError) as e:
        return f"{words[0]}: {e.args[0] if e.args else e}\n"
    if len(lines) > LIMIT:
        lines = [*lines[:LIMIT], f"... {len(lines) - LIMIT} more lines"]
    return "".join(x + "\n" for x in lines)


async def _session(node: Node, stream: trio.SocketStream) -> None:
    buf = b""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        async with stream:
            await stream.send_all(b"lp49 debug console: help lists the commands\n" + PROMPT)
            while data := await stream.receive_some(4096):
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode(errors="replace").strip()
                    if text in ("quit", "exit"):
                        return
                    await stream.send_all(command(node, text).encode() + PROMPT)


async def serve(node: Node, where: str) -> None:
    """Serve the debug console on ``unix!PATH`` until cancelled (then remove the socket)."""
    path = where.removeprefix("unix!")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen(4)
    async def session(stream: trio.SocketStream) -> None:
        await _session(node, stream)

    try:
        await trio.serve_listeners(session, [trio.SocketListener(sock)])
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def client(where: str) -> int:
    """``lp49 console --debug unix!PATH``: send each stdin line, print each answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(where.removeprefix("unix!"))
    except OSError as e:
        print(f"lp49 console: {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    f = s.makefile("rb")

    def answer() -> bool:
        out = b""
        while not out.endswith(PROMPT):
            ch = f.read(1)
            if not ch:
                sys.stdout.buffer.write(out)
                return False
            out += ch
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
        return True

    if answer():
        for line in sys.stdin:
            s.sendall(line.encode() if line.endswith("\n") else line.encode() + b"\n")
            if not answer():
                break
    sys.stdout.write("\n")
    s.close()
    return 0
