"""newns/addns: build a name space from a Plan 9 namespace file (namespace(6), libauth newns.c).

A namespace file is a list of name-space operations, one per line (Plan 9 namespace(6)):

    mount [-abcC] srvfile old [spec]     bind [-abcC] new old     unmount [new] old
    cd dir     clear     . file     import [-abc] host [path] mtpt

Theory of operation.  ``parse`` turns the text into ``Op`` values without touching the name
space (a pure function, tested as tables); ``addns`` runs them in the calling LP49 process
through ``lp49fs.lib`` system calls only; ``newns`` first gives the process a clean name
space and a private environment (rfork RFENVG|RFCNAMEG), sets ``$user`` and ``$home``, then
runs the file like ``addns``.  Init uses it at boot; any program may.  ``main`` is the
program ``newns [-a] [-n nsfile] [command]`` (Plan 9 auth/newns), ``addns`` its ``-a``.

Rules:

1. Lines split on blanks and tabs outside rc-style quotes (``'#c'``, ``'a b'``, ``''`` for a
   quote inside), as Plan 9's newns.c splitargs does, so ``ns`` output reads back.  Quotes
   are removed when the line runs.  A blank line, or one whose first non-blank character
   is ``#``, is a comment (``bind #c /dev`` is not: only the first character counts).
2. Flags come first (ARGBEGIN): ``-a`` MAFTER, ``-b`` MBEFORE, neither MREPL; ``-c`` adds
   MCREATE, ``-C`` MCACHE; letters newns does not know are ignored, as in Plan 9.
3. ``$name`` in an argument is replaced by the first element of environment variable
   ``name`` (read from ``#e/name``, so it works in a clean name space); the name ends at a
   blank, ``/``, ``'`` or ``$``; an unset variable (or a bare ``$``) expands to nothing; a
   ``$`` inside quotes is an ordinary character.  Expansion
   happens when the line runs, so an earlier line's effect on ``#e`` is seen.
4. A line that fails -- wrong operand count, unknown op, a refused system call -- is ignored
   silently and the next one runs (newns.c); it is logged at debug level.  ``import`` runs
   ``lp49fs.servers.exportfs.net.importfs`` (dial, handshake, mount), failing the same way.
5. ``. file`` reads ``file`` in the current name space and runs it in place; nesting stops at
   ``MAXDEPTH`` levels so a file that includes itself ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import MAFTER, MBEFORE, MCACHE, MCREATE
from lp49fs.ninep import ORDWR, OREAD, OTRUNC, OWRITE
from lp49fs.servers.exportfs.net import importfs

log = logging.getLogger(__name__)

FLAGBITS = {"a": MAFTER, "b": MBEFORE, "c": MCREATE, "C": MCACHE}
MAXDEPTH = 8  # nesting of ". file"

# The name space every node gets unless its config names another file (Plan 9's /lib/namespace).
DEFAULT_NAMESPACE = """\
# lp49fs default name space (namespace(6) syntax)
bind #c /dev
bind #d /fd
bind -c #e /env
bind #p /proc
bind -c #s /srv
bind -a #S /dev
bind -a #I /net
bind -a #l /net
mount -c /srv/ramfs /tmp
cd /
"""


@dataclass(frozen=True, slots=True)
class Op:
    """One line of a namespace file: op name, flag word, operands (not yet expanded)."""

    lineno: int  # 1-based line in its file, for the debug log
    name: str  # "bind", "mount", "unmount", "cd", "clear", ".", "import", or anything else
    flag: int  # MREPL/MBEFORE/MAFTER | MCREATE | MCACHE from the flags
    args: tuple[str, ...]  # operands after the flags


def parse(text: str) -> list[Op]:
    """Split namespace-file ``text`` into ops (Rules 1 and 2); comments and blanks dropped."""
    ops: list[Op] = []
    for n, line in enumerate(text.splitlines(), 1):
        words = tokens(line)
        if not words or words[0].startswith("#"):
            continue
        name, rest = words[0], words[1:]
        flag = 0
        while rest and rest[0].startswith("-") and rest[0] != "-":
            word = rest.pop(0)
            if word == "--":
                break
            for ch in word[1:]:
                flag |= FLAGBITS.get(ch, 0)
        ops.append(Op(n, name, flag, tuple(rest)))
    return ops


def tokens(line: str) -> list[str]:
    """The blank-separated words of ``line``, quotes kept (Rule 1, Plan 9 gettokens)."""
    out: list[str] = []
    cur: list[str] = []
    inquote = False
    for ch in line:
        if ch == "'":
            inquote = not inquote  # '' inside quotes toggles twice: still one word
        elif ch in " \t\r" and not inquote:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def _pieces(arg: str) -> list[tuple[bool, str]]:
    """``arg`` as (is a variable name, text) pieces, quotes removed (Rules 1 and 3)."""
    out: list[tuple[bool, str]] = []
    text: list[str] = []
    i, n, inquote = 0, len(arg), False
    while i < n:
        ch = arg[i]
        if ch == "'":
            if inquote and arg.startswith("''", i):
                text.append("'")
                i += 2
                continue
            inquote = not inquote
            i += 1
            continue
        if ch == "$" and not inquote:
            j = i + 1
            while j < n and arg[j] not in "/$'":
                j += 1
            out += [(False, "".join(text)), (True, arg[i + 1 : j])]
            text, i = [], j
            continue
        text.append(ch)
        i += 1
    out.append((False, "".join(text)))
    return out


def varnames(arg: str) -> list[str]:
    """The variable names ``arg`` refers to (Rule 3), in order."""
    return [t for isvar, t in _pieces(arg) if isvar and t]


def expand(arg: str, env: dict[str, str]) -> str:
    """``arg`` with each ``$name`` replaced by ``env[name]`` ("" if unset) and its quotes
    removed (Rules 1 and 3): the operand as the op sees it."""
    return "".join(env.get(t, "") if isvar else t for isvar, t in _pieces(arg))


async def getenv(name: str) -> str | None:
    """The first element of ``#e/name`` (NUL-separated lists), None if unset."""
    try:
        fd = await lib.open(f"#e/{name}", OREAD)
    except Error:
        return None
    try:
        data = await lib.readall(fd)
    finally:
        await lib.close(fd)
    return data.split(b"\0", 1)[0].decode(errors="replace")


