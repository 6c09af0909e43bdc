"""The syntax tree of ``sh``, the rc shell, and its rendering back to rc text.

Theory of operation.  The parser (``_rcparse``) builds these frozen dataclasses; the
executor (``_rcexec``, ``_rcflow``) walks them.  ``fmt`` renders a tree as rc text that
parses back to the same tree.  That round trip is load-bearing, not only for tests:

1. ``fn name {body}`` is kept in /env as the file ``fn#name`` holding ``fmt`` of the
   definition, as Plan 9's rc does, so a child shell (started by a pipeline, ``&`` or
   `` `{} ``) reads every function back when it starts.
2. A compound command that must run in its own process (``{a; b} | wc``, ``for(...) ... &``)
   is run as ``sh -c`` of its ``fmt`` text: the analogue of rc's fork.

The shapes, from the top: a script is a tuple of ``AndOr`` items; an ``AndOr`` joins
``Pipeline``s with ``&&``/``||`` (``bg`` for a trailing ``&``); a ``Pipeline`` joins
``Unit``s with ``|`` (``bang`` for a leading ``!``); a ``Unit`` is a simple command or a
compound one.  A ``Word`` is pieces joined by ``^``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lp49fs.cmd._rclex import RcSyntax

KEYWORDS = frozenset({"for", "in", "while", "if", "not", "switch", "fn", "~", "!", "@"})
GLOBCHARS = "*?["  # the characters that make a word a pattern (rc(1) "Patterns")


@dataclass(frozen=True, slots=True)
class Lit:
    text: str  # literal characters (quotes already removed)
    quoted: bool = False  # came from '...': its * ? [ are not pattern characters


@dataclass(frozen=True, slots=True)
class Var:
    name: str  # variable name
    mod: str = ""  # "" value, "#" count, '"' joined by blanks
    index: tuple[Word, ...] | None = None  # $x(1 2): 1-based subscripts


@dataclass(frozen=True, slots=True)
class Group:
    words: tuple[Word, ...]  # (a b c): the concatenation of the words' lists


@dataclass(frozen=True, slots=True)
class Backq:
    body: tuple[AndOr, ...]  # `{cmds}: their output, split at $ifs


Piece = Lit | Var | Group | Backq


@dataclass(frozen=True, slots=True)
class Word:
    pieces: tuple[Piece, ...]  # concatenated with rc's ^ rule


@dataclass(frozen=True, slots=True)
class Redir:
    op: str  # "<", ">", ">>", "<>", "<<", "dup" (>[n=m]) or "close" (>[n=])
    fd: int  # the command's fd being redirected
    target: Word | None = None  # file name for < > >> <>
    fd2: int = -1  # dup: the fd copied onto fd
    here: str = ""  # <<: the here document's text
    raw: bool = False  # <<'word': no $ substitution in it


@dataclass(frozen=True, slots=True)
class Simple:
    assigns: tuple[tuple[str, Word], ...]  # name=value pairs before the command
    words: tuple[Word, ...]  # the command name and its arguments
    redirs: tuple[Redir, ...]  # in source order


@dataclass(frozen=True, slots=True)
class Block:
    body: tuple[AndOr, ...]  # { cmds }
    redirs: tuple[Redir, ...] = ()  # {cmds} >file: for the whole block


@dataclass(frozen=True, slots=True)
class If:
    cond: tuple[AndOr, ...]  # if(cond): true when the last one's status is ""
    body: AndOr


@dataclass(frozen=True, slots=True)
class IfNot:
    body: AndOr  # runs when the last if's condition was false


@dataclass(frozen=True, slots=True)
class For:
    var: str  # the loop variable
    words: tuple[Word, ...] | None  # for(i in words); None: for(i), over $*
    body: AndOr


@dataclass(frozen=True, slots=True)
class While:
    cond: tuple[AndOr, ...]
    body: AndOr


@dataclass(frozen=True, slots=True)
class Switch:
    subject: Word  # switch(word) { case pat ...; cmds ... }
    body: Block  # `case` lines are simple commands named case


@dataclass(frozen=True, slots=True)
class Fn:
    names: tuple[Word, ...]  # fn name ... {body} defines, fn name ... deletes
    body: Block | None


@dataclass(frozen=True, slots=True)
class Match:
    subject: Word  # ~ subject pattern ...: status "" if any pattern matches
    patterns: tuple[Word, ...]  # not globbed against the name space


@dataclass(frozen=True, slots=True)
class Sub:
    pipe: Pipeline  # @ cmd: run in a child shell


Unit = Simple | Block | If | IfNot | For | While | Switch | Fn | Match | Sub


@dataclass(frozen=True, slots=True)
class Pipeline:
    cmds: tuple[Unit, ...]  # cmds[i] stdout -> cmds[i+1] stdin
    bang: bool = False  # ! cmd: status inverted
    fds: tuple[tuple[int, int], ...] = ()  # per pipe (left fd, right fd) if not all (1, 0)


@dataclass(frozen=True, slots=True)
class AndOr:
    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...] = ()  # ("&&" | "||", pipeline)
    bg: bool = False  # ended by '&'


# --- rc text of a tree ---------------------------------------------------------------------


def fmt(items: tuple[AndOr, ...]) -> str:
    """rc text of ``items``: one command per line, words with explicit carets."""
    return "\n".join(fmt_andor(a) for a in items)


def fmt_body(items: tuple[AndOr, ...]) -> str:
    return "; ".join(fmt_andor(a) for a in items)


def fmt_andor(a: AndOr) -> str:
    s = fmt_pipe(a.first) + "".join(f" {op} {fmt_pipe(p)}" for op, p in a.rest)
    return s + " &" if a.bg else s


def fmt_pipe(p: Pipeline) -> str:
    s = fmt_unit(p.cmds[0])
    for i, c in enumerate(p.cmds[1:]):
        left, right = p.fds[i] if p.fds else (1, 0)
        bar = "|" if (left, right) == (1, 0) else f"|[{left}]" if right == 0 else (
            f"|[{left}={right}]")
        s += f" {bar} {fmt_unit(c)}"
    return "! " + s if p.bang else s


def fmt_unit(u: Unit) -> str:
    if isinstance(u, Simple):
        parts = [f"{n}={fmt_word(w)}" for n, w in u.assigns]
        parts += [fmt_word(w) for w in u.words]
        parts += [_fmt_redir(r) for r in u.redirs]
        return " ".join(parts)
    if isinstance(u, Block):
        return " ".join(["{" + fmt_body(u.body) + "}", *(_fmt_redir(r) for r in u.redirs)])
    if isinstance(u, If):
        return f"if({fmt_body(u.cond)}) {fmt_andor(u.body)}"
    if isinstance(u, IfNot):
        return f"if not {fmt_andor(u.body)}"
    if isinstance(u, For):
        ws = "" if u.words is None else " in" + "".join(" " + fmt_word(w) for w in u.words)
        return f"for({rcquote(u.var)}{ws}) {fmt_andor(u.body)}"
    if isinstance(u, While):
        return f"while({fmt_body(u.cond)}) {fmt_andor(u.body)}"
    if isinstance(u, Switch):
        return f"switch {fmt_word(u.subject)} {fmt_unit(u.body)}"
    if isinstance(u, Fn):
        names = " ".join(fmt_word(w) for w in u.names)
        return f"fn {names}" + ("" if u.body is None else " " + fmt_unit(u.body))
    if isinstance(u, Match):
        return " ".join(["~", fmt_word(u.subject), *(fmt_word(w) for w in u.patterns)])
    return "@ " + fmt_pipe(u.pipe)


def _fmt_redir(r: Redir) -> str:
    if r.op == "<<":  # its text would have to follow the line this one is part of
        raise RcSyntax("here document in a command run as its own shell")
    if r.op == "dup":
        return f">[{r.fd}={r.fd2}]"
    if r.op == "close":
        return f">[{r.fd}=]"
    default = 0 if r.op in ("<", "<>") else 1
    spec = "" if r.fd == default else f"[{r.fd}]"
    assert r.target is not None
    return f"{r.op}{spec}{fmt_word(r.target)}"


def fmt_word(w: Word) -> str:
    return "^".join(_fmt_piece(p) for p in w.pieces)


def _fmt_piece(p: Piece) -> str:
    if isinstance(p, Lit):
        if not p.quoted and p.text and not _needsquote(p.text.translate(_NOGLOB)):
            return p.text  # bare, its pattern characters still active
        if p.text in KEYWORDS:
            return f"'{p.text}'"  # a quoted if or ~ stays an ordinary word
        return rcquote(p.text)
    if isinstance(p, Var):
        idx = "" if p.index is None else "(" + " ".join(fmt_word(w) for w in p.index) + ")"
        return f"${p.mod}{p.name}{idx}"
    if isinstance(p, Backq):
        return "`{" + fmt_body(p.body) + "}"
    return "(" + " ".join(fmt_word(w) for w in p.words) + ")"


_SPECIAL = "#;&|^$='()<>`{}*?[]"
_NOGLOB = str.maketrans("", "", "*?[]")


def _needsquote(s: str) -> bool:
    return any(ch in _SPECIAL or ch <= " " for ch in s)


def rcquote(s: str) -> str:
    """``s`` as rc would need it typed: bare if it can be, else in quotes with '' doubled."""
    if s and not _needsquote(s):
        return s
    return "'" + s.replace("'", "''") + "'"
