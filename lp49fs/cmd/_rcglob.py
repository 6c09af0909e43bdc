"""Patterns of ``sh``: rc's ``* ? [...]`` matching, and globbing against the name space.

Theory of operation.  A value from ``_rcword.expand`` carries ``GLOB`` before each live
pattern character (one that was typed unquoted), so ``'*'`` and ``$x`` holding ``*`` stay
literal.  The rules are rc(1)'s:

1. ``*`` matches any string, ``?`` any one character, ``[abc]`` one of those, ``[a-z]`` a
   range, ``[~abc]`` any character but those.  In a file name ``/`` is never matched by a
   pattern character (components are matched one by one), nor are ``.`` and ``..``.
2. ``glob`` splits a value at ``/``; each component holding a live pattern character is
   matched against the names of the directory so far, read through ``lib`` (so the result
   is whatever this process's name space holds: unions, mounts and all).  Matches are
   sorted.  Components without pattern characters are appended as they are; when a
   pattern was used, the final names are checked with ``stat``.
3. A value whose pattern matches nothing stands for itself, marks removed, as in rc.
4. ``match`` (for ``~`` and ``case``) matches a whole string against a marked pattern and
   never touches the name space.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lp49fs import lib
from lp49fs.cmd._rcword import GLOB, unglob
from lp49fs.errors import Error
from lp49fs.ninep import OREAD


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == GLOB and i + 1 < n:
            op = pattern[i + 1]
            i += 2
            if op == "*":
                out.append(".*")
            elif op == "?":
                out.append(".")
            else:
                cls, i = _class(pattern, i)
                out.append(cls)
            continue
        out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class(pattern: str, i: int) -> tuple[str, int]:
    """The regex of a ``[...]`` class whose ``[`` is just before ``i``; and the index after it.

    An unterminated ``[`` matches itself, as rc does.
    """
    end = pattern.find("]", i)
    if end < 0:
        return re.escape("["), i
    body = pattern[i:end].replace(GLOB, "")
    neg = body.startswith("~")
    if neg:
        body = body[1:]
    parts: list[str] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            parts.append(re.escape(body[k]) + "-" + re.escape(body[k + 2]))
            k += 3
        else:
            parts.append(re.escape(body[k]))
            k += 1
    inner = "".join(parts)
    if not inner:
        return ("." if neg else "(?!)"), end + 1
    return ("[^" + inner + "]" if neg else "[" + inner + "]"), end + 1


def match(s: str, pattern: str) -> bool:
    """Whether all of ``s`` matches the marked ``pattern`` (Rule 4)."""
    if GLOB not in pattern:
        return s == pattern
    return _regex(pattern).fullmatch(s) is not None


def ispattern(s: str) -> bool:
    return GLOB in s


async def glob(value: str) -> list[str]:
    """The names ``value`` matches in the caller's name space, sorted; or itself (Rule 3)."""
    if GLOB not in value:
        return [value]
    comps = value.split("/")
    if comps[0] == "":  # absolute
        paths, comps = ["/"], comps[1:]
    else:
        paths = [""]
    for k, comp in enumerate(comps):
        nxt: list[str] = []
        for base in paths:
            if GLOB not in comp:
                nxt.append(_join(base, comp))
                continue
            for name in await _names(base or "."):
                if name not in (".", "..") and match(name, comp):
                    nxt.append(_join(base, name))
        paths = sorted(nxt)
        if not paths:
            break
        if k == len(comps) - 1 and GLOB not in comp:
            paths = [p for p in paths if await _exists(p)]
    return paths or [unglob(value)]


def _join(base: str, name: str) -> str:
    if base in ("", "/"):
        return base + name
    return base + "/" + name


async def _names(path: str) -> list[str]:
    try:
        fd = await lib.open(path, OREAD)
    except Error:
        return []
    try:
        return [d.name for d in await lib.dirreadall(fd)]
    except Error:
        return []  # not a directory
    finally:
        await lib.close(fd)


async def _exists(path: str) -> bool:
    try:
        await lib.stat(path)
    except Error:
        return False
    return True
