"""Processes of ``sh``: pipelines, redirections, spawning programs and child shells.

``Procs`` is the part of ``Shell`` (``_rcexec``) that makes processes; it is a mixin so the
shell's theory of operation stays in one place (``_rcexec``'s Rules 2, 3, 4 and 7):

1. ``fds`` is the shell's fd map (a child's fd -> the shell's fd).  ``start`` gives each
   member of a pipeline a copy, with pipe ends and then its redirections; the shell closes
   its own copies of pipe ends and opened files as soon as the children hold theirs.
2. ``redirected`` changes the shell's own map for a block, builtin or function call.
3. ``spawn`` loads a program (``#!`` scripts through their interpreter); ``spawn_sh``
   starts a child ``sh -c`` for whatever rc would fork.
4. ``collect`` waits for given pids, keeping the records of other children for later.
5. Notes (the console's DEL): the shell has a note handler (``lib.notify``), so a note
   only interrupts its system call.  An interrupted ``collect`` of foreground children
   goes on waiting -- they share the shell's note group and die of the same note -- and
   then raises ``Interrupted``; a child that died of ``interrupt`` does the same, so the
   shell gives up the rest of the command either way.  Background jobs are started in
   note groups of their own (RFNOTEG), so DEL spares them, and ``wait`` for them is
   interrupted at once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from lp49fs import lib
from lp49fs.cmd._rcast import Block, Pipeline, Redir, Simple, Unit, Word, fmt_unit, rcquote
from lp49fs.cmd._rclex import RcSyntax
from lp49fs.errors import ERRMAX, Eintr, Error
from lp49fs.ninep import ORDWR, OREAD, OWRITE

NOTEKILLED = "interrupt"  # the note DEL posts, and the exit string of a process it ended

if TYPE_CHECKING:
    from lp49fs.cmd._rcbuiltin import Builtin


_HEREVAR = re.compile(r"\$([A-Za-z0-9_*]+)")  # $name in a here document

class Procs:
    """The process-making half of ``Shell``; ``Shell`` provides the abstract parts."""

    fds: dict[int, int]
    vars: dict[str, list[str]]
    exited: dict[int, str]
    fns: dict[str, Block]
    builtins: dict[str, Builtin]

    async def words(self, words: tuple[Word, ...], globbing: bool = True) -> list[str]:
        raise NotImplementedError

    async def getvar(self, name: str) -> list[str]:
        raise NotImplementedError

    async def setvar(self, name: str, value: list[str]) -> None:
        raise NotImplementedError

    async def fail(self, e: Error | RcSyntax) -> str:
        raise NotImplementedError

    @asynccontextmanager
    async def redirected(self, redirs: tuple[Redir, ...]) -> AsyncIterator[None]:
        """The shell's own fds changed by ``redirs`` while the body runs."""
        if not redirs:
            yield
            return
        saved, fds = self.fds, dict(self.fds)
        opened: list[int] = []
        try:
            for r in redirs:
                await self.redirect(r, fds, opened)
            self.fds = fds
            yield
        finally:
            self.fds = saved
            for fd in opened:
                await close_quietly(fd)

    async def start(self, p: Pipeline, flags: int = 0) -> tuple[list[int], list[str]]:
        """Spawn every command of ``p`` joined by pipes: the pids started, and the errors of
        those that could not start (each already reported on fd 2)."""
        pids: list[int] = []
        errs: list[str] = []
        infd: int | None = None
        for i, cmd in enumerate(p.cmds):
            fds = dict(self.fds)
            opened: list[int] = []
            if infd is not None:
                fds[p.fds[i - 1][1] if p.fds else 0] = infd
                opened.append(infd)
                infd = None
            if i < len(p.cmds) - 1:
                r, w = await lib.pipe()
                fds[p.fds[i][0] if p.fds else 1] = w
                opened.append(w)
                infd = r
            try:
                pid = await self.start_unit(cmd, fds, opened, flags)
                if pid is not None:
                    pids.append(pid)
            except (Error, RcSyntax) as e:
                errs.append(await self.fail(e))
            finally:
                for fd in opened:
                    await close_quietly(fd)
        if infd is not None:
            await close_quietly(infd)
        return pids, errs

    async def start_unit(self, u: Unit, fds: dict[int, int], opened: list[int], flags: int = 0
                         ) -> int | None:
        """Start one member of a pipeline in its own process (Rule 3)."""
        if not isinstance(u, Simple):
            return await self.spawn_sh(fmt_unit(u), fds, flags)
        argv = await self.words(u.words)
        if not argv:
            for name, w in u.assigns:
                await self.setvar(name, await self.words((w,)))
            return None
        for r in u.redirs:
            await self.redirect(r, fds, opened)
        saved = await self.assign_for(u)
        try:
            if argv[0] in self.fns or argv[0] in self.builtins:
                return await self.spawn_sh(" ".join(rcquote(a) for a in argv), fds, flags)
            return await self.spawn(argv, fds, flags)
        finally:
            for name, old in saved:
                await self.setvar(name, old)

    async def spawn(self, argv: list[str], fds: dict[int, int], flags: int = 0) -> int:
        """Start program ``argv[0]`` (Rule 7 for a script) with fd map ``fds``."""
        prog, argv = await _interpreter(argv)
        try:
            return await lib.spawn(prog, argv, lib.RFCFDG | lib.RFPROC | flags, fds)
        except Error as e:
            ename = e.ename.removeprefix(f"'{prog}' ")  # the loader names it already
            raise Error(f"{argv[0]}: {ename}") from None

    async def spawn_sh(self, text: str, fds: dict[int, int], flags: int = 0) -> int:
        """A child ``sh -c text`` with this shell's ``$*`` (Rule 3)."""
        return await lib.spawn("sh", ["sh", "-c", text, *self.vars["*"]],
                               lib.RFCFDG | lib.RFPROC | flags, fds)

    async def assign_for(self, cmd: Simple) -> list[tuple[str, list[str]]]:
        """Apply ``x=v cmd`` assignments; returns the old values to restore."""
        saved = []
        for name, w in cmd.assigns:
            saved.append((name, await self.getvar(name)))
            await self.setvar(name, await self.words((w,)))
        return saved

    async def redirect(self, r: Redir, fds: dict[int, int], opened: list[int]) -> None:
        if r.op == "close":
            fds.pop(r.fd, None)
            return
        if r.op == "dup":
            if r.fd2 not in fds:
                raise Error(f">[{r.fd}={r.fd2}]: fd not open")
            fds[r.fd] = fds[r.fd2]
            return
        if r.op == "<<":
            fd = await self.heredoc(r)
            opened.append(fd)
            fds[r.fd] = fd
            return
        assert r.target is not None
        names = await self.words((r.target,))
        if len(names) != 1:
            raise Error(f"{r.op}: need exactly one file name")
        name = names[0]
        try:
            if r.op == "<":
                fd = await lib.open(name, OREAD)
            elif r.op == "<>":
                fd = await lib.open(name, ORDWR)
            elif r.op == ">":
                fd = await lib.create(name, OWRITE, 0o664)
            else:
                fd = await _append(name)
        except Error as e:
            raise Error(f"{name}: {e.ename}") from None
        opened.append(fd)
        fds[r.fd] = fd

    async def heredoc(self, r: Redir) -> int:
        """The read end of a pipe holding here document ``r`` ($name substituted unless its
        word was quoted); at most what the pipe holds, since nobody reads it yet."""
        text = r.here
        if not r.raw:
            parts = _HEREVAR.split(text)  # text, name, text, name ... text
            for k in range(1, len(parts), 2):
                parts[k] = " ".join(await self.getvar(parts[k]))
            text = "".join(parts)
        data = text.encode()
        rd, wr = await lib.pipe()
        try:
            if len(data) > await lib.iounit(wr):
                raise Error("here document too long")
            if data:
                await lib.write(wr, data)
        except BaseException:
            await close_quietly(rd)
            raise
        finally:
            await close_quietly(wr)
        return rd

    async def collect(self, pids: list[int], foreground: bool = True) -> list[str]:
        """Wait until every pid in ``pids`` has exited; their exit strings in order.

        Raises ``Interrupted`` after a note (Rule 5).
        """
        noted = False
        while not all(pid in self.exited for pid in pids):
            try:
                w = await lib.wait()
            except Error as e:
                if e.ename != Eintr:
                    break
                noted = True
                if not foreground:
                    break
                continue
            self.exited[w.pid] = w.msg
        msgs = [self.exited.pop(pid, "") for pid in pids]
        if noted or NOTEKILLED in msgs:
            await takenotes()
            raise Interrupted(msgs)
        return msgs


