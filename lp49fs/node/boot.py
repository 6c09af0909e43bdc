"""Boot one node inside a trio nursery: hardware, kernel, root task, core, Mngr, first process.

``async with boot() as node:`` builds, in order (the layers of README.md, bottom up):

1. the ``hwsim`` Machine and the ``kernel`` on it (``open_kernel``);
2. HVM, the root task (``lp49fs.hvm.Hvm``: frames, the Pager, thread and space creation);
   the process manager and the Mngr reach it through ``lp49fs.core.procmgr.Hvm``;
3. the ``Core`` with its devtab (``lp49fs.servants.make_devtab``), the process manager and
   the Mngr thread in a new core space (clerks are added as calls arrive);
4. the console driver thread: it receives the UART's interrupt IPC, calls
   ``Cons.interrupt()``, and acknowledges by sending to the interrupt thread; likewise one
   driver thread per ATA channel for ``#S`` (``disks`` are image paths, ``PATH:ro`` for
   read-only, attached as sdC0, sdC1, sdD0 ...), after which ``#S`` probes its units; and one
   for the floppy controller (``floppy``: a 1.44 MB image), after which ``#f`` resets it;
5. the kernel-side ``boot`` process: root ``#R``, the standard binds (``#c`` on /dev, ``#e`` on
   /env, ``#p`` on /proc, ``#s`` on /srv, ``#d`` on /fd, ``#S`` and ``#f`` after ``#c`` on
   /dev) and fds 0, 1, 2 on /dev/cons.

Between 4 and 5, ``nics`` (``tap:NAME``/``hub:PATH``) become cards, ``#l`` controllers and
their driver threads (``lp49fs.node.netboot``).

The returned ``Node`` spawns programs as children of the boot process and waits for them.
Leaving the block shuts the node down in order (``ProcMgr.shutdown``: no new processes, every
process killed newest first, the boot process's groups released; then the servants'
``shutdown``, so mount channels stop; ``halt``: a close still waiting on the network after
SHUTDOWN_GRACE is cut short), and only then cancels what is left.  Afterwards every
frame is back in HVM's free pool.
Programs come from ``lp49fs.cmd.PROGRAMS`` (name -> module path) plus ``Node.programs``,
where tests may put coroutine functions directly.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from hwsim import Machine
from hwsim.ata import AtaController
from hwsim.fdc import FloppyController
from hwsim.machine import UART_IRQ
from kernel.kernel import Kernel, open_kernel
from kernel.thread import Entry, Thread
from kernel.types import NILTHREAD, Msg, ThreadId
from lp49fs.cmd import PROGRAMS
from lp49fs.core import sysfile
from lp49fs.core.bus import BUS
from lp49fs.core.core import PEER_TIMEOUT, Core
from lp49fs.core.mngr import Mngr
from lp49fs.core.proc import PRIDRIVER, PRISCALE, RFFDG, RFPROC, Proc, newproc
from lp49fs.core.proc import PRIFUSE as PRIFUSE  # the FUSE view sets it on its bridge
from lp49fs.core.procmgr import PInfo, ProcMgr
from lp49fs.errors import Enonexist, Error
from lp49fs.hvm import Hvm
from lp49fs.hvm.pagecache import MAXPAGES
from lp49fs.lib.runtime import Main, program_entry, thread_entry
from lp49fs.ninep import ORDWR
from lp49fs.node import netboot
from lp49fs.servants import CONFIG, make_devtab

BOOTBINDS = (("#c", "/dev", 0), ("#e", "/env", 4), ("#p", "/proc", 0), ("#s", "/srv", 4),
             ("#d", "/fd", 0), ("#I", "/net", 2), ("#S", "/dev", 2),
             ("#f", "/dev", 2))  # fmt: skip  # 2: MAFTER
SHUTDOWN_GRACE = 2.0  # seconds processes get to close their files at shutdown


async def halt(pm: ProcMgr, core: Core) -> None:
    """End every process, then the servants.  Processes get SHUTDOWN_GRACE to close their
    files; a close still waiting then (a clunk to a peer that is gone, which only TCP's
    retransmission timeout or the 9P ping would end) is cut short: the servants shut down
    at that moment, which ends the node's connections and mount channels, so it fails."""
    cut = trio.Event()

    async def deadline() -> None:
        await trio.sleep(SHUTDOWN_GRACE)
        cut.set()
        core.shutdown()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadline)
        with trio.move_on_after(SHUTDOWN_GRACE):
            await pm.shutdown()
        nursery.cancel_scope.cancel()
    if not cut.is_set():
        core.shutdown()


