"""The parser of ``sh``: tokens in, a syntax tree of frozen dataclasses out.

The grammar is a subset of rc(1), as recursive descent (one function per rule)::

    script   := sep* (item (sep+ item)*)? sep* EOF        sep := ';' | '\\n'
    item     := andor ['&']
    andor    := pipeline (('&&' | '||') '\\n'* pipeline)*
    pipeline := simple ('|' '\\n'* simple)*
    simple   := assign* (word | redir)+  |  assign+
    assign   := NAME '=' word                     (blanks around '=' allowed, as in rc)
    redir    := ('<' | '>' | '>>')[spec] word  |  '>[n=m]'  |  '>[n=]'
    word     := piece (touching piece | '^' piece)*
    piece    := WORD | VAR ['(' word* ')' touching] | '(' word* ')'

Rules:

1. Pieces that touch (no blanks between) form one word, as rc's free carets do; an ``=``
   that is not an assignment is an ordinary character.
2. An assignment is only recognised before the command name, and its name must be an
   unquoted identifier.
3. ``&`` runs one pipeline in the background; ``a && b &`` is refused (it would need a
   subshell, which ``sh`` does not have).
4. The end of input where a word or command must follow raises ``Incomplete`` (so an
   interactive reader can ask for another line); anything else wrong raises ``RcSyntax``.

``fmt`` renders a tree back as canonical rc text: the parser's table tests compare it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lp49fs.cmd._rclex import Incomplete, RcSyntax, Token, lex

REDIRS = ("<", ">", ">>")


@dataclass(frozen=True, slots=True)
class Lit:
    text: str  # literal characters (quotes already removed)


@dataclass(frozen=True, slots=True)
class Var:
    name: str  # variable name
    mod: str = ""  # "" value, "#" count, '"' joined by blanks
    index: tuple[Word, ...] | None = None  # $x(1 2): 1-based subscripts


@dataclass(frozen=True, slots=True)
class Group:
    words: tuple[Word, ...]  # (a b c): the concatenation of the words' lists


Piece = Lit | Var | Group


@dataclass(frozen=True, slots=True)
class Word:
    pieces: tuple[Piece, ...]  # concatenated with rc's ^ rule


@dataclass(frozen=True, slots=True)
class Redir:
    op: str  # "<", ">", ">>", "dup" (>[n=m]) or "close" (>[n=])
    fd: int  # the command's fd being redirected
    target: Word | None = None  # file name for < > >>
    fd2: int = -1  # dup: the fd copied onto fd


@dataclass(frozen=True, slots=True)
class Simple:
    assigns: tuple[tuple[str, Word], ...]  # name=value pairs before the command
    words: tuple[Word, ...]  # the command name and its arguments
    redirs: tuple[Redir, ...]  # in source order


@dataclass(frozen=True, slots=True)
class Pipeline:
    cmds: tuple[Simple, ...]  # cmds[i] stdout -> cmds[i+1] stdin


@dataclass(frozen=True, slots=True)
class AndOr:
    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...] = ()  # ("&&" | "||", pipeline)
    bg: bool = False  # ended by '&'


def parse(text: str) -> tuple[AndOr, ...]:
    """The commands of ``text``.  Raises ``Incomplete`` or ``RcSyntax``."""
    return _Parser(lex(text)).script()


def isname(s: str) -> bool:
    return bool(s) and all(ch.isalnum() or ch in "_*" for ch in s)


class _Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def skip(self, kinds: str | tuple[str, ...]) -> None:
        while self.peek().kind in kinds:
            self.i += 1

    def script(self) -> tuple[AndOr, ...]:
        items: list[AndOr] = []
        self.skip((";", "\n"))
        while self.peek().kind != "eof":
            items.append(self.item())
            t = self.peek().kind
            if t not in (";", "\n", "eof") and not items[-1].bg:
                raise RcSyntax(f"unexpected {_show(self.peek())}")
            self.skip((";", "\n"))
        return tuple(items)

    def item(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.peek().kind in ("&&", "||"):
            op = self.take().kind
            self.skip("\n")
            rest.append((op, self.pipeline()))
        bg = self.peek().kind == "&"
        if bg:
            self.take()
            if rest:
                raise RcSyntax("& after && or || needs a subshell")
        return AndOr(first, tuple(rest), bg)

    def pipeline(self) -> Pipeline:
        cmds = [self.simple()]
        while self.peek().kind == "|":
            self.take()
            self.skip("\n")
            cmds.append(self.simple())
        return Pipeline(tuple(cmds))

    def simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        while self.peek().kind == "word" and not self.peek().quoted and self.peek(1).kind == "=":
            name = self.take().value
            if not isname(name):
                raise RcSyntax(f"bad variable name {name!r}")
            self.take()
            assigns.append((name, self.word()))
        words: list[Word] = []
        redirs: list[Redir] = []
        while True:
            t = self.peek()
            if t.kind in REDIRS:
                redirs.append(self.redir())
            elif t.kind in ("word", "var", "(", "="):
                words.append(self.word())
            else:
                break
        if not (assigns or words or redirs):
            self.expected("a command")
        return Simple(tuple(assigns), tuple(words), tuple(redirs))

    def redir(self) -> Redir:
        t = self.take()
        fd = 0 if t.kind == "<" else 1
        spec = t.value
        if spec:
            left, eq, right = spec.partition("=")
            if not left.isdigit() or (eq and right and not right.isdigit()):
                raise RcSyntax(f"bad redirection {t.kind}[{spec}]")
            fd = int(left)
            if eq:
                return Redir("close", fd) if not right else Redir("dup", fd, fd2=int(right))
        return Redir(t.kind, fd, self.word())

    def word(self) -> Word:
        pieces = [self.piece()]
        while True:
            t = self.peek()
            if t.kind == "^":
                self.take()
                pieces.append(self.piece())
            elif not t.space and t.kind in ("word", "var", "(", "="):
                pieces.append(self.piece())
            else:
                return Word(tuple(pieces))

    def piece(self) -> Piece:
        t = self.take()
        if t.kind == "word":
            return Lit(t.value)
        if t.kind == "=":
            return Lit("=")
        if t.kind == "var":
            index = None
            if self.peek().kind == "(" and not self.peek().space:
                self.take()
                index = self.words_until_paren()
            return Var(t.value, t.mod, index)
        if t.kind == "(":
            return Group(self.words_until_paren())
        self.i -= 1
        return self.expected("a word")

    def words_until_paren(self) -> tuple[Word, ...]:
        words: list[Word] = []
        while True:
            self.skip("\n")
            t = self.peek()
            if t.kind == ")":
                self.take()
                return tuple(words)
            if t.kind not in ("word", "var", "(", "="):
                self.expected("')'")
            words.append(self.word())

    def expected(self, what: str) -> Piece:
        t = self.peek()
        if t.kind == "eof":
            raise Incomplete(f"{what} expected at end of input")
        raise RcSyntax(f"{what} expected, not {_show(t)}")


def _show(t: Token) -> str:
    if t.kind == "\n":
        return "newline"
    return repr(t.value if t.kind in ("word", "var") else t.kind)


# --- canonical text, for tests and traces -------------------------------------------------


def fmt(items: tuple[AndOr, ...]) -> str:
    """rc text of ``items``: one command per line, words with explicit carets."""
    return "\n".join(_fmt_andor(a) for a in items)


def _fmt_andor(a: AndOr) -> str:
    s = _fmt_pipe(a.first) + "".join(f" {op} {_fmt_pipe(p)}" for op, p in a.rest)
    return s + " &" if a.bg else s


def _fmt_pipe(p: Pipeline) -> str:
    return " | ".join(_fmt_simple(c) for c in p.cmds)


def _fmt_simple(c: Simple) -> str:
    parts = [f"{n}={fmt_word(w)}" for n, w in c.assigns]
    parts += [fmt_word(w) for w in c.words]
    parts += [_fmt_redir(r) for r in c.redirs]
    return " ".join(parts)


def _fmt_redir(r: Redir) -> str:
    if r.op == "dup":
        return f">[{r.fd}={r.fd2}]"
    if r.op == "close":
        return f">[{r.fd}=]"
    default = 0 if r.op == "<" else 1
    spec = "" if r.fd == default else f"[{r.fd}]"
    assert r.target is not None
    return f"{r.op}{spec}{fmt_word(r.target)}"


def fmt_word(w: Word) -> str:
    return "^".join(_fmt_piece(p) for p in w.pieces)


def _fmt_piece(p: Piece) -> str:
    if isinstance(p, Lit):
        return rcquote(p.text)
    if isinstance(p, Var):
        idx = "" if p.index is None else "(" + " ".join(fmt_word(w) for w in p.index) + ")"
        return f"${p.mod}{p.name}{idx}"
    return "(" + " ".join(fmt_word(w) for w in p.words) + ")"


def rcquote(s: str) -> str:
    """``s`` as rc would need it typed: bare if it can be, else in quotes with '' doubled."""
    if s and not any(ch in "#;&|^$='()<>`{}" or ch <= " " for ch in s):
        return s
    return "'" + s.replace("'", "''") + "'"


__all__ = ["AndOr", "Group", "Incomplete", "Lit", "Pipeline", "RcSyntax", "Redir", "Simple",
           "Var", "Word", "fmt", "fmt_word", "parse", "rcquote"]