async def _interpreter(argv: list[str]) -> tuple[str, list[str]]:
    """The program to load for ``argv``: itself, or a script's ``#!`` interpreter (Rule 7)."""
    name = argv[0]
    if "/" not in name or name.startswith("/bin/"):
        return name.removeprefix("/bin/"), argv
    try:
        fd = await lib.open(name, OREAD)
    except Error as e:
        raise Error(f"{name}: {e.ename}") from None
    try:
        head = await lib.read(fd, 256)
    finally:
        await lib.close(fd)
    if not head.startswith(b"#!"):
        raise Error(f"{name}: exec header invalid")
    line = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
    if not line:
        raise Error(f"{name}: exec header invalid")
    return line[0].removeprefix("/bin/"), [line[0], *line[1:], name, *argv[1:]]


async def _append(name: str) -> int:
    try:
        fd = await lib.open(name, OWRITE)
    except Error:
        return await lib.create(name, OWRITE, 0o664)
    await lib.seek(fd, 0, 2)
    return fd


class Interrupted(Exception):
    """A note interrupted the command; ``msgs`` are the exit strings collected anyway."""

    def __init__(self, msgs: list[str] | None = None) -> None:
        super().__init__(NOTEKILLED)
        self.msgs = msgs or []


async def takenotes() -> list[str]:
    """Read this process's pending notes from /proc/N/note (so they do not pile up)."""
    pid = await lib.getpid()
    notes: list[str] = []
    for path in (f"/proc/{pid}/note", f"#p/{pid}/note"):
        try:
            fd = await lib.open(path, OREAD)
        except Error:
            continue
        try:
            while n := await lib.read(fd, ERRMAX):
                notes.append(n.rstrip(b"\0").decode(errors="replace"))
        except Error:
            pass
        finally:
            await lib.close(fd)
        break
    return notes


async def close_quietly(fd: int) -> None:
    try:
        await lib.close(fd)
    except Error:
        pass
