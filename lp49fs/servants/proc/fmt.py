"""The text formats of #p (Plan 9 devproc.c), as pure functions of plain values.

Kept apart from the servant (``__init__.py``) so the byte layouts can be pinned by table tests
without a core:

* ``status``: 176 bytes = name (27 chars, blank padded to 28), user (28), state (11 + blank),
  then nine 12-byte numbers: user, sys, real ms; children's user, sys, real ms; memory KB;
  base priority; current priority.
* ``ns``: one mount per line, ``bind <flags> <new> <old>`` or ``mount <flags> <src> <old>
  <spec>``; flags are "" or "-" + a b c C, so MREPL leaves two blanks (``bind  #c /dev``).
  A name with a blank or a quote is ``%q``-quoted so the line still tokenizes.
  The last line is ``cd <dot>``.
* ``fd`` lines come from ``lp49fs.core.proc.procfdprint`` (shared with ``#d``).
* ``args`` and ``wait`` quote strings as Plan 9's ``%q`` does.
* ``segment``: ``%-6s %c%c %8p %8p %4ld`` per segment as devproc.c, then the region's name.
"""

from __future__ import annotations

from lp49fs.core.mount import MAFTER, MBEFORE, MCACHE, MCREATE
from lp49fs.servants.cons import NUMSIZE, fixnum

KNAMELEN = 28  # Plan 9 name field width
STATSIZE = 2 * KNAMELEN + 12 + 9 * NUMSIZE  # 176



def _field(s: str, width: int) -> bytes:
    """``s`` cut to ``width - 1`` bytes and blank-padded to ``width``."""
    return s.encode()[: width - 1].ljust(width, b" ")


def status(name: str, user: str, state: str, times: tuple[int, ...] = (0,) * 6,
           memkb: int = 0, basepri: int = 0, pri: int = 0) -> bytes:
    """The 176-byte ``/proc/N/status`` record; ``times`` are six millisecond counts."""
    if len(times) != 6:
        raise ValueError("status needs six times")
    nums = (*times, memkb, basepri, pri)
    out = _field(name, KNAMELEN) + _field(user, KNAMELEN) + _field(state, 12)
    out += b"".join(fixnum(v) for v in nums)
    assert len(out) == STATSIZE
    return out


def int2flag(flag: int) -> str:
    """The flag word of an ns line: "" for MREPL, else "-" + a b c C as set."""
    if flag == 0:
        return ""
    s = "-"
    for bit, ch in ((MAFTER, "a"), (MBEFORE, "b"), (MCREATE, "c"), (MCACHE, "C")):
        if flag & bit:
            s += ch
    return s


def bindline(flag: int, new: str, old: str) -> str:
    return f"bind {int2flag(flag)} {quote(new)} {quote(old)}\n"


def mountline(flag: int, src: str, old: str, spec: str) -> str:
    return f"mount {int2flag(flag)} {quote(src)} {quote(old)} {spec and quote(spec)}\n"


def cdline(dot: str) -> str:
    return f"cd {quote(dot)}\n"


def needsquote(s: str) -> bool:
    """Plan 9 ``%q``: quote an empty string or one holding a blank, control or quote."""
    return s == "" or any(ch <= " " or ch == "'" for ch in s)


def quote(s: str) -> str:
    """``s`` as ``%q`` prints it: in single quotes with quotes doubled, when needed."""
    if not needsquote(s):
        return s
    return "'" + s.replace("'", "''") + "'"


def argstext(args: list[str]) -> str:
    """``/proc/N/args``: the arguments quoted and joined by blanks."""
    return " ".join(quote(a) for a in args)


def waitline(pid: int, utime: int, stime: int, rtime: int, msg: str) -> str:
    """One ``/proc/N/wait`` record: ``pid utime stime rtime 'msg'``."""
    return f"{pid} {utime} {stime} {rtime} {quote(msg)}"


def segments(segs: list[tuple[str, int, int, int]]) -> bytes:
    """/proc/N/segment: (name, base, top, pages in RAM) of each retained segment."""
    return "".join(f"{'Retain':<6s}    {b:08x} {t:08x} {n:4d} {name}\n"
                   for name, b, t, n in segs).encode()  # fmt: skip
