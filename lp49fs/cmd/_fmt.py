"""Output formats of the programs, as pure functions (pinned by table tests).

* ``dirmode`` (``lp49fs.ninep``'s) is Plan 9's ``%M``: kind ``d``/``a``/``A``/``-``, then
  ``l`` for DMEXCL, then three ``rwx`` triples: ``d-rwxr-xr-x``, ``--rw-rw-r--``.
* ``lstime`` is ls's ``asciitime``: ``Nov 26 10:11`` if the time lies between six months
  ago and a day ahead, else ``Nov 26  2019``.
* ``lslines`` is ``ls -l``/``-q``: ``%M %C %*ud %*q %*q %*llud %s name``, every column as
  wide as its widest entry in the batch (uid and gid left-justified, numbers right).
  ``lp49 9p ls -l`` (``cmd9p.lslines``) is plan9port's shape instead (type ``M``, dev 0,
  no qid column, a different six-month rule), so the two share only ``dirmode``.
* ``psline`` is Plan 9 ps: ``%-10s %8s %4lud:%.2lud %3lud:%.2lud  %7ludK %-8.8s %s`` from
  the whitespace-separated fields of ``/proc/N/status``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lp49fs.cmd._rcast import rcquote
from lp49fs.cmd.newns import expand, tokens
from lp49fs.ninep import Dir, dirmode

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def lstime(t: int, now: int) -> str:
    tm = time.localtime(t)
    month = MONTHS[tm.tm_mon - 1]
    if now - 180 * 86400 <= t <= now + 86400:
        return f"{month} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}"
    return f"{month} {tm.tm_mday:2d} {tm.tm_year:5d}"


def ctime(t: int, utc: bool = False) -> str:
    """Plan 9 ``ctime`` without the newline: ``Wed Nov 26 10:11:12 GMT 2008``."""
    tm = time.gmtime(t) if utc else time.localtime(t)
    zone = "GMT" if utc else (tm.tm_zone or "GMT")
    return (f"{DAYS[tm.tm_wday]} {MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {zone} {tm.tm_year}")


@dataclass(frozen=True, slots=True)
class Entry:
    d: Dir  # what stat or the directory read said
    name: str  # the name to print (with its prefix when ls was given operands)


def lslines(entries: list[Entry], long: bool, qid: bool, now: int) -> list[str]:
    """One line per entry, in the given order."""
    qw = max((len(str(e.d.qid.vers)) for e in entries), default=0)
    vw = max((len(str(e.d.dev)) for e in entries), default=0)
    uw = max((len(rcquote(e.d.uid)) for e in entries), default=0)
    gw = max((len(rcquote(e.d.gid)) for e in entries), default=0)
    lw = max((len(str(e.d.length)) for e in entries), default=0)
    out = []
    for e in entries:
        d = e.d
        s = ""
        if qid:
            s += f"({d.qid.path:016x} {d.qid.vers:{qw}d} {d.qid.type:02x}) "
        if long:
            s += (f"{dirmode(d.mode)} {chr(d.type) if 32 < d.type < 0x110000 else '?'} "
                  f"{d.dev:{vw}d} {rcquote(d.uid):<{uw}} {rcquote(d.gid):<{gw}} "
                  f"{d.length:{lw}d} {lstime(d.mtime, now)} ")
        out.append(s + rcquote(e.name))
    return out


def psline(pid: str, status: str) -> str | None:
    """The ps line of process ``pid`` from its status text; None if it is malformed."""
    f = status.split()
    if len(f) < 12:
        return None
    try:
        utime, stime = int(f[3]) // 1000, int(f[4]) // 1000
        size = int(f[9])
    except ValueError:
        return None
    return (f"{f[1]:<10} {pid:>8} {utime // 60:4d}:{utime % 60:02d} "
            f"{stime // 60:3d}:{stime % 60:02d}  {size:7d}K {f[2][:8]:<8} {f[0]}")


def nsline(line: str) -> str:
    """A /proc/N/ns line re-quoted as ns(1) prints it: rc quoting, which sh and a namespace
    file (newns) both read back."""
    f = [expand(t, {}) for t in tokens(line)]
    if not f:
        return ""
    if f[0] in ("bind", "mount"):
        flags = f[1] if len(f) > 1 and f[1].startswith("-") else ""
        rest = f[2:] if flags else f[1:]
        return " ".join([f[0], flags, *(rcquote(x) for x in rest)])
    return " ".join([f[0], *(rcquote(x) for x in f[1:])])
