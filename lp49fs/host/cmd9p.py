"""``lp49 9p``: a 9P2000 client for scripts, after plan9port's 9p(1).

    lp49 9p [-a address] [-A aname] [-u user] [--auth DIR] cmd args...

    read name          copy the file to standard output
    write [-l] name    copy standard input into the file, opened OWRITE|OTRUNC
                       (-l: one Twrite per input line, as plan9port does)
    stat name          print the Dir as Plan 9's %D does
    ls [-dl] name...   list; -l prints ``ls -l`` lines, -d lists a directory itself
    create [-d] [-p perm] name   create an empty file (or directory with -d)
    rm name            remove the file

The address is a dial string (``tcp!host!port``, ``unix!/path``); a bare host means
``tcp!host!564`` (netmkaddr with service 9fs).  ``--auth DIR``: mutual TLS 1.3 first, with
``user``'s certificate of authority DIR, verifying the server's (``lp49fs.auth.tls``).
Names are paths on the server, from its root.
Errors print ``9p: <what> <name>: <Plan 9 error string>`` and exit 1; usage errors exit 2.

Output formats are plan9port's: ``ls -l`` prints ``%M %C %*d %*s %*s %*lld %T %q`` with type
``M`` and dev 0 and columns padded to the widest entry; ``stat`` prints fcallfmt.c's dirfmt.
"""

from __future__ import annotations

import getopt
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from typing import BinaryIO

import trio

from lp49fs.auth import tls
from lp49fs.errors import Error
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import (
    Fid,
    attach,
    create_path,
    open_path,
    remove_path,
    stat_path,
)
from lp49fs.ninep import DMDIR, OREAD, OTRUNC, OWRITE, Dir, dirmode
from lp49fs.transport import Link, dial

USAGE = """usage: lp49 9p [-a address] [-A aname] [-u user] [--auth DIR] cmd args...
possible cmds:
	read name
	write [-l] name
	stat name
	ls [-dl] name...
	create [-d] [-p perm] name
	rm name"""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RCQUOTE = set(" \t\n`^#*[]=|\\?${}()'<>&;")


class Usage(Exception):
    """A command line we cannot run; main prints USAGE and exits 2."""


def lstime(t: int, now: float | None = None) -> str:
    """plan9port 9p's %T: ``Nov 26 10:11`` within six months, else ``Nov 26  2019``."""
    now = time.time() if now is None else now
    tm = time.localtime(t)
    month = MONTHS[tm.tm_mon - 1]
    if now - t < 6 * 30 * 86400:
        return f"{month} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}"
    return f"{month} {tm.tm_mday:2d} {tm.tm_year:5d}"


def quote(s: str) -> str:
    """Plan 9's %q with rc quoting: wrap in '' (doubling ') when needed."""
    if s and not any(c in RCQUOTE or c < " " for c in s):
        return s
    return "'" + s.replace("'", "''") + "'"


def dirfmt(d: Dir) -> str:
    """fcallfmt.c's %D, as ``9p stat`` prints it (``Dir.__str__``)."""
    return str(d)


def lslines(dirs: list[Dir], now: float | None = None) -> list[str]:
    """``ls -l`` lines for ``dirs`` (already in order), columns padded as plan9port does."""
    wl = max((len(str(d.length)) for d in dirs), default=0)
    wu = max((len(d.uid) for d in dirs), default=0)
    wg = max((len(d.gid) for d in dirs), default=0)
    return [
        f"{dirmode(d.mode)} M 0 {d.uid:<{wu}} {d.gid:<{wg}} {d.length:>{wl}} "
        f"{lstime(d.mtime, now)} {quote(d.name)}"
        for d in dirs
    ]


async def xread(root: Fid, args: list[str], out: BinaryIO) -> None:
    _opts, args = getopt.getopt(args, "")
    if len(args) != 1:
        raise Usage
    async with await open_path(root, args[0], OREAD) as fid:
        while data := await fid.read(fid.maxio):
            out.write(data)
    out.flush()


