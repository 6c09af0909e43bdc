"""The device bus: where disks, NICs, the UART and a framebuffer plug into a machine.

A device is any object; the bus records it under a unique name with the interrupt line it
uses (if any).  Drivers above find devices by name (``uart0``, ``sd0``, ``ether0``) or by kind
(the class), as a Plan 9 driver would probe its ISA/PCI slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class Slot:
    name: str  # bus name, unique per machine
    device: object  # the device model
    irq: int | None  # interrupt line, or None for a device that never interrupts


class Bus:
    """An ordered registry of plugged devices."""

    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}

    def plug(self, name: str, device: object, irq: int | None = None) -> None:
        """Plug ``device`` under ``name``; a taken name is a ValueError."""
        if name in self.slots:
            raise ValueError(f"bus slot {name!r} already taken")
        self.slots[name] = Slot(name, device, irq)

    def unplug(self, name: str) -> None:
        """Remove the device named ``name`` (KeyError if absent)."""
        del self.slots[name]

    def get(self, name: str) -> object:
        """The device named ``name`` (KeyError if absent)."""
        return self.slots[name].device

    def find(self, kind: type[T]) -> list[tuple[str, T]]:
        """All devices that are instances of ``kind``, in plug order."""
        return [(s.name, s.device) for s in self.slots.values() if isinstance(s.device, kind)]

    def irq_of(self, name: str) -> int | None:
        """The interrupt line of the device named ``name``."""
        return self.slots[name].irq
