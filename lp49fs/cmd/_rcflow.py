"""The compound commands of ``sh``: blocks, if, for, while, switch, fn, ~ and @.

Each runs in the shell process (``Shell.run_unit`` sends every unit but a simple command
here), as rc(1) says:

1. ``{cmds} >f``: the commands, with the shell's fds redirected for their duration.
2. ``if(cond) cmd``: cond is true when its last status is ""; ``if not cmd`` right after
   runs when it was false.  ``$status`` is left as the condition (or the body) left it.
3. ``for(i in words) cmd`` sets ``$i`` to each word in turn; ``for(i) cmd`` runs over
   ``$*``.  ``while(cond) cmd`` runs cmd while cond is true, then leaves status "".
4. ``switch(word){case pat ...; cmds ...}`` runs the commands after the first ``case``
   whose patterns match the subject, up to the next ``case``.  The subject is the word's
   list joined by blanks; patterns are rc patterns, never globbed against files.
5. ``~ subject pattern ...`` sets status "" when a pattern matches, else ``no match``.
6. ``fn name {body}`` defines a function; ``fn name`` deletes it.  The definition is also
   written to /env as ``fn#name`` holding its rc text, which is how Plan 9's rc passes
   functions to child shells; ``load`` reads them back when a shell starts.  A call sets
   ``$*`` to its arguments for the body's duration.
7. ``@ cmd`` runs cmd in a child shell and waits for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs import lib
from lp49fs.cmd._rcast import (
    AndOr,
    Block,
    Fn,
    For,
    If,
    IfNot,
    Lit,
    Match,
    Simple,
    Sub,
    Switch,
    Unit,
    While,
    Word,
    fmt_pipe,
    fmt_unit,
)
from lp49fs.cmd._rcglob import match
from lp49fs.cmd._rclex import RcSyntax
from lp49fs.cmd._rcparse import parse
from lp49fs.cmd._rcword import unglob
from lp49fs.errors import Error
from lp49fs.ninep import OREAD, OWRITE

if TYPE_CHECKING:
    from lp49fs.cmd._rcexec import Shell

FNPREFIX = "fn#"  # /env/fn#name holds function name's definition


async def run(sh: Shell, u: Unit) -> None:
    """Run compound command ``u`` in ``sh``."""
    if isinstance(u, Block):
        async with sh.redirected(u.redirs):
            await sh.run_body(u.body)
    elif isinstance(u, If):
        await sh.run_body(u.cond)
        ok = sh.status == ""
        if ok:
            await sh.run_andor(u.body)
        sh.ifnot = not ok
    elif isinstance(u, IfNot):
        if sh.ifnot:
            await sh.run_andor(u.body)
    elif isinstance(u, For):
        values = await sh.words(u.words) if u.words is not None else await sh.getvar("*")
        for v in values:
            await sh.setvar(u.var, [v])
            await sh.run_andor(u.body)
    elif isinstance(u, While):
        while True:
            await sh.run_body(u.cond)
            if sh.status != "":
                break
            await sh.run_andor(u.body)
        sh.status = ""
    elif isinstance(u, Switch):
        await switch(sh, u)
    elif isinstance(u, Match):
        subject = " ".join(await sh.words((u.subject,)))
        pats = await sh.words(u.patterns, globbing=False)
        sh.status = "" if any(match(subject, p) for p in pats) else "no match"
    elif isinstance(u, Fn):
        await deffn(sh, u)
    elif isinstance(u, Sub):
        pid = await sh.spawn_sh(fmt_pipe(u.pipe), dict(sh.fds))
        (sh.status,) = await sh.collect([pid])
    else:
        raise AssertionError(f"not a compound command: {u!r}")


def _case(item: AndOr) -> tuple[Word, ...] | None:
    """The patterns of a ``case`` line, or None if ``item`` is not one."""
    p = item.first
    if item.rest or item.bg or p.bang or len(p.cmds) != 1:
        return None
    c = p.cmds[0]
    if not isinstance(c, Simple) or not c.words or c.assigns or c.redirs:
        return None
    if c.words[0].pieces != (Lit("case"),):
        return None
    return c.words[1:]


async def switch(sh: Shell, u: Switch) -> None:
    subject = " ".join(await sh.words((u.subject,)))
    running = False
    async with sh.redirected(u.body.redirs):
        for item in u.body.body:
            pats = _case(item)
            if pats is None:
                if running:
                    await sh.run_andor(item)
                continue
            if running:
                return
            running = any(match(subject, p) for p in await sh.words(pats, globbing=False))
            if not running:
                sh.status = "no match"


async def call(sh: Shell, body: Block, args: list[str]) -> None:
    """Run function ``body`` with ``$*`` set to ``args`` (Rule 6)."""
    saved = sh.vars["*"]
    sh.vars["*"] = args
    try:
        await run(sh, body)
    finally:
        sh.vars["*"] = saved


async def deffn(sh: Shell, u: Fn) -> None:
    names = [unglob(n) for n in await sh.words(u.names, globbing=False)]
    for name in names:
        path = "/env/" + FNPREFIX + name
        if u.body is None:
            sh.fns.pop(name, None)
            try:
                await lib.remove(path)
            except Error:
                pass
            continue
        sh.fns[name] = u.body
        text = fmt_unit(Fn((Word((Lit(name, quoted=True),)),), u.body)) + "\n"
        try:
            fd = await lib.create(path, OWRITE, 0o664)
            try:
                await lib.write(fd, text.encode())
            finally:
                await lib.close(fd)
        except Error:
            pass  # no /env: the function lives in this shell only
    sh.status = ""


async def load(sh: Shell) -> None:
    """Define the functions that /env holds (Rule 6); a broken one is skipped."""
    try:
        fd = await lib.open("/env", OREAD)
    except Error:
        return
    try:
        names = [d.name for d in await lib.dirreadall(fd)]
    finally:
        await lib.close(fd)
    for name in names:
        if not name.startswith(FNPREFIX):
            continue
        try:
            fd = await lib.open("/env/" + name, OREAD)
            try:
                text = (await lib.readall(fd)).decode()
            finally:
                await lib.close(fd)
            items = parse(text)
        except (Error, UnicodeDecodeError, RcSyntax):
            continue
        for item in items:
            u = item.first.cmds[0]
            if isinstance(u, Fn) and u.body is not None and len(u.names) == 1:
                sh.fns[name.removeprefix(FNPREFIX)] = u.body
