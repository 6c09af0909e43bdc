"""The parser of ``sh``: tokens in, a syntax tree (``_rcast``) out.

The grammar is rc(1)'s, as recursive descent (one method per rule)::

    script   := body EOF
    body     := sep* (item (sep+ item)*)? sep*            sep := ';' | '\\n'
    item     := andor ['&']
    andor    := pipeline (('&&' | '||') '\\n'* pipeline)*
    pipeline := '!' pipeline | '@' pipeline | unit ('|' '\\n'* unit)*
    unit     := 'if' '(' body ')' '\\n'* andor  |  'if' 'not' '\\n'* andor
              | 'for' '(' NAME ['in' word*] ')' '\\n'* andor  |  'while' '(' body ')' '\\n'* andor
              | 'switch' word '\\n'* '{' body '}'  |  'fn' word+ ['{' body '}']
              | '~' word word*  |  '{' body '}' redir*  |  simple
    simple   := assign* (word | redir)+  |  assign+
    assign   := NAME '=' word                     (blanks around '=' allowed, as in rc)
    redir    := ('<' | '>' | '>>' | '<>')[spec] word  |  '>[n=m]'  |  '>[n=]'
    word     := piece (touching piece | '^' piece)*
    piece    := WORD | VAR ['(' word* ')' touching] | '(' word* ')' | '`' '{' body '}'

Rules:

1. Pieces that touch (no blanks between) form one word, as rc's free carets do; an ``=``
   that is not an assignment is an ordinary character.
2. Keywords are recognised only where a command starts, and only as a whole unquoted word
   (``echo if`` prints ``if``; ``'if'(x)`` is a command named ``if``).  ``in`` is a keyword
   only inside ``for(...)``, ``not`` only right after ``if``.
3. The body of ``if``, ``for`` and ``while`` is an and-or list, as rc's precedence makes it:
   ``if(c) a && b`` runs ``a && b`` when ``c`` holds.  ``! a | b`` inverts the pipeline.
4. An assignment is only recognised before the command name, and its name must be an
   unquoted identifier.
5. The end of input where a word or command must follow raises ``Incomplete`` (so an
   interactive reader can ask for another line); anything else wrong raises ``RcSyntax``.
"""

from __future__ import annotations

from lp49fs.cmd._rcast import (
    KEYWORDS,
    AndOr,
    Backq,
    Block,
    Fn,
    For,
    Group,
    If,
    IfNot,
    Lit,
    Match,
    Piece,
    Pipeline,
    Redir,
    Simple,
    Sub,
    Switch,
    Unit,
    Var,
    While,
    Word,
)
from lp49fs.cmd._rclex import Incomplete, RcSyntax, Token, lex

REDIRS = ("<", ">", ">>", "<>", "<<")
WORDSTART = ("word", "var", "(", "=", "`")


