"""The ``Core`` object: one node's LP49core state, with no module-level state anywhere.

Several nodes can live in one Python process (tests boot three), so everything a node owns
hangs off its ``Core``: the devtab (servant letter -> servant object, in CONFIG order), the
process table, the node's name (``sysname``), the host owner (``eve``), the boot time (the wall
clock, or ``boottime=`` when a caller pins it) and the emulated machine (``machine``, an
``hwsim`` Machine, or None in tests that need no hardware).

The core never imports ``lp49fs.servants`` (servants import the core), so the devtab is built
by the caller: ``lp49fs.servants.make_devtab(core)`` constructs each configured servant with
this core and hands the ordered list to ``Core.install``, which refuses duplicate letters and
runs every ``reset`` then every ``init`` in order (Plan 9 ``chandevreset``/``chandevinit``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from lp49fs.core.bus import BUS, Bus
from lp49fs.core.chan import Chan, Dev
from lp49fs.errors import Ebadsharp, Error
from lp49fs.ninep import Qid

if TYPE_CHECKING:
    from lp49fs.core.proc import Proc

KMESGSIZE = 16 * 1024  # bytes of #c/kmesg, as Plan 9's kmesg buffer
PEER_TIMEOUT = 10.0  # seconds: a frozen mounted server fails waiting calls within twice this


class PageCache(Protocol):
    """What ``#M`` asks of the Pager's page cache (``lp49fs.hvm.pagecache``, which says how)."""

    on: bool

    def copen(self, key: tuple[int, int], qid: Qid) -> None: ...
    def cread(self, key: tuple[int, int], qid: Qid, offset: int,
              count: int) -> bytes | int | None: ...
    def span(self, offset: int, count: int, limit: int) -> tuple[int, int]: ...
    def cupdate(self, key: tuple[int, int], qid: Qid, gen: int, offset: int, asked: int,
                data: bytes) -> None: ...
    def cwrite(self, key: tuple[int, int]) -> None: ...
    def forget(self, server: int) -> None: ...
    def status(self) -> str: ...


class Core:
    """One node's core: devtab, process table, names, machine."""

    def __init__(
        self,
        sysname: str = "lp49",
        *,
        eve: str = "glenda",
        machine: Any = None,
        boottime: int | None = None,
        peer_timeout: float = PEER_TIMEOUT,
        bus: bool = BUS,
    ) -> None:
        self.sysname = sysname  # #c/sysname
        self.eve = eve  # host owner: owns the servants' files
        self.machine = machine  # hwsim Machine, or None
        # atime/mtime of servant files: the wall clock at boot unless given (tests pin it)
        self.boottime = int(time.time()) if boottime is None else boottime
        # #M pings a mounted server that says nothing this long while calls wait, and hangs
        # the mount up if the ping is not answered within as long again (client.py Rule 6)
        self.peer_timeout = peer_timeout
        self.bus = Bus(bus)  # the service bus's endpoints; bus False: the classic path only
        self.devtab: dict[str, Dev] = {}  # dc -> servant, CONFIG order
        self.procs: dict[int, Proc] = {}  # pid -> live process
        self.notify: Callable[[Proc, str], None] | None = None  # postnote delivery hook
        self.setpri: Callable[[Proc, int], None] | None = None  # /proc/N/ctl pri (ProcMgr)
        # the next exited child's (pid, utime, stime, rtime, msg) of a process, blocking
        # (/proc/N/wait)
        self.waitfor: Callable[[Proc], Awaitable[tuple[int, int, int, int, str]]] | None = None
        # the CPU's counters for #c/sysstat, set by the boot: (interrupts, system calls,
        # page faults) so far
        self.counters: Callable[[], tuple[int, int, int]] | None = None
        self.memkb: Callable[[Proc], int] | None = None  # memory of a process, KiB (status)
        self.kmesg = bytearray()  # what the node printed, the newest KMESGSIZE bytes
        # (name, base, top, pages touched) of each retained segment of a pid (/proc/N/segment)
        self.segments: Callable[[int], list[tuple[str, int, int, int]]] | None = None
        # the supervised servers' status, one line each (/dev/servers, lp49fs.node.monitor)
        self.servers: Callable[[], str] | None = None
        # the Pager's page cache of server files, asked by #M (#c/pagecache); None: none
        self.pagecache: PageCache | None = None
        self._nextpid = 1

    def install(self, servants: Iterable[Dev]) -> None:
        """Fill the devtab in order; run every reset, then every init."""
        for sv in servants:
            if sv.dc in self.devtab:
                raise ValueError(f"servant letter #{sv.dc} used twice")
            self.devtab[sv.dc] = sv
        for sv in self.devtab.values():
            sv.reset()
        for sv in self.devtab.values():
            sv.init()

    def shutdown(self) -> None:
        for sv in reversed(list(self.devtab.values())):
            sv.shutdown()

    def dev(self, dc: str) -> Dev:
        """The servant for ``#dc``; unknown letter -> ``Error(Ebadsharp)``."""
        sv = self.devtab.get(dc)
        if sv is None:
            raise Error(Ebadsharp)
        return sv

    def kmesgputs(self, data: bytes) -> None:
        """Keep ``data`` in ``#c/kmesg``: the newest KMESGSIZE bytes the node printed."""
        self.kmesg += data
        if len(self.kmesg) > KMESGSIZE:
            del self.kmesg[: len(self.kmesg) - KMESGSIZE]

    def newpid(self) -> int:
        pid = self._nextpid
        self._nextpid += 1
        return pid

    def proc(self, pid: int) -> Proc | None:
        return self.procs.get(pid)

    async def attach(self, dc: str, spec: str = "") -> Chan:
        """Attach ``#dc`` with ``spec`` (a new reference)."""
        return await self.dev(dc).attach(spec)
