"""A Machine: RAM, interrupt lines, a timer, a UART console and a device bus, wired together.

This is what a node's hardware description (the TOML ``[hardware]`` table) turns into.  The
standard wiring follows a PC: timer on line 0, the console UART on line 4 (COM1); further
devices (disks, NICs, framebuffer) are plugged into ``bus`` by whoever builds the node, each
with a free interrupt line from ``alloc_irq``.
"""

from __future__ import annotations

from hwsim.ata import NUNITS, AtaController, Unit
from hwsim.bus import Bus
from hwsim.fdc import Drive, FloppyController
from hwsim.irq import InterruptController
from hwsim.ram import Ram
from hwsim.timer import Timer
from hwsim.uart import Uart

TIMER_IRQ = 0
UART_IRQ = 4
ATA_IRQS = (14, 15)  # PC primary and secondary ATA channels (sdC, sdD)
FDC_IRQ = 6  # the PC floppy controller


class Machine:
    """The emulated hardware of one node."""

    def __init__(
        self, ram_size: int = 16 << 20, irq_lines: int = 32, timer_period: float = 0.01
    ) -> None:
        self.ram = Ram(ram_size)  # physical memory, 4 KiB frames
        self.irqc = InterruptController(irq_lines)  # the interrupt lines
        self.bus = Bus()  # every device, by name
        self.timer = Timer(self.irqc, TIMER_IRQ, timer_period)
        self.uart = Uart(self.irqc, UART_IRQ)
        self.bus.plug("timer", self.timer, TIMER_IRQ)
        self.bus.plug("uart0", self.uart, UART_IRQ)

    def alloc_irq(self) -> int:
        """A line no plugged device uses yet (IndexError when all are taken)."""
        used = {s.irq for s in self.bus.slots.values()}
        for n in range(1, self.irqc.nlines):
            if n not in used:
                return n
        raise IndexError("no free interrupt line")

    def add_disk(self, path: str, readonly: bool = False) -> tuple[str, Unit]:
        """Attach image ``path`` as the next free ATA unit: sdC0, sdC1, then sdD0, sdD1.

        Channel C is bus slot ``ata0`` on line 14, D is ``ata1`` on line 15; a channel is
        plugged on its first unit.  Returns the unit's Plan 9 name and the Unit."""
        for ch, line in enumerate(ATA_IRQS):
            name = f"ata{ch}"
            if name not in self.bus.slots:
                self.bus.plug(name, AtaController(self.irqc, line), line)
            ctlr = self.bus.get(name)
            assert isinstance(ctlr, AtaController)
            for u in range(NUNITS):
                if ctlr.units[u] is None:
                    return f"sd{'CD'[ch]}{u}", ctlr.attach(u, path, readonly)
        raise IndexError("no free ATA unit")

    def add_floppy(self, path: str, readonly: bool = False) -> Drive:
        """Put the 1.44 MB image ``path`` in drive 0 of the floppy controller (bus slot
        ``fdc0``, line 6, plugged on first use)."""
        if "fdc0" not in self.bus.slots:
            self.bus.plug("fdc0", FloppyController(self.irqc, FDC_IRQ), FDC_IRQ)
        fdc = self.bus.get("fdc0")
        assert isinstance(fdc, FloppyController)
        return fdc.attach(0, path, readonly)

    def close(self) -> None:
        """Release host resources held by devices (the disks' image files)."""
        for _, ctlr in self.bus.find(AtaController):
            ctlr.close()
        for _, fdc in self.bus.find(FloppyController):
            fdc.close()
