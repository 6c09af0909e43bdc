"""The lexer of ``sh``, the rc-like shell: source text in, tokens out.

Theory of operation.  rc's lexical rules are few, and this module keeps them:

1. A word is a run of characters that are not blanks and not one of rc's specials
   ``# ; & | ^ $ = ' ( ) < > { }`` and backquote.  Keywords (``if for ~ !`` ...) are plain
   words here; the parser knows them where a command starts.
2. ``'...'`` quotes everything up to the next lone quote; ``''`` inside stands for one quote.
   A quoted piece is a ``word`` token with ``quoted=True`` (so ``'x'=1`` is no assignment).
3. ``#`` outside quotes starts a comment that runs to the end of the line, even in the middle
   of a word (``a#b`` is ``a``): that is why ``bind '#c' /dev`` needs the quotes.
4. ``$name``, ``$#name`` (count), ``$"name`` (joined by blanks) are ``var`` tokens; a name is
   letters, digits, ``_`` and ``*``.
5. ``<``, ``>``, ``>>``, ``<>`` may carry an fd spec written right after them: ``>[2]``, ``>[2=1]``,
   ``>[2=]``; the spec's text is the token's ``value``.  So may ``|``: ``|[2]`` pipes fd 2 of
   the left command, ``|[2=3]`` into fd 3 of the right one.
6. A backslash before a newline joins the lines; newlines are tokens (they end commands).
7. Every token records whether blanks came before it (``space``): the parser joins pieces
   that touch (rc's "free carets"), so ``$home/bin`` is ``$home^/bin``.
8. ``<<word`` is a here document: the lines after the next newline, up to one that is just
   ``word``, are its text (the token's ``body``); ``<<'word'`` marks it ``quoted`` (no
   ``$`` substitution, rc's rule).

An unterminated quote raises ``Incomplete``, which a reader of interactive input answers by
reading another line; every other oddity is the parser's business.
"""

from __future__ import annotations

from dataclasses import dataclass

SPECIALS = frozenset("#;&|^$='()<>{}`")
BLANKS = frozenset(" \t\r")
OPERATORS = ("&&", "||", ">>", "&", "|", "^", ";", "\n", "(", ")", "=", "<", ">", "{", "}",
             "`")


class RcSyntax(Exception):
    """Text that is not a command; the message is what ``sh`` prints after ``syntax error``."""


class Incomplete(RcSyntax):
    """The text ends inside a construct (a quote, a list, after ``|``): more input may fix it."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "var", "eof" or the operator text ("|", ">>", "\n" ...)
    value: str = ""  # word text, variable name, or a redirection's fd spec
    quoted: bool = False  # word: came from '...' (never an assignment name)
    space: bool = True  # blanks (or the start of input) came before this token
    mod: str = ""  # var: "" for $x, "#" for $#x, '"' for $"x
    body: str = ""  # <<: the here document's text


def _isname(ch: str) -> bool:
    return ch.isalnum() or ch in "_*"


def lex(text: str) -> list[Token]:
    """All tokens of ``text``, ending with an ``eof`` token.

    Raises ``Incomplete`` for an unterminated quote.
    """
    out: list[Token] = []
    pending: list[tuple[int, str]] = []  # here documents whose text follows the next newline
    i, n = 0, len(text)
    space = True
    while i < n:
        ch = text[i]
        if ch in BLANKS:
            i, space = i + 1, True
            continue
        if ch == "\\" and text.startswith("\\\n", i):
            i, space = i + 2, True
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            space = True
            continue
        if ch == "'":
            i, word = _quoted(text, i + 1)
            out.append(Token("word", word, quoted=True, space=space))
        elif ch == "$":
            i, tok = _var(text, i + 1, space)
            out.append(tok)
        elif ch in "<>":
            op = next(o for o in (">>", "<>", "<<", ch) if text.startswith(o, i))
            i += len(op)
            spec = ""
            if text.startswith("[", i):
                end = text.find("]", i)
                if end < 0:
                    raise RcSyntax(f"bad redirection {text[i - len(op):i + 8]!r}")
                spec, i = text[i + 1 : end], end + 1
            if op == "<<":
                i = _hereword(text, i, out, pending, spec, space)
            else:
                out.append(Token(op, spec, space=space))
        elif ch in SPECIALS or ch == "\n":
            op = next(o for o in OPERATORS if text.startswith(o, i))
            i += len(op)
            spec = ""
            if op == "|" and text.startswith("[", i):  # |[2], |[2=0]: Rule 5's fd spec
                end = text.find("]", i)
                if end < 0:
                    raise RcSyntax(f"bad pipe {text[i - 1:i + 8]!r}")
                spec, i = text[i + 1 : end], end + 1
            out.append(Token(op, spec, space=space))
            if op == "\n" and pending:
                i = _heredocs(text, i, out, pending)
        else:
            start = i
            while i < n and not (text[i] in SPECIALS or text[i] in BLANKS or text[i] == "\n"):
                if text.startswith("\\\n", i):
                    break
                i += 1
            out.append(Token("word", text[start:i], space=space))
        space = False
    if pending:
        raise Incomplete("here document")
    out.append(Token("eof", space=True))
    return out


def _hereword(text: str, i: int, out: list[Token], pending: list[tuple[int, str]], spec: str,
              space: bool) -> int:
    """``<<`` and its end word (Rule 8): a placeholder token, filled in at the newline."""
    while i < len(text) and text[i] in BLANKS:
        i += 1
    quoted = text.startswith("'", i)
    if quoted:
        i, word = _quoted(text, i + 1)
    else:
        start = i
        while i < len(text) and not (text[i] in SPECIALS or text[i] in BLANKS or text[i] == "\n"):
            i += 1
        word = text[start:i]
    if not word:
        raise RcSyntax("<< needs a word that ends the here document")
    pending.append((len(out), word))
    out.append(Token("<<", spec, quoted=quoted, space=space))
    return i


def _heredocs(text: str, i: int, out: list[Token], pending: list[tuple[int, str]]) -> int:
    """The text of each pending here document, line by line after the newline at ``i``."""
    for k, word in pending:
        lines: list[str] = []
        while True:
            end = text.find("\n", i)
            if end < 0 and text[i:] != word:  # the end word may be the input's last line
                raise Incomplete("here document")
            line, i = (text[i:], len(text)) if end < 0 else (text[i:end], end + 1)
            if line == word:
                break
            lines.append(line + "\n")
        t = out[k]
        out[k] = Token("<<", t.value, quoted=t.quoted, space=t.space, body="".join(lines))
    pending.clear()
    return i


def _quoted(text: str, i: int) -> tuple[int, str]:
    """The text of a quoted piece whose opening quote is just before ``i``."""
    parts: list[str] = []
    while True:
        end = text.find("'", i)
        if end < 0:
            raise Incomplete("unterminated quote")
        parts.append(text[i:end])
        if text.startswith("''", end):
            parts.append("'")
            i = end + 2
            continue
        return end + 1, "".join(parts)


def _var(text: str, i: int, space: bool) -> tuple[int, Token]:
    """A ``$`` reference whose dollar is just before ``i``."""
    mod = ""
    if i < len(text) and text[i] in '#"':
        mod, i = text[i], i + 1
    start = i
    while i < len(text) and _isname(text[i]):
        i += 1
    if i == start:
        raise RcSyntax("bad variable name after $")
    return i, Token("var", text[start:i], space=space, mod=mod)