class Loader:
    """The program table for the process manager (``procmgr.Loader``)."""

    def __init__(self, programs: dict[str, str | Main]) -> None:
        self.programs = programs  # name -> module path or main coroutine function
        self.mngr: ThreadId = NILTHREAD  # set once the Mngr runs

    def main(self, prog: str) -> Main:
        what = self.programs.get(prog) or PROGRAMS.get(prog)
        if what is None:
            raise Error(f"'{prog}' {Enonexist}")
        if isinstance(what, str):
            main: Main = importlib.import_module(what).main
            return main
        return what

    def image(self, prog: str, argv: list[str], pid: int) -> Entry:
        return program_entry(self.main(prog), list(argv) or [prog], pid, self.mngr)

    def thread_image(self, pid: int) -> Entry:
        return thread_entry(pid, self.mngr)


@dataclass(eq=False)
class Node:
    """A booted node, as tests and ``lp49 node`` drive it."""

    machine: Machine
    kernel: Kernel
    hvm: Hvm
    core: Core
    procmgr: ProcMgr
    mngr: Mngr
    bootproc: Proc
    programs: dict[str, str | Main]  # extra programs (tests put coroutine functions here)
    console: bytearray = field(default_factory=bytearray)  # everything the UART printed
    started: dict[int, PInfo] = field(default_factory=dict)  # pid -> record, for wait
    supervised: list[object] = field(default_factory=list)  # its servers (node.monitor)

    async def spawn(
        self,
        prog: str,
        argv: list[str] | None = None,
        flags: int = RFFDG | RFPROC,
        fds: dict[int, int] | None = None,
    ) -> int:
        """Start ``prog`` as a child of the boot process; returns its pid."""
        pid = await self.procmgr.spawn(self.bootproc, prog, argv or [prog], flags, fds)
        self.started[pid] = self.procmgr.bypid[pid]
        return pid

    async def wait(self, pid: int) -> str:
        """The exit string of process ``pid`` (spawned by ``spawn``), once it has exited."""
        pi = self.started[pid]
        await pi.done.wait()
        return pi.exitmsg

    async def run(self, prog: str, argv: list[str] | None = None, **kw: object) -> str:
        """spawn + wait."""
        return await self.wait(await self.spawn(prog, argv, **kw))  # type: ignore[arg-type]


def _memkb(pm: ProcMgr, hvm: Hvm, pid: int) -> int:
    """KiB of the frames that process ``pid``'s address space holds (``/proc/N/status``)."""
    pi = pm.bypid.get(pid)
    return hvm.space_kb(pi.threads[0]) if pi is not None and pi.threads else 0


async def _intr(node: Node, thread: Thread, line: int, dc: str = "S") -> None:
    """A device driver thread: interrupt IPC of ``line`` in, servant ``dc``'s interrupt(line),
    acknowledge."""
    irq = node.kernel.irq_threads[line].id
    sv = node.core.devtab.get(dc)
    while True:
        await thread.receive(irq)
        if sv is not None:
            sv.interrupt(line)  # type: ignore[attr-defined]
        await thread.send(irq, Msg())


def attach_disks(machine: Machine, disks: tuple[str, ...]) -> None:
    """Plug each image (``PATH`` or ``PATH:ro``) into the machine's ATA channels."""
    for spec in disks:
        path, ro = (spec[:-3], True) if spec.endswith(":ro") else (spec, False)
        machine.add_disk(path, ro)


async def _console(node: Node, thread: Thread) -> None:
    """The UART driver thread: interrupt IPC in, ``Cons.interrupt()``, acknowledge."""
    irq = node.kernel.irq_threads[UART_IRQ].id
    cons = node.core.devtab.get("c")
    while True:
        await thread.receive(irq)
        if cons is not None:
            cons.interrupt()  # type: ignore[attr-defined]
        await thread.send(irq, Msg())


