"""The executor of ``sh``: runs parsed commands as LP49 processes.

Theory of operation.  ``Shell`` holds what rc keeps between commands: ``$status``,
``$apid``, ``$*``, exit records of children not yet claimed, and the fds 0-2 it was given.

1. Variables live in /env (the environment group, shared with children): ``x=(a b)`` writes
   ``/env/x`` in rc's NUL-separated form and ``$x`` reads it back, so a value set by any
   process sharing the group is seen.  Should /env be missing, they stay in ``self.vars``.
   ``status``, ``apid``, ``pid`` and ``*`` are the shell's own and never touch /env.
   ``x=v cmd`` sets x for the one command and restores the old value afterwards.
2. Every simple command that is not a builtin is ``spawn``-ed with RFCFDG|RFPROC and an
   explicit fd map (child fd -> shell fd): 0-2 from the shell, replaced by pipe ends and
   then by redirections in source order.  Children therefore hold no stray pipe ends, and
   a reader sees end of file when the last writer exits.  The shell closes its copies of
   pipe ends and redirection fds as soon as the children hold theirs.
3. A foreground pipeline is waited for: ``wait`` records are collected until every pid of
   the pipeline is in; records of other children (background jobs) are kept for later.
   The status of a pipeline is its members' exit strings joined by ``|``, or "" if all
   succeeded.  ``&&`` and ``||`` test status == "".
4. Errors never end the shell: a syntax error, an unknown program (``sh: foo: file does not
   exist``), a failed redirection or a bad word prints one line on fd 2 and sets
   ``$status``; only ``exit`` (or the end of input) ends it.
5. Builtins (``_rcbuiltin``) run in the shell process: ``cd``, ``exit``, ``.``, ``rfork``,
   ``wait``; in a pipeline they are refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lp49fs import lib
from lp49fs.cmd._rcbuiltin import BUILTINS, Exit
from lp49fs.cmd._rclex import Incomplete, RcSyntax
from lp49fs.cmd._rcparse import AndOr, Group, Pipeline, Redir, Simple, Var, Word, parse
from lp49fs.cmd._rcword import envdecode, envencode, expand_all
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE

SPECIAL = frozenset({"status", "apid", "pid", "*"})


class Shell:
    def __init__(self, args: list[str], stdfds: list[int]) -> None:
        self.vars: dict[str, list[str]] = {"status": [""], "*": args}
        self.stdfds = stdfds  # which of 0, 1, 2 the shell has open
        self.exited: dict[int, str] = {}  # pid -> exit string, not yet claimed
        self.builtins = BUILTINS

    @property
    def status(self) -> str:
        return self.vars["status"][0] if self.vars["status"] else ""

    @status.setter
    def status(self, s: str) -> None:
        self.vars["status"] = [s]

    # --- variables ----------------------------------------------------------------------

    async def getvar(self, name: str) -> list[str]:
        if name in SPECIAL:
            return list(self.vars.get(name, []))
        if name.isdigit():
            args = self.vars["*"]
            k = int(name)
            return [args[k - 1]] if 1 <= k <= len(args) else []
        try:
            fd = await lib.open("/env/" + name, OREAD)
        except Error:
            return list(self.vars.get(name, []))
        try:
            return envdecode(await lib.readall(fd))
        finally:
            await lib.close(fd)

    async def setvar(self, name: str, value: list[str]) -> None:
        if name in SPECIAL:
            self.vars[name] = value
            return
        try:
            fd = await lib.create("/env/" + name, OWRITE, 0o664)
            try:
                await lib.write(fd, envencode(value))
            finally:
                await lib.close(fd)
            self.vars.pop(name, None)
        except Error:
            self.vars[name] = value

    async def words(self, words: tuple[Word, ...]) -> list[str]:
        """Expand ``words``, fetching every variable they mention first."""
        names: set[str] = set()
        for w in words:
            _varnames(w, names)
        values = {n: await self.getvar(n) for n in names}
        return expand_all(words, lambda n: values.get(n, []))

    # --- running --------------------------------------------------------------------------

    async def run_text(self, text: str) -> None:
        """Run ``text`` as ``run_lines`` does (a syntax error spoils only its own command)."""
        lines = iter(text.splitlines(keepends=True))

        async def nextline() -> str | None:
            return next(lines, None)

        await self.run_lines(nextline)

    async def run_lines(self, nextline: Callable[[], Awaitable[str | None]],
                        prompt: Callable[[str], Awaitable[None]] | None = None) -> None:
        """Read lines until whole commands parse, run them, repeat until None (end of input).

        ``prompt(p)`` is called before each line with ``% `` or, inside an unfinished
        command, a tab.  A syntax error is reported and the text so far dropped.
        """
        text = ""
        while True:
            if prompt is not None:
                await prompt("\t" if text else "% ")
            line = await nextline()
            if line is not None:
                text += line
            if not text.strip():
                if line is None:
                    return
                text = ""
                continue
            try:
                items = parse(text)
            except Incomplete as e:
                if line is not None:
                    continue
                await self.syntax(e)
                return
            except RcSyntax as e:
                await self.syntax(e)
                text = ""
                continue
            text = ""
            for item in items:
                await self.run_andor(item)
            if line is None:
                return

    async def syntax(self, e: RcSyntax) -> None:
        await self.complain(f"syntax error: {e}")
        self.status = "syntax error"

    async def run_andor(self, a: AndOr) -> None:
        await self.run_pipeline(a.first, a.bg)
        for op, p in a.rest:
            if (op == "&&") == (self.status == ""):
                await self.run_pipeline(p, False)

    async def run_pipeline(self, p: Pipeline, bg: bool) -> None:
        try:
            if len(p.cmds) == 1 and not bg:
                builtin = await self.try_builtin(p.cmds[0])
                if builtin:
                    return
            pids, errs = await self.start(p)
        except Exit:
            raise
        except (Error, RcSyntax) as e:
            msg = e.ename if isinstance(e, Error) else str(e)
            await self.complain(msg)
            self.status = msg
            return
        if bg:
            self.vars["apid"] = [str(pids[-1])] if pids else []
            self.status = "|".join(errs)
            return
        msgs = await self.collect(pids) + errs
        self.status = "|".join(msgs) if any(msgs) else ""

    async def start(self, p: Pipeline) -> tuple[list[int], list[str]]:
        """Spawn every command of ``p`` joined by pipes: the pids started, and the errors of
        those that could not start (each already reported on fd 2)."""
        pids: list[int] = []
        errs: list[str] = []
        infd: int | None = None
        for i, cmd in enumerate(p.cmds):
            last = i == len(p.cmds) - 1
            fds = {k: k for k in self.stdfds}
            opened: list[int] = []
            if infd is not None:
                fds[0] = infd
                opened.append(infd)
                infd = None
            if not last:
                r, w = await lib.pipe()
                fds[1] = w
                opened.append(w)
                infd = r
            try:
                pid = await self.spawn(cmd, fds, opened)
                if pid is not None:
                    pids.append(pid)
            except (Error, RcSyntax) as e:
                msg = e.ename if isinstance(e, Error) else str(e)
                await self.complain(msg)
                errs.append(msg)
            finally:
                for fd in opened:
                    await _close(fd)
        if infd is not None:
            await _close(infd)
        return pids, errs

    async def spawn(self, cmd: Simple, fds: dict[int, int], opened: list[int]) -> int | None:
        """Start one command (None if it is only assignments); may append to ``opened``."""
        argv = await self.words(cmd.words)
        if not argv:
            for name, w in cmd.assigns:
                await self.setvar(name, await self.words((w,)))
            return None
        for r in cmd.redirs:
            await self.redirect(r, fds, opened)
        saved = await self.assign_for(cmd)
        try:
            prog = argv[0].removeprefix("/bin/")
            if prog in self.builtins:
                raise Error(f"{prog}: builtin not allowed in a pipeline")
            try:
                return await lib.spawn(prog, argv, lib.RFCFDG | lib.RFPROC, fds)
            except Error as e:
                ename = e.ename.removeprefix(f"'{prog}' ")  # the loader names it already
                raise Error(f"{argv[0]}: {ename}") from None
        finally:
            for name, old in saved:
                await self.setvar(name, old)

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
        assert r.target is not None
        names = await self.words((r.target,))
        if len(names) != 1:
            raise Error(f"{r.op}: need exactly one file name")
        name = names[0]
        try:
            if r.op == "<":
                fd = await lib.open(name, OREAD)
            elif r.op == ">":
                fd = await lib.create(name, OWRITE, 0o664)
            else:
                fd = await _append(name)
        except Error as e:
            raise Error(f"{name}: {e.ename}") from None
        opened.append(fd)
        fds[r.fd] = fd

    async def collect(self, pids: list[int]) -> list[str]:
        """Wait until every pid in ``pids`` has exited; their exit strings in order."""
        while not all(pid in self.exited for pid in pids):
            try:
                w = await lib.wait()
            except Error:
                break
            self.exited[w.pid] = w.msg
        return [self.exited.pop(pid, "") for pid in pids]

    async def try_builtin(self, cmd: Simple) -> bool:
        """Run ``cmd`` if it is a builtin or only assignments; False if it must be spawned."""
        argv = await self.words(cmd.words)
        if argv and argv[0] not in self.builtins:
            return False
        if not argv:
            for name, w in cmd.assigns:
                await self.setvar(name, await self.words((w,)))
            opened: list[int] = []
            try:
                for r in cmd.redirs:  # '>file' alone creates the file
                    await self.redirect(r, {}, opened)
            finally:
                for fd in opened:
                    await _close(fd)
            self.status = ""
            return True
        saved = await self.assign_for(cmd)
        try:
            self.status = await self.builtins[argv[0]](self, argv)
        finally:
            for name, old in saved:
                await self.setvar(name, old)
        return True

    async def complain(self, msg: str) -> None:
        if 2 in self.stdfds:
            try:
                await lib.fprint(2, f"sh: {msg}\n")
            except Error:
                pass

def _varnames(w: Word, out: set[str]) -> None:
    for p in w.pieces:
        if isinstance(p, Var):
            out.add(p.name)
            for sub in p.index or ():
                _varnames(sub, out)
        elif isinstance(p, Group):
            for sub in p.words:
                _varnames(sub, out)


async def _append(name: str) -> int:
    try:
        fd = await lib.open(name, OWRITE)
    except Error:
        return await lib.create(name, OWRITE, 0o664)
    await lib.seek(fd, 0, 2)
    return fd


async def _close(fd: int) -> None:
    try:
        await lib.close(fd)
    except Error:
        pass


__all__ = ["Exit", "Shell"]