def parse(text: str) -> tuple[AndOr, ...]:
    """The commands of ``text``.  Raises ``Incomplete`` or ``RcSyntax``."""
    p = _Parser(lex(text))
    items = p.body("eof")
    return items


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

    def keyword(self, k: int = 0) -> str:
        """The keyword at ``peek(k)``, or "" (Rule 2)."""
        t = self.peek(k)
        if t.kind == "word" and not t.quoted and t.value in KEYWORDS:
            nxt = self.peek(k + 1)
            if nxt.space or nxt.kind not in ("word", "var") or t.value in ("if", "for", "while"):
                return t.value
        return ""

    def expect(self, kind: str) -> Token:
        if self.peek().kind != kind:
            self.expected(repr(kind))
        return self.take()

    def body(self, end: str) -> tuple[AndOr, ...]:
        """Items up to (not including) a token of kind ``end``."""
        items: list[AndOr] = []
        self.skip((";", "\n"))
        while self.peek().kind != end:
            if self.peek().kind == "eof":
                self.expected(repr(end))
            items.append(self.item())
            t = self.peek().kind
            if t == "eof" and end != "eof":
                self.expected(repr(end))
            if t not in (";", "\n", end) and not items[-1].bg:
                raise RcSyntax(f"unexpected {_show(self.peek())}")
            self.skip((";", "\n"))
        return tuple(items)

    def item(self) -> AndOr:
        a = self.andor()
        if self.peek().kind == "&":
            self.take()
            return AndOr(a.first, a.rest, True)
        return a

    def andor(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.peek().kind in ("&&", "||"):
            op = self.take().kind
            self.skip("\n")
            rest.append((op, self.pipeline()))
        return AndOr(first, tuple(rest))

    def pipeline(self) -> Pipeline:
        kw = self.keyword()
        if kw == "!":
            self.take()
            inner = self.pipeline()
            return Pipeline(inner.cmds, not inner.bang)
        if kw == "@":
            self.take()
            return Pipeline((Sub(self.pipeline()),))
        cmds = [self.unit()]
        fds: list[tuple[int, int]] = []
        while self.peek().kind == "|":
            fds.append(_pipefds(self.take()))
            self.skip("\n")
            cmds.append(self.unit())
        plain = all(f == (1, 0) for f in fds)
        return Pipeline(tuple(cmds), fds=() if plain else tuple(fds))

    def unit(self) -> Unit:
        kw = self.keyword()
        if kw in ("if", "while"):
            self.take()
            if kw == "if" and self.keyword() == "not":
                self.take()
                return IfNot(self.andor_body())
            self.expect("(")
            cond = self.body(")")
            self.take()
            return (If if kw == "if" else While)(cond, self.andor_body())
        if kw == "for":
            return self.for_()
        if kw == "switch":
            self.take()
            subject = self.word()
            self.skip("\n")
            return Switch(subject, self.block())
        if kw == "fn":
            self.take()
            names = [self.word()]
            while self.peek().kind in WORDSTART:
                names.append(self.word())
            body = self.block() if self.peek().kind == "{" else None
            return Fn(tuple(names), body)
        if kw == "~":
            self.take()
            subject = self.word()
            pats: list[Word] = []
            while self.peek().kind in WORDSTART:
                pats.append(self.word())
            return Match(subject, tuple(pats))
        if self.peek().kind == "{":
            return self.block()
        return self.simple()

    def andor_body(self) -> AndOr:
        self.skip("\n")
        return self.andor()

    def for_(self) -> For:
        self.take()
        self.expect("(")
        t = self.take()
        if t.kind != "word" or not isname(t.value):
            self.i -= 1
            self.expected("a variable name")
        words: tuple[Word, ...] | None = None
        if self.keyword() == "in":
            self.take()
            words = self.words_until_paren()
        else:
            self.expect(")")
        return For(t.value, words, self.andor_body())

    def block(self) -> Block:
        self.expect("{")
        body = self.body("}")
        self.take()
        redirs: list[Redir] = []
        while self.peek().kind in REDIRS:
            redirs.append(self.redir())
        return Block(body, tuple(redirs))

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
            elif t.kind in WORDSTART:
                words.append(self.word())
            else:
                break
        if not (assigns or words or redirs):
            self.expected("a command")
        return Simple(tuple(assigns), tuple(words), tuple(redirs))

    def redir(self) -> Redir:
        t = self.take()
        fd = 0 if t.kind in ("<", "<>", "<<") else 1
        spec = t.value
        if spec:
            left, eq, right = spec.partition("=")
            if not left.isdigit() or (eq and right and not right.isdigit()):
                raise RcSyntax(f"bad redirection {t.kind}[{spec}]")
            fd = int(left)
            if eq:
                return Redir("close", fd) if not right else Redir("dup", fd, fd2=int(right))
        if t.kind == "<<":
            return Redir("<<", fd, here=t.body, raw=t.quoted)
        return Redir(t.kind, fd, self.word())

    def word(self) -> Word:
        pieces = [self.piece()]
        while True:
            t = self.peek()
            if t.kind == "^":
                self.take()
                pieces.append(self.piece())
            elif not t.space and t.kind in WORDSTART:
                pieces.append(self.piece())
            else:
                return Word(tuple(pieces))

    def piece(self) -> Piece:
        t = self.take()
        if t.kind == "word":
            return Lit(t.value, t.quoted)
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
        if t.kind == "`":
            self.expect("{")
            body = self.body("}")
            self.take()
            return Backq(body)
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
            if t.kind not in WORDSTART:
                self.expected("')'")
            words.append(self.word())

    def expected(self, what: str) -> Piece:
        t = self.peek()
        if t.kind == "eof":
            raise Incomplete(f"{what} expected at end of input")
        raise RcSyntax(f"{what} expected, not {_show(t)}")


def _pipefds(t: Token) -> tuple[int, int]:
    """(left fd, right fd) of a ``|`` token: ``|`` (1, 0), ``|[n]`` (n, 0), ``|[n=m]`` (n, m)."""
    if not t.value:
        return 1, 0
    left, eq, right = t.value.partition("=")
    if not left.isdigit() or (eq and not right.isdigit()):
        raise RcSyntax(f"bad pipe |[{t.value}]")
    return int(left), int(right) if eq else 0


def _show(t: Token) -> str:
    if t.kind == "\n":
        return "newline"
    return repr(t.value if t.kind in ("word", "var") else t.kind)