@asynccontextmanager
async def boot(
    sysname: str = "lp49",
    *,
    ram: int = 16 << 20,
    config: tuple[str, ...] = CONFIG,
    programs: dict[str, str | Main] | None = None,
    boottime: int | None = None,
    peer_timeout: float = PEER_TIMEOUT,
    bus: bool = BUS,
    pagecache: bool = True,
    cachepages: int = MAXPAGES,
    nics: Sequence[str] = (),
    ips: Sequence[str] = (),
    disks: tuple[str, ...] = (),
    floppy: str = "",
) -> AsyncIterator[Node]:
    """Boot a node (steps 1-5 of the module docstring); everything stops when the block ends.

    ``boottime`` pins the servants' file times (default: the wall clock at boot);
    ``peer_timeout`` is how long a mounted server may stay silent while calls wait (Core);
    ``floppy`` is a 1.44 MB image (``PATH[:ro]``) for drive 0 of the floppy controller (#f).
    ``bus`` turns the service bus on (docs/servicebus.md; False: the classic path only).
    ``pagecache`` turns the Pager's page cache on, ``cachepages`` pages at most (docs/pagecache.md).
    """
    machine = Machine(ram_size=ram)
    try:
        attach_disks(machine, disks)
        if floppy:
            machine.add_floppy(floppy.removesuffix(":ro"), floppy.endswith(":ro"))
        async with open_kernel(machine) as kernel, trio.open_nursery() as nursery:
            hvm = Hvm(kernel, pagecache=pagecache, cachepages=cachepages)
            hvm.start()
            kernel.threads[hvm.pager.number].name = "HVM"  # a lane of lp49fs.trace
            core = Core(sysname, machine=machine, boottime=boottime, peer_timeout=peer_timeout,
                        bus=bus)
            core.install(make_devtab(core, config))
            loader = Loader(dict(programs or {}))
            pm = ProcMgr(core, hvm, loader, nursery)
            kernel.exit_hooks.append(pm.thread_died)
            mngr = Mngr(pm, hvm)
            loader.mngr = mngr.start(f"core-{sysname}")
            core.counters = lambda: (sum(machine.irqc.count), mngr.calls, hvm.faults_served)
            core.memkb = lambda p: _memkb(pm, hvm, p.pid)
            core.pagecache = hvm.pagecache
            bootp = newproc(core, await core.attach("R"), name="boot")
            pm.adopt(bootp)
            node = Node(machine, kernel, hvm, core, pm, mngr, bootp, loader.programs)
            machine.uart.attach_output(node.console.extend)
            drv = hvm.create_thread(loader.mngr, lambda t: _console(node, t))
            hvm.set_priority(drv, PRIDRIVER * PRISCALE)
            kernel.thread_control(kernel.root, kernel.irq_threads[UART_IRQ].id,
                                  kernel.irq_threads[UART_IRQ].id, NILTHREAD, drv)  # fmt: skip
            for _, ctlr in machine.bus.find(AtaController):
                drv = hvm.create_thread(loader.mngr, functools.partial(_intr, node, line=ctlr.line))
                hvm.set_priority(drv, PRIDRIVER * PRISCALE)
                irqt = kernel.irq_threads[ctlr.line].id
                kernel.thread_control(kernel.root, irqt, irqt, NILTHREAD, drv)
            for _, fdc in machine.bus.find(FloppyController):
                drv = hvm.create_thread(loader.mngr,
                                        functools.partial(_intr, node, line=fdc.line, dc="f"))
                irqt = kernel.irq_threads[fdc.line].id
                kernel.thread_control(kernel.root, irqt, irqt, NILTHREAD, drv)
            for dc in ("S", "f"):
                sv = core.devtab.get(dc)
                if sv is not None:
                    await sv.probe()  # type: ignore[attr-defined]
            plugged = netboot.plug_nics(node, nics, loader.mngr, nursery)
            for new, old, flag in BOOTBINDS:
                if new[1] in core.devtab:
                    await sysfile.bind(bootp, new, old, flag)
            for n in range(len(plugged.nics)):
                await sysfile.bind(bootp, f"#l{n}", "/net", 2)  # /net/etherN, MAFTER
            for n, cidr in enumerate(ips):
                await netboot.ipconfig(node, n, cidr)  # ADDR/LEN on ipifc n (own stack)
            if "c" in core.devtab:
                for _ in range(3):
                    await sysfile.open(bootp, "/dev/cons", ORDWR)
            try:
                yield node
            finally:
                with trio.CancelScope(shield=True):
                    await halt(pm, core)
                kernel.exit_hooks.remove(pm.thread_died)
                nursery.cancel_scope.cancel()
                netboot.unplug(node, plugged)
    finally:
        machine.close()  # the disks' image files
