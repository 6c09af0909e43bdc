"""#c cons: the console, the clock and the little text files of the system (Plan 9 devcons.c).

Theory of operation
-------------------
Typed characters reach the driver the LP49 way: the UART raises its interrupt line, the
kernel turns that into IPC, and the boot code calls ``Cons.interrupt()``.  ``interrupt`` drains
the UART's receive FIFO with ``getc`` into ``Kbd``, the line discipline, which echoes what it
cooks back to the UART and queues finished lines.  A blocked ``/dev/cons`` reader waits on a
trio ``Event`` that ``interrupt`` sets.

Rules
  1. Cooked mode (``lp49fs.servants.cons.kbd``): a read returns at most one line; what does not
     fit stays for the next read; ^D on an empty line is a 0-byte read (end of file).
  2. Raw mode (``rawon`` written to ``consctl``, and only while a consctl stays open):
     every byte is delivered as it comes and nothing is echoed.
  3. A cancelled read (trio cancel scope) takes nothing: typed input stays queued.
  4. Writes to ``cons`` print on the UART, ``\\n`` as ``\\r\\n`` unless raw (a serial line).
  5. Fixed-width numbers are ``NUMSIZE`` (12) bytes for 32-bit values and ``VLNUMSIZE`` (22)
     for 64-bit ones: right-justified decimal and one trailing blank.  ``/dev/time`` is
     seconds, nanoseconds, ticks and tick frequency: 12 + 3 * 22 = 78 bytes.
  6. DEL typed in cooked mode posts the note ``interrupt`` to the note group of the process
     that last read ``cons`` (the shell at its prompt, and so the foreground commands it
     started, which share its group; background jobs have groups of their own).  Plan 9's
     rio does the same for a window's process group.
  7. ``kmesg`` holds the newest 16 KiB the console printed (``Core.kmesgputs``; the node
     daemon adds its log lines), read at any offset; ``cputime`` is the caller's six times
     in ms (user, sys, real, then its exited children's; ``lp49fs.core.cputime``);
     ``sysstat`` is one line for the node's one CPU, Plan 9's ten numbers: cpu, context
     switches, interrupts, system calls, page faults, tlb faults, tlb purges, load (the
     ready tasks, x 1000), idle %, interrupt %.

``pid``, ``ppid`` and ``user`` answer for the calling process (``up``); sysname, hostowner
and the clock offset are per node, kept in this servant instance.  ``servers`` is the node's
supervised servers, one line each, as the supervisors report them (``Core.servers``,
``lp49fs.node.monitor``).  ``pagecache`` is the Pager's page cache's counters
(``lp49fs.hvm.pagecache`` Rule 6).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import trio

from lp49fs.core import cputime
from lp49fs.core.chan import COPEN, Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.core.proc import pgrpnote
from lp49fs.errors import Ebadarg, Eisdir, Eperm, Error
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Qid
from lp49fs.servants.cons.kbd import Kbd

if TYPE_CHECKING:
    from hwsim.uart import Uart
    from lp49fs.core.core import Core

NUMSIZE = 12  # 32-bit value: 11 digits + blank
VLNUMSIZE = 22  # 64-bit value: 21 digits + blank
TIMELEN = NUMSIZE + 3 * VLNUMSIZE  # 78
Ebadctl = "bad process or channel control request"  # port/error.h: a bad consctl message


def fixnum(val: int, size: int = NUMSIZE) -> bytes:
    """``val`` right-justified in ``size - 1`` columns plus a blank (Plan 9 readnum)."""
    return f"{val:>{size - 1}d}"[-(size - 1) :].encode() + b" "


def readstr(offset: int, count: int, s: bytes) -> bytes:
    """The bytes of ``s`` in [offset, offset+count): a fixed text read at an offset."""
    if offset >= len(s) or count <= 0:
        return b""
    return s[offset : offset + count]


def timetext(sec: int, nsec: int, ticks: int, hz: int) -> bytes:
    """The 78-byte ``/dev/time`` text: seconds, nanoseconds, ticks, ticks per second."""
    return fixnum(sec) + b"".join(fixnum(v, VLNUMSIZE) for v in (nsec, ticks, hz))


def bintime(nsec: int, ticks: int, hz: int) -> bytes:
    """``/dev/bintime``: the three values as big-endian 8-byte integers."""
    return b"".join(v.to_bytes(8, "big", signed=True) for v in (nsec, ticks, hz))


def crlf(data: bytes) -> bytes:
    """What a serial console prints for ``data``: each ``\\n`` as ``\\r\\n``."""
    return data.replace(b"\n", b"\r\n")


def clock() -> tuple[int, int, int]:
    """(nanoseconds since the epoch, ticks, ticks per second) from the host clock."""
    return time.time_ns(), time.monotonic_ns(), 1_000_000_000


def randombytes(count: int) -> bytes:
    """``count`` bytes from the host's entropy pool (the model's noise source)."""
    return os.urandom(max(count, 0))


class Q(IntEnum):
    DIR = 0
    BINTIME = 1
    CONS = 2
    CONSCTL = 3
    DRIVERS = 4
    HOSTOWNER = 5
    NULL = 6
    OSVERSION = 7
    PID = 8
    PPID = 9
    RANDOM = 10
    SYSNAME = 11
    TIME = 12
    USER = 13
    ZERO = 14
    CPUTIME = 15
    KMESG = 16
    SYSSTAT = 17
    SERVERS = 18
    PAGECACHE = 19


def _f(name: str, q: Q, length: int, perm: int) -> Dirtab:
    return Dirtab(name, Qid(QTFILE, 0, q), length, perm)


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o555),
    _f("bintime", Q.BINTIME, 24, 0o664),
    _f("cons", Q.CONS, 0, 0o660),
    _f("consctl", Q.CONSCTL, 0, 0o220),
    _f("cputime", Q.CPUTIME, 6 * NUMSIZE, 0o444),
    _f("drivers", Q.DRIVERS, 0, 0o444),
    _f("hostowner", Q.HOSTOWNER, 0, 0o664),
    _f("kmesg", Q.KMESG, 0, 0o440),
    _f("null", Q.NULL, 0, 0o666),
    _f("osversion", Q.OSVERSION, 0, 0o444),
    _f("pid", Q.PID, NUMSIZE, 0o444),
    _f("ppid", Q.PPID, NUMSIZE, 0o444),
    _f("random", Q.RANDOM, 0, 0o444),
    _f("sysname", Q.SYSNAME, 0, 0o664),
    _f("sysstat", Q.SYSSTAT, 0, 0o444),
    _f("time", Q.TIME, TIMELEN, 0o664),
    _f("user", Q.USER, 0, 0o666),
    _f("zero", Q.ZERO, 0, 0o444),
    _f("servers", Q.SERVERS, 0, 0o444),
    _f("pagecache", Q.PAGECACHE, 0, 0o444),
)


@dataclass
class ConsState:
    """The node's console state (devcons' ``kbd`` and clock adjustment)."""

    kbd: Kbd = field(default_factory=Kbd)  # line discipline and ready lines
    ctlopens: int = 0  # open consctl Chans; the last close turns raw off
    input: trio.Event = field(default_factory=trio.Event)  # set when input arrives
    timeoff: int = 0  # ns added to the host clock (writes to /dev/time)
    dropped: int = 0  # bytes printed with no UART to print on
    notepg: int = 0  # note group of the last reader: where DEL posts interrupt (Rule 6)


class Cons(Servant):
    """``#c``: console i/o on the machine's UART and the system's small text files."""

    dc = "c"
    name = "cons"
    dirtab = DIRTAB

    def __init__(self, core: Core, uart: Uart | None = None) -> None:
        super().__init__(core)
        self.uart = uart  # None: the core machine's UART (if any)
        self.st = ConsState()

    def _uart(self) -> Uart | None:
        if self.uart is not None:
            return self.uart
        machine = self.core.machine
        return getattr(machine, "uart", None) if machine is not None else None

    # ---- input: the interrupt path -----------------------------------------------------

    def interrupt(self) -> int:
        """The UART interrupted: drain its FIFO into the line discipline, echo, and wake
        readers.  Returns the number of bytes taken."""
        uart = self._uart()
        if uart is None:
            return 0
        data = bytearray()
        while (ch := uart.getc()) is not None:
            data.append(ch)
        if data:
            echo = self.st.kbd.input(bytes(data))
            if echo:
                uart.write(echo)
            while self.st.kbd.interrupts:
                self.st.kbd.interrupts -= 1
                if self.st.notepg:
                    pgrpnote(self.core, self.st.notepg, "interrupt")
            self._wake()
        return len(data)

    def _wake(self) -> None:
        self.st.input.set()
        self.st.input = trio.Event()

    def print(self, data: bytes) -> None:
        """Put ``data`` on the console (Rule 4), and in ``kmesg`` (Rule 7)."""
        self.core.kmesgputs(data)
        uart = self._uart()
        if uart is None:
            self.st.dropped += len(data)
            return
        uart.write(data if self.st.kbd.raw else crlf(data))

    async def readcons(self, count: int) -> bytes:
        """One line (Rule 1), or raw bytes (Rule 2); blocks until there is some (Rule 3)."""
        p = self.up()
        if p is not None:
            self.st.notepg = p.noteid
        while (got := self.st.kbd.take(count)) is None:
            await self.st.input.wait()
        return got

    # ---- the method table --------------------------------------------------------------

    async def open(self, c: Chan, omode: int) -> Chan:
        c = self.devopen(c, omode)
        if c.qid.path == Q.CONSCTL:
            self.st.ctlopens += 1
        return c

    async def close(self, c: Chan) -> None:
        if c.qid.path == Q.CONSCTL and c.flag & COPEN:
            self.st.ctlopens -= 1
            if self.st.ctlopens == 0:
                self.st.kbd.setraw(False)

    def _now(self) -> tuple[int, int, int]:
        nsec, ticks, hz = clock()
        return nsec + self.st.timeoff, ticks, hz

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        q = c.qid.path
        if q == Q.DIR:
            return self.devdirread(c, count, offset)
        if count <= 0:
            return b""
        if q == Q.CONS:
            return await self.readcons(count)
        if q == Q.ZERO:
            return bytes(count)
        if q == Q.RANDOM:
            return randombytes(count)
        if q == Q.BINTIME:
            return bintime(*self._now())[:count]
        return readstr(offset, count, self._text(q))

    def _text(self, q: int) -> bytes:
        """The contents of a fixed text file, read at an offset."""
        p = self.up()
        if q == Q.TIME:
            nsec, ticks, hz = self._now()
            return timetext(nsec // 1_000_000_000, nsec, ticks, hz)
        if q == Q.PID:
            return fixnum(p.pid if p else 0)
        if q == Q.PPID:
            return fixnum(p.ppid if p else 0)
        if q == Q.USER:
            return self.user().encode()
        if q == Q.SYSNAME:
            return self.core.sysname.encode()
        if q == Q.HOSTOWNER:
            return self.core.eve.encode()
        if q == Q.OSVERSION:
            return b"2000"
        if q == Q.DRIVERS:
            return "".join(f"#{d.dc} {d.name}\n" for d in self.core.devtab.values()).encode()
        if q == Q.KMESG:
            return bytes(self.core.kmesg)
        if q == Q.CPUTIME:
            return b"".join(fixnum(v) for v in (cputime.ms(p) if p else (0,) * 6))
        if q == Q.SYSSTAT:
            return self._sysstat()
        if q == Q.SERVERS:
            return self.core.servers().encode() if self.core.servers else b""
        if q == Q.PAGECACHE:
            return self.core.pagecache.status().encode() if self.core.pagecache else b""
        return b""  # null, consctl

    def _sysstat(self) -> bytes:
        counters = self.core.counters
        intr, calls, faults = counters() if counters is not None else (0, 0, 0)
        load = 1000 * trio.lowlevel.current_statistics().tasks_runnable  # the ready queue
        return b"".join(fixnum(v) for v in cputime.sysstat(intr, calls, faults, load)) + b"\n"

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        q = c.qid.path
        if q == Q.DIR:
            raise Error(Eisdir)
        if q == Q.CONS:
            self.print(data)
        elif q == Q.CONSCTL:
            self._ctl(data)
        elif q == Q.SYSNAME:
            self.core.sysname = _oneword(data, offset)
        elif q == Q.TIME:
            self._settime(data)
        elif q == Q.USER:
            self._setuser(data)
        elif q == Q.HOSTOWNER:
            self._sethostowner(data, offset)
        elif q != Q.NULL:
            raise Error(Eperm)
        return len(data)

    def _ctl(self, data: bytes) -> None:
        """consctl: rawon, rawoff (ctlpon, ctlpoff accepted); anything else is refused."""
        for word in data.decode(errors="replace").split():
            if word.startswith("rawon"):
                self.st.kbd.setraw(True)
                self._wake()
            elif word.startswith("rawoff"):
                self.st.kbd.setraw(False)
            elif not word.startswith("ctlp"):
                raise Error(Ebadctl)

    def _settime(self, data: bytes) -> None:
        if self.user() != self.core.eve:
            raise Error(Eperm)
        try:
            sec = int(data.decode().strip(), 0)
        except ValueError:
            sec = 0
        if len(data) >= 13 or sec <= 0:
            raise Error("bad time control")
        self.st.timeoff = sec * 1_000_000_000 - time.time_ns()

    def _setuser(self, data: bytes) -> None:
        """Only ``none`` may be written: the caller drops to user none (Plan 9 userwrite)."""
        p = self.up()
        if data != b"none" or p is None:
            raise Error(Eperm)
        p.user = "none"

    def _sethostowner(self, data: bytes, offset: int) -> None:
        if self.user() != self.core.eve:
            raise Error(Eperm)
        new = _oneword(data, offset)
        p = self.up()
        if p is not None and p.user == self.core.eve:
            p.user = new
        self.core.eve = new


def _oneword(data: bytes, offset: int) -> str:
    """A name written at offset 0, at most 255 bytes, one trailing newline dropped."""
    if offset != 0 or not 0 < len(data) < 256:
        raise Error(Ebadarg)
    return data.decode(errors="replace").removesuffix("\n")
