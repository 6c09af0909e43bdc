"""Address spaces: a page table (virtual page -> mapping node) with load/store through it.

Theory of operation: a ``Space`` maps virtual page numbers to ``Mapping`` nodes of the mapping
database (``kernel.mapdb``); each node names a RAM frame and the rights this space has on it.
``read``/``write`` translate page by page and copy through memoryview slices of the one RAM
buffer, so moving a few KiB costs a few slice copies.  A missing page or a missing right
raises ``PageFault`` (address, access); the thread layer turns that into the page-fault IPC to
the pager and retries (``Thread.load``/``Thread.store``).

Rules:
1. ``pages`` holds only live nodes: a node in ``pages[vpn]`` has ``space is self``,
   ``vpn == vpn`` and non-zero rights.
2. Every access sets the node's status bits (R on read, W on write), which ``Unmap`` reports
   and clears, as X.2's referenced/written bits.
3. Addresses outside the 32-bit space fault like unmapped ones (the pager refuses them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.ram import Ram
from kernel.types import ADDRESS_BITS, PAGE_BITS, PAGE_SIZE, R, W

if TYPE_CHECKING:
    from kernel.mapdb import Mapping

OFFSET_MASK = PAGE_SIZE - 1
LIMIT = 1 << ADDRESS_BITS


class PageFault(Exception):
    """An access to ``addr`` needed rights ``access`` that the space does not have there."""

    def __init__(self, addr: int, access: int) -> None:
        super().__init__(f"page fault at {addr:#x} access {access}")
        self.addr = addr
        self.access = access


class Space:
    """One address space: its page table and the threads that run in it."""

    _next_id = 1

    def __init__(self, ram: Ram, name: str = "") -> None:
        self.ram = ram  # physical memory the frames live in
        self.pages: dict[int, Mapping] = {}  # virtual page number -> mapping node
        self.nthreads = 0  # threads in this space (the last one's deletion frees it)
        self.kip_area: int | None = None  # where the KIP is mapped (SpaceControl)
        self.utcb_area: int | None = None  # UTCB region base (recorded, not used by the model)
        self.sid = Space._next_id  # a small number for traces
        Space._next_id += 1
        self.name = name or f"space{self.sid}"
        self.alive = True

    def __repr__(self) -> str:
        return f"<Space {self.name} {len(self.pages)} pages>"

    def lookup(self, vaddr: int) -> tuple[int, int] | None:
        """(frame, rights) mapped at ``vaddr``, or None."""
        m = self.pages.get(vaddr >> PAGE_BITS)
        return None if m is None else (m.frame, m.rights)

    def read(self, addr: int, n: int) -> bytes:
        """Copy ``n`` bytes at virtual ``addr``; raises PageFault at the first bad page."""
        if addr < 0 or addr + n > LIMIT:
            raise PageFault(max(addr, 0), R)
        pages = self.pages
        mv = self.ram.mv
        off = addr & OFFSET_MASK
        if off + n <= PAGE_SIZE:  # one page: the common case
            m = pages.get(addr >> PAGE_BITS)
            if m is None or not m.rights & R:
                raise PageFault(addr, R)
            m.status |= R
            p = m.frame << PAGE_BITS | off
            return bytes(mv[p : p + n])
        parts = []  # views of the frames, joined once: one copy per byte
        pos = 0
        while pos < n:
            a = addr + pos
            m = pages.get(a >> PAGE_BITS)
            if m is None or not m.rights & R:
                raise PageFault(a, R)
            m.status |= R
            off = a & OFFSET_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            p = m.frame << PAGE_BITS | off
            parts.append(mv[p : p + chunk])
            pos += chunk
        return b"".join(parts)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` to virtual ``addr``; raises PageFault at the first bad page.

        Pages before the faulting one are already written (a retry rewrites them).
        """
        n = len(data)
        if addr < 0 or addr + n > LIMIT:
            raise PageFault(max(addr, 0), W)
        pages = self.pages
        mv = self.ram.mv
        src = memoryview(data).cast("B")
        pos = 0
        while pos < n:
            a = addr + pos
            m = pages.get(a >> PAGE_BITS)
            if m is None or not m.rights & W:
                raise PageFault(a, W)
            m.status |= W
            off = a & OFFSET_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            p = m.frame << PAGE_BITS | off
            mv[p : p + chunk] = src[pos : pos + chunk]
            pos += chunk
