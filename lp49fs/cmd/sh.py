"""sh (or rc) [-i] [-c command | file [arg ...]]: the rc shell of LP49 (docs/shell.md).

The shell reads commands from ``-c``'s argument, from ``file``, or from fd 0, and runs them
with ``_rcexec.Shell``.  Every source goes a line at a time: text is handed to the parser
once it forms whole commands (an open quote, a trailing ``|`` or an open list asks for the
next line), so an interactive session runs each command as soon as its line is typed, and
a syntax error spoils only the command it is in.
With ``-i`` the prompt ``% `` (``\\t`` for a continuation line) goes to fd 1 before each
read.  The shell ends at end of input or ``exit``; its exit string is ``$status``.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._rcexec import Exit, Shell
from lp49fs.cmd._rcflow import load
from lp49fs.cmd._rcproc import Interrupted, takenotes
from lp49fs.cmd._util import readfile, splitflags, usage
from lp49fs.errors import Eintr, Error

USAGE = "sh [-i] [-c command | file [arg ...]]"


class LineReader:
    """Lines of an fd, however its reads are cut (a pipe's messages, cons's lines)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    async def readline(self) -> str | None:
        """The next line with its newline; the unterminated rest at EOF; None after that."""
        while b"\n" not in self.buf and not self.eof:
            try:
                data = await lib.read(self.fd, 8192)
            except Error as e:
                if e.ename == Eintr:
                    self.buf = b""
                    await takenotes()
                    raise Interrupted from None
                data = b""
            if not data:
                self.eof = True
            self.buf += data
        if not self.buf:
            return None
        line, nl, self.buf = self.buf.partition(b"\n")
        return (line + nl).decode(errors="replace")


async def interact(sh: Shell, fd: int, prompt: bool) -> None:
    reader = LineReader(fd)
    await sh.run_lines(reader.readline, _prompt if prompt else None)


async def _prompt(p: str) -> None:
    try:
        await lib.write(1, p.encode())
    except Error:
        pass


async def stdfds() -> list[int]:
    """Which of fds 0, 1, 2 are open (children get only those)."""
    have = []
    for fd in (0, 1, 2):
        try:
            await lib.fd2path(fd)
            have.append(fd)
        except Error:
            pass
    return have


async def main(argv: list[str]) -> None:
    r = splitflags(argv, "ic")
    if r is None:
        await usage(USAGE)
    flags, args = r
    if "c" in flags and not args:
        await usage(USAGE)
    name = args[0] if args and "c" not in flags else argv[0]
    sh = Shell(args[1:], await stdfds(), name)
    sh.vars["pid"] = [str(await lib.getpid())]
    await lib.notify(True)  # a note interrupts, never ends, the shell (_rcproc Rule 5)
    await load(sh)
    try:
        if "c" in flags:
            await sh.run_text(args[0])
        elif args:
            try:
                text = (await readfile(args[0])).decode()
            except Error as e:
                await sh.complain(f"{args[0]}: {e.ename}")
                raise
            await sh.run_text(text)
        else:
            await interact(sh, 0, "i" in flags)
    except Exit as e:
        if e.status:
            raise Error(e.status) from None
        return
    if sh.status:
        raise Error(sh.status)