async def xwrite(root: Fid, args: list[str], inp: BinaryIO) -> None:
    opts, args = getopt.getopt(args, "l")
    if len(args) != 1:
        raise Usage
    byline = bool(opts)
    async with await open_path(root, args[0], OWRITE | OTRUNC) as fid:
        wrote = False
        read1 = getattr(inp, "read1", inp.read)  # one read(2) at a time, like plan9port
        chunks = iter(inp.readline, b"") if byline else iter(lambda: read1(65536), b"")
        for chunk in chunks:
            await fid.writeall(chunk)
            wrote = True
        if not wrote:
            await fid.write(b"")  # plan9port sends one empty write for empty input


async def xstat(root: Fid, args: list[str], out: BinaryIO) -> None:
    if len(args) != 1:
        raise Usage
    d = await stat_path(root, args[0])
    out.write((dirfmt(d) + "\n").encode())


async def xls(root: Fid, args: list[str], out: BinaryIO) -> None:
    opts, args = getopt.getopt(args, "ld")
    flags = {o for o, _ in opts}
    long, dflag = "-l" in flags, "-d" in flags
    for name in args or ["/"]:
        d = await stat_path(root, name)
        if d.mode & DMDIR and not dflag:
            async with await open_path(root, name, OREAD) as fid:
                dirs = sorted(await fid.readdir(), key=lambda e: e.name)
        else:
            dirs = [d]
        lines = lslines(dirs) if long else [quote(e.name) for e in dirs]
        out.write("".join(line + "\n" for line in lines).encode())


async def xcreate(root: Fid, args: list[str], out: BinaryIO) -> None:
    opts, args = getopt.getopt(args, "dp:")
    if len(args) != 1:
        raise Usage
    perm = 0o664
    for o, v in opts:
        if o == "-p":
            perm = int(v, 8)
        elif o == "-d":
            perm = DMDIR | (perm | 0o111)
    fid = await create_path(root, args[0], perm, OREAD)
    await fid.clunk()


async def xrm(root: Fid, args: list[str], out: BinaryIO) -> None:
    if len(args) != 1:
        raise Usage
    await remove_path(root, args[0])


Verb = Callable[[Fid, list[str], BinaryIO], Awaitable[None]]
VERBS: dict[str, tuple[Verb, str]] = {
    "read": (xread, "out"),
    "write": (xwrite, "in"),
    "stat": (xstat, "out"),
    "ls": (xls, "out"),
    "create": (xcreate, "out"),
    "rm": (xrm, "out"),
}


def netmkaddr(addr: str) -> str:
    """A bare host becomes ``tcp!host!564``, as plan9port's 9p does."""
    return addr if "!" in addr else f"tcp!{addr}!9fs"


async def run(
    addr: str, aname: str, uname: str, verb: str, args: list[str], authdir: str | None = None
) -> None:
    fn, stream = VERBS[verb]
    io = sys.stdin.buffer if stream == "in" else sys.stdout.buffer
    link: Link = await dial(netmkaddr(addr))
    if authdir is not None:
        host = netmkaddr(addr).split("!")[1]
        try:
            link = await tls.client(link, authdir, uname, host)
        except BaseException:
            await link.aclose()
            raise
    session = Session(link)
    failed: Exception | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        try:
            await session.version()
            root = await attach(session, uname, aname)
            await fn(root, args, io)
            await root.clunk()
        except (Error, Usage, getopt.GetoptError, ValueError) as e:
            failed = e  # re-raised outside the nursery, so not in an ExceptionGroup
        finally:
            await session.aclose()
            nursery.cancel_scope.cancel()
    if failed is not None:
        refusal = getattr(link, "failure", None)  # a TLS alert ended the link: say why
        raise refusal if isinstance(refusal, Error) else failed


def main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "a:A:u:", ["auth="])
        o = dict(opts)
        if not args or args[0] not in VERBS or "-a" not in o:
            raise Usage
        user = o.get("-u", getpass.getuser())
        trio.run(run, o["-a"], o.get("-A", ""), user, args[0], args[1:], o.get("--auth"))
    except (Usage, getopt.GetoptError):
        print(USAGE, file=sys.stderr)
        return 2
    except (Error, ValueError) as e:
        ename = e.ename if isinstance(e, Error) else str(e)
        target = " ".join(args[1:]) if args else ""
        print(f"9p: {args[0]} {target}: {ename}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    return 0
