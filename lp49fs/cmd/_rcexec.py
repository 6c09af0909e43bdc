"""The executor of ``sh``: runs parsed commands as LP49 processes.

Theory of operation.  ``Shell`` holds what rc keeps between commands: ``$status``,
``$apid``, ``$*``, the functions, exit records of children not yet claimed, and ``fds``,
the shell's current fd map (a child's fd -> the shell's fd), which starts as the fds 0-2
it was given and which a redirected block or builtin changes for its duration.

1. Variables live in /env (the environment group, shared with children): ``x=(a b)`` writes
   ``/env/x`` in rc's NUL-separated form and ``$x`` reads it back, so a value set by any
   process sharing the group is seen.  Should /env be missing, they stay in ``self.vars``.
   ``status``, ``apid``, ``pid``, ``*`` and ``0`` (the script's name) are the shell's own
   and never touch /env.
   ``x=v cmd`` sets x for the one command and restores the old value afterwards.
2. Every program is ``spawn``-ed with RFCFDG|RFPROC and an explicit fd map: ``fds``,
   replaced by pipe ends and then by redirections in source order.  Children therefore
   hold no stray pipe ends, and a reader sees end of file when the last writer exits.
3. What rc would fork for -- a block, a compound command, a builtin or a function in a
   pipeline, an ``&`` item that is more than plain programs, ``@``, `` `{} `` -- runs as a
   child ``sh -c`` of its ``fmt`` text with the same ``$*``; it finds the functions in /env
   (``_rcflow.deffn``).
4. A foreground pipeline is waited for: ``wait`` records are collected until every pid of
   the pipeline is in; records of other children (background jobs) are kept for later.
   A note (the console's DEL) gives up the rest of the command: an interactive shell
   prompts again, any other exits ``interrupted`` (``_rcproc`` Rule 5).
   The status of a pipeline is its members' exit strings joined by ``|``, or "" if all
   succeeded; ``!`` inverts it (``false`` / "").  ``&&`` and ``||`` test status == "".
5. Errors never end the shell: a syntax error, an unknown program (``sh: foo: file does not
   exist``), a failed redirection or a bad word prints one line on fd 2 and sets
   ``$status``; only ``exit`` (or the end of input) ends it.
6. Words are expanded (``_rcword``), `` `{} `` run first, then globbed against the name
   space (``_rcglob``); ``~`` and ``case`` patterns keep their pattern marks instead.
7. A program named by a path (``./x``, ``/tmp/script``) whose file starts with ``#!`` runs
   the interpreter the line names (``#!/bin/rc -x`` -> ``rc -x /tmp/script args``).

Where things live: the grammar in ``_rcparse`` (tree in ``_rcast``), word values in
``_rcword``, patterns in ``_rcglob``, compound commands in ``_rcflow``, builtins in
``_rcbuiltin``, and the process making of Rules 2-4 and 7 in ``_rcproc.Procs``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lp49fs import lib
from lp49fs.cmd import _rcflow
from lp49fs.cmd._rcast import (
    AndOr,
    Backq,
    Block,
    Group,
    If,
    Pipeline,
    Simple,
    Unit,
    Var,
    Word,
    fmt_andor,
    fmt_body,
)
from lp49fs.cmd._rcbuiltin import BUILTINS, Exit
from lp49fs.cmd._rcglob import glob
from lp49fs.cmd._rclex import Incomplete, RcSyntax
from lp49fs.cmd._rcparse import parse
from lp49fs.cmd._rcproc import Interrupted, Procs, close_quietly
from lp49fs.cmd._rcword import envdecode, envencode, expand_all, ifsplit, unglob
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE

SPECIAL = frozenset({"status", "apid", "pid", "*", "0"})
IFS = " \t\n"  # $ifs when unset


class Shell(Procs):
    def __init__(self, args: list[str], stdfds: list[int], name: str = "sh") -> None:
        self.vars: dict[str, list[str]] = {"status": [""], "*": args, "0": [name]}
        self.fds: dict[int, int] = {k: k for k in stdfds}  # child fd -> shell fd (Rule 2)
        self.exited: dict[int, str] = {}  # pid -> exit string, not yet claimed
        self.builtins = BUILTINS
        self.fns: dict[str, Block] = {}  # fn name -> body
        self.ifnot = False  # the last if's condition was false

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

    async def words(self, words: tuple[Word, ...], globbing: bool = True) -> list[str]:
        """Expand ``words`` (Rule 6); with ``globbing`` False the pattern marks stay."""
        names: set[str] = set()
        backqs: list[Backq] = []
        for w in words:
            _scan(w, names, backqs)
        values = {n: await self.getvar(n) for n in names}
        subst = {id(b): await self.backquote(b) for b in backqs}
        out = expand_all(words, lambda n: values.get(n, []), subst)
        if not globbing:
            return out
        result: list[str] = []
        for v in out:
            result += await glob(v)
        return result

    async def backquote(self, b: Backq) -> list[str]:
        """`{cmds}: the output of a child shell running cmds, split at $ifs."""
        r, w = await lib.pipe()
        try:
            fds = dict(self.fds)
            fds[1] = w
            pid = await self.spawn_sh(fmt_body(b.body), fds)
        finally:
            await close_quietly(w)
        try:
            data = await lib.readall(r)
        finally:
            await close_quietly(r)
        await self.collect([pid])
        ifs = await self.getvar("ifs")
        return ifsplit(data.decode(errors="replace"), "".join(ifs) if ifs else IFS)

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
            try:
                line = await nextline()
            except Interrupted:
                text = ""  # DEL drops the command being typed
                await self.interrupted(prompt)
                continue
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
            try:
                await self.run_body(items)
            except Interrupted:
                await self.interrupted(prompt)
            if line is None:
                return

    async def interrupted(self, prompt: Callable[[str], Awaitable[None]] | None) -> None:
        """After a note: an interactive shell goes back to its prompt, any other one exits."""
        self.status = "interrupted"
        if prompt is None:
            raise Exit("interrupted")
        await prompt("\n")

    async def syntax(self, e: RcSyntax) -> None:
        await self.complain(f"syntax error: {e}")
        self.status = "syntax error"

    async def run_body(self, items: tuple[AndOr, ...]) -> None:
        for item in items:
            await self.run_andor(item)

    async def run_andor(self, a: AndOr) -> None:
        if a.bg:
            await self.background(a)
            return
        await self.run_pipeline(a.first)
        for op, p in a.rest:
            if (op == "&&") == (self.status == ""):
                await self.run_pipeline(p)

    async def background(self, a: AndOr) -> None:
        """``a &``: started, not waited for; $apid is its (last) pid."""
        try:
            if not a.rest and not a.first.bang and all(isinstance(c, Simple)
                                                       for c in a.first.cmds):
                pids, errs = await self.start(a.first, lib.RFNOTEG)
            else:
                pids, errs = [await self.spawn_sh(fmt_andor(AndOr(a.first, a.rest)),
                                                  dict(self.fds), lib.RFNOTEG)], []
        except (Error, RcSyntax) as e:
            await self.fail(e)
            return
        self.vars["apid"] = [str(pids[-1])] if pids else []
        self.status = "|".join(errs)

    async def run_pipeline(self, p: Pipeline) -> None:
        try:
            if len(p.cmds) == 1:
                await self.run_unit(p.cmds[0])
            else:
                pids, errs = await self.start(p)
                msgs = await self.collect(pids) + errs
                self.status = "|".join(msgs) if any(msgs) else ""
        except Exit:
            raise
        except (Error, RcSyntax) as e:
            await self.fail(e)
        if p.bang:
            self.status = "false" if self.status == "" else ""

    async def run_unit(self, u: Unit) -> None:
        """Run one command in the shell itself (a program: spawned and waited for)."""
        if isinstance(u, Simple):
            await self.run_simple(u)
        else:
            await _rcflow.run(self, u)
        if not isinstance(u, If):
            self.ifnot = False

    async def run_simple(self, cmd: Simple) -> None:
        argv = await self.words(cmd.words)
        if not argv:
            for name, w in cmd.assigns:
                await self.setvar(name, await self.words((w,)))
            async with self.redirected(cmd.redirs):  # '>file' alone creates the file
                pass
            self.status = ""
            return
        saved = await self.assign_for(cmd)
        try:
            if argv[0] in self.fns:
                async with self.redirected(cmd.redirs):
                    await _rcflow.call(self, self.fns[argv[0]], argv[1:])
            elif argv[0] in self.builtins:
                async with self.redirected(cmd.redirs):
                    self.status = await self.builtins[argv[0]](self, argv)
            else:
                fds = dict(self.fds)
                opened: list[int] = []
                try:
                    for r in cmd.redirs:
                        await self.redirect(r, fds, opened)
                    try:
                        pid = await self.spawn(argv, fds)
                    except Error as e:  # told on the command's fd 2, as rc's child would
                        await self.complain(e.ename, fds)
                        self.status = e.ename
                        return
                finally:
                    for fd in opened:
                        await close_quietly(fd)
                (msg,) = await self.collect([pid])
                self.status = msg
        finally:
            for name, old in saved:
                await self.setvar(name, old)

    async def fail(self, e: Error | RcSyntax) -> str:
        """Report ``e`` on fd 2 and make it the status (Rule 5)."""
        msg = e.ename if isinstance(e, Error) else str(e)
        await self.complain(msg)
        self.status = msg
        return msg

    async def complain(self, msg: str, fds: dict[int, int] | None = None) -> None:
        """``sh: msg`` on fd 2 of ``fds`` (the shell's own map by default)."""
        fds = self.fds if fds is None else fds
        if 2 in fds:
            try:
                await lib.fprint(fds[2], f"sh: {msg}\n")
            except Error:
                pass


def _scan(w: Word, names: set[str], backqs: list[Backq]) -> None:
    """The variables and `{} pieces ``w`` mentions (not those inside a `{}: its shell's)."""
    for p in w.pieces:
        if isinstance(p, Var):
            names.add(p.name)
            for sub in p.index or ():
                _scan(sub, names, backqs)
        elif isinstance(p, Group):
            for sub in p.words:
                _scan(sub, names, backqs)
        elif isinstance(p, Backq):
            backqs.append(p)


__all__ = ["Exit", "Shell", "unglob"]
