"""Boot glue for network cards: plug NICs into the machine, start their drivers and cables.

For each NIC spec (``tap:NAME`` or ``hub:PATH``, ``hwsim.netback.backend``) ``plug_nics``:

1. opens the backend first, so a missing hub or a TAP without root fails the boot with a
   clear message instead of a card without a cable;
2. makes a ``hwsim.nic.Nic`` on a free interrupt line with a locally administered MAC
   derived from the node name and card number (stable across boots), and plugs it into the
   machine's bus as ``etherN``;
3. takes ``etherdrv.NFRAMES`` physical frames from HVM for the rings and buffers, and gives
   ``#l`` controller N its driver (``Ether.addctlr`` programs the card);
4. starts the driver thread in the core's space, the handler of the card's interrupt thread:
   it receives the interrupt IPC, calls ``Ether.interrupt(N)`` and acknowledges by sending
   back to the interrupt thread (docs/kernel.md, "How one interrupt travels");
5. starts the backend's task in the node's nursery.

``ipconfig`` then gives the own IP stack an interface on a card, as Plan 9's ipconfig(8)
does through ``/net/ipifc/clone`` (``bind ether /net/etherN``, ``add IP MASK``).

``unplug`` gives the frames back to HVM once the node is down.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from hwsim.netback import backend
from hwsim.nic import Nic
from kernel.thread import Thread
from kernel.types import NILTHREAD, Msg, ThreadId
from lp49fs.core.proc import PRIDRIVER, PRISCALE
from lp49fs.servants.ether import Ether
from lp49fs.servants.etherdrv import NFRAMES, EtherDriver

if TYPE_CHECKING:
    from lp49fs.node.boot import Node


class NicError(Exception):
    """A NIC could not be plugged in; ``str(e)`` says which and why."""


def macaddr(sysname: str, n: int) -> bytes:
    """A locally administered unicast MAC for card ``n`` of node ``sysname``."""
    h = hashlib.sha256(f"{sysname}/ether{n}".encode()).digest()
    return bytes([0x02]) + h[:5]


@dataclass
class Plugged:
    """What ``plug_nics`` took, for ``unplug``."""

    frames: list[int] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)


async def _driver(ether: Ether, ctlrno: int, irq: ThreadId, t: Thread) -> None:
    while True:
        await t.receive(irq)
        ether.interrupt(ctlrno)
        await t.send(irq, Msg())


def plug_nics(
    node: Node, specs: Sequence[str], core_tid: ThreadId, nursery: trio.Nursery
) -> Plugged:
    """Steps 1-5 of the module docstring for every spec; raises NicError."""
    plugged = Plugged()
    ether = node.core.devtab.get("l")
    if not specs:
        return plugged
    if not isinstance(ether, Ether):
        raise NicError("NICs given but the node has no #l servant")
    machine, kernel = node.machine, node.kernel
    for n, spec in enumerate(specs):
        try:
            port = backend(spec)
            port.open()
        except (ValueError, OSError) as e:
            raise NicError(f"ether{n} {spec}: {e}") from None
        line = machine.alloc_irq()
        nic = Nic(machine.ram, machine.irqc, line, macaddr(node.core.sysname, n))
        machine.bus.plug(f"ether{n}", nic, line)
        frames = [node.hvm.alloc_frame(int(core_tid)) for _ in range(NFRAMES)]
        if None in frames:
            raise NicError(f"ether{n}: no memory for the rings")
        plugged.frames += [f for f in frames if f is not None]
        plugged.nics.append(nic)
        ether.addctlr(n, EtherDriver(nic, machine.ram, [f for f in frames if f is not None]))
        irq = kernel.irq_threads[line].id
        drv = node.hvm.create_thread(core_tid, functools.partial(_driver, ether, n, irq))
        node.hvm.set_priority(drv, PRIDRIVER * PRISCALE)
        kernel.thread_control(kernel.root, irq, irq, NILTHREAD, drv)
        nursery.start_soon(port.run, nic)
    return plugged


async def ipconfig(node: Node, ctlrno: int, cidr: str) -> None:
    """Plan 9 ipconfig(8) for ``/net/etherN``: a new ipifc, bound, with ``ADDR/LEN``."""
    from lp49fs.core import sysfile
    from lp49fs.ninep import ORDWR

    addr, _, plen = cidr.partition("/")
    p = node.bootproc
    fd = await sysfile.open(p, "/net/ipifc/clone", ORDWR)
    try:
        for msg in (f"bind ether /net/ether{ctlrno}", f"add {addr} {plen or '24'}"):
            await sysfile.write(p, fd, msg.encode())
    finally:
        await sysfile.close(p, fd)


def unplug(node: Node, plugged: Plugged) -> None:
    """Give the rings' frames back to HVM (the node is down)."""
    for f in plugged.frames:
        node.hvm.frames.release(f)
    plugged.frames.clear()
