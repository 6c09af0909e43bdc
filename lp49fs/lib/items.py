"""The MapItem that carries a thread's buffer pages in a call (lp49fs.syscall Rule 1)."""

from __future__ import annotations

from kernel.types import PAGE_SIZE, Fpage, MapItem


def cover(addr: int, n: int, rights: int) -> Fpage:
    """The smallest aligned power-of-two fpage (>= a page) holding ``[addr, addr+n)``."""
    end = addr + max(n, 1)
    size = PAGE_SIZE
    while (addr & ~(size - 1)) + size < end:
        size <<= 1
    return Fpage(addr & ~(size - 1), size.bit_length() - 1, rights)


def mapitem(addr: int, n: int, rights: int) -> MapItem:
    fp = cover(addr, n, rights)
    return MapItem(fp, fp.base)
