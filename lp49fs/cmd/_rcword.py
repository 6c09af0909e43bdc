"""Word values of ``sh``: rc's list semantics, and the /env encoding of a list.

Every rc value is a list of strings.  Rules:

1. A literal is a one-element list; ``$x`` is x's list (empty if unset); ``$#x`` is its
   length; ``$"x`` is one string, the elements joined by blanks; ``$x(i j)`` picks 1-based
   elements, ignoring those out of range; ``(a b c)`` concatenates its words' lists.
2. Pieces of one word are joined with ``^``: lists of equal length pairwise, a one-element
   list with every element of the other; an empty list, or two lengths above one that
   differ, is an error (``null list in concatenation``, ``mismatched list lengths``).  A word
   of one piece is that piece's list, so an unset ``$x`` alone disappears.
3. An unquoted literal's pattern characters ``* ? [`` are marked with ``GLOB`` before them
   (rc's own trick), so after concatenation a value knows which of its characters came from
   a pattern and which from a quote or a variable; ``_rcglob`` expands or matches marked
   values and ``unglob`` removes the marks.
4. `` `{cmds} `` is the output of ``cmds`` split at the characters of ``$ifs``; the caller
   runs it and passes the lists in as ``backq``.
5. In /env a list is its elements each followed by a NUL (``a\\0b\\0c\\0``); a file without
   NULs (``echo -n v > /env/x``) is one element; an empty file is the empty list.

Expansion is pure: the caller passes ``lookup(name) -> list[str]`` and the `` `{} `` values.
"""

from __future__ import annotations

from collections.abc import Callable

from lp49fs.cmd._rcast import GLOBCHARS, Backq, Group, Lit, Piece, Word
from lp49fs.cmd._rclex import RcSyntax

Lookup = Callable[[str], list[str]]
Backqs = dict[int, list[str]]  # id(Backq piece) -> its value
GLOB = "\x01"  # marks the next character as a live pattern character
_MARK = str.maketrans({ch: GLOB + ch for ch in GLOBCHARS})


class RcError(RcSyntax):
    """A word that cannot be evaluated (the message is what ``sh`` prints)."""


def expand(word: Word, lookup: Lookup, backq: Backqs | None = None) -> list[str]:
    """The list that ``word`` stands for, pattern characters marked (Rule 3).

    Raises ``RcError`` for a bad concatenation.
    """
    result = _piece(word.pieces[0], lookup, backq)
    for p in word.pieces[1:]:
        result = concat(result, _piece(p, lookup, backq))
    return result


def expand_all(words: tuple[Word, ...], lookup: Lookup, backq: Backqs | None = None
               ) -> list[str]:
    out: list[str] = []
    for w in words:
        out += expand(w, lookup, backq)
    return out


def unglob(s: str) -> str:
    """``s`` without its pattern marks: the word as typed."""
    return s.replace(GLOB, "")


def ifsplit(text: str, ifs: str) -> list[str]:
    """`` `{} `` output cut at any run of ``ifs`` characters (empty fields dropped)."""
    out: list[str] = []
    cur: list[str] = []
    for ch in text:
        if ch in ifs:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def concat(a: list[str], b: list[str]) -> list[str]:
    """rc's ``a^b``."""
    if not a or not b:
        raise RcError("null list in concatenation")
    if len(a) == 1:
        return [a[0] + y for y in b]
    if len(b) == 1:
        return [x + b[0] for x in a]
    if len(a) != len(b):
        raise RcError("mismatched list lengths in concatenation")
    return [x + y for x, y in zip(a, b, strict=True)]


def _piece(p: Piece, lookup: Lookup, backq: Backqs | None) -> list[str]:
    if isinstance(p, Lit):
        return [p.text if p.quoted else p.text.translate(_MARK)]
    if isinstance(p, Group):
        return expand_all(p.words, lookup, backq)
    if isinstance(p, Backq):
        return list((backq or {}).get(id(p), []))
    value = lookup(p.name)
    if p.index is not None:
        picked: list[str] = []
        for sub in map(unglob, expand_all(p.index, lookup, backq)):
            picked += [value[k - 1] for k in _subscript(sub, len(value)) if 1 <= k <= len(value)]
        value = picked
    if p.mod == "#":
        return [str(len(value))]
    if p.mod == '"':
        return [" ".join(value)]
    return value


def _subscript(sub: str, n: int) -> range:
    """The element numbers of one subscript of a list of ``n``: ``k``, ``k-m`` or ``k-`` (to
    the end), as rc's ``$x(2-4)`` and ``$x(3-)``."""
    first, dash, last = sub.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise RcError(f"bad subscript {sub!r}")
    if not dash:
        return range(int(first), int(first) + 1)
    return range(int(first), (int(last) if last else n) + 1)


def envencode(value: list[str]) -> bytes:
    """A list as rc stores it in /env."""
    return b"".join(v.encode() + b"\0" for v in value)


def envdecode(data: bytes) -> list[str]:
    """The list in an /env file's bytes."""
    if not data:
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return [s.decode(errors="replace") for s in data.split(b"\0")]