async def putenv(name: str, value: str) -> None:
    """Set ``#e/name`` to ``value`` (created or truncated)."""
    try:
        fd = await lib.open(f"#e/{name}", OWRITE | OTRUNC)
    except Error:
        fd = await lib.create(f"#e/{name}", OWRITE, 0o664)
    try:
        await lib.write(fd, value.encode())
    finally:
        await lib.close(fd)


async def _expand_all(args: tuple[str, ...]) -> list[str]:
    env: dict[str, str] = {}
    for arg in args:
        for name in varnames(arg):
            if name not in env:
                env[name] = await getenv(name) or ""
    return [expand(a, env) for a in args]


async def _mount(srv: str, old: str, flag: int, spec: str) -> None:
    fd = await lib.open(srv, ORDWR)
    try:
        await lib.mount(fd, -1, old, flag, spec)
    finally:
        try:
            await lib.close(fd)
        except Error:
            pass  # the mount may have consumed the fd


async def nsop(op: Op, depth: int = 0) -> int:
    """Run one op in the calling process; raises ``Error`` when it fails (Rule 4).

    Returns the failed lines of a ``. file`` it ran (0 for every other op).
    """
    a = await _expand_all(op.args)
    flag = op.flag
    if flag & MAFTER and flag & MBEFORE:
        raise Error("bad flags")
    match op.name, len(a):
        case "bind", 2:
            await lib.bind(a[0], a[1], flag)
        case "mount", 2 | 3:
            await _mount(a[0], a[1], flag, a[2] if len(a) == 3 else "")
        case "unmount", 1:
            await lib.unmount(None, a[0])
        case "unmount", 2:
            await lib.unmount(a[0], a[1])
        case "cd", 1:
            await lib.chdir(a[0])
        case "clear", 0:
            await lib.rfork(lib.RFCNAMEG)
        case ".", 1:
            if depth >= MAXDEPTH:
                raise Error(f". {a[0]}: nested too deep")
            return await addns(await _readtext(a[0]), depth + 1)
        case "import", 2 | 3:  # import [-abc] host [path] mtpt
            await importfs(a[0], a[1], a[-1], flag)
        case _:
            raise Error(f"bad namespace line: {op.name} with {len(a)} operands")
    return 0


async def _readtext(path: str) -> str:
    fd = await lib.open(path, OREAD)
    try:
        return (await lib.readall(fd)).decode(errors="replace")
    finally:
        await lib.close(fd)


async def addns(text: str, depth: int = 0) -> int:
    """Run namespace-file ``text`` in the calling process's name space.

    Returns how many lines failed (nested ``. file`` lines included); they were skipped.
    """
    failed = 0
    for op in parse(text):
        try:
            failed += await nsop(op, depth)
        except Error as e:
            failed += 1
            log.debug("namespace line %d (%s %s): %s", op.lineno, op.name,
                      " ".join(op.args), e.ename)  # fmt: skip
    return failed


async def newns(user: str, text: str = DEFAULT_NAMESPACE) -> int:
    """A clean name space and private env, ``$user``/``$home`` set, then ``addns(text)``."""
    await lib.rfork(lib.RFENVG | lib.RFCNAMEG)
    await putenv("user", user)
    await putenv("home", f"/usr/{user}")
    return await addns(text)


# --- the programs: newns [-a] [-n nsfile] [command ...], addns = newns -a ------------------

USAGE = "newns [-a] [-n nsfile] [command [arg ...]]"


async def main(argv: list[str]) -> None:
    """Build a name space from ``nsfile`` (the default namespace without ``-n``): a new one,
    or with ``-a`` added to this one; then run ``command`` (``rc``) in it and wait.  The
    file is read before the name space changes, so it may live anywhere the caller sees."""
    args, add, path = argv[1:], False, ""
    while args and args[0].startswith("-") and args[0] != "-":
        flag = args.pop(0)
        if flag == "--":
            break
        if flag == "-a":
            add = True
        elif flag == "-n" and args:
            path = args.pop(0)
        else:
            raise Error(f"usage: {USAGE}")
    try:
        text = await _readtext(path) if path else DEFAULT_NAMESPACE
    except Error as e:
        await lib.fprint(2, f"{argv[0]}: {path}: {e.ename}\n")
        raise
    if add:
        await addns(text)
    else:
        await newns(await _readtext("#c/user"), text)
    cmd = args or ["rc"]
    pid = await lib.spawn(cmd[0].removeprefix("/bin/"), cmd, lib.RFFDG | lib.RFPROC)
    while (w := await lib.wait()).pid != pid:
        pass
    if w.msg:
        raise Error(w.msg)
