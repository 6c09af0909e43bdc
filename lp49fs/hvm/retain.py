"""Retained regions: named memory that HVM keeps when the process using it dies.

LP49's paper names the means of restarting a server with its state: a *retained memory
region*, kept by the Pager after the process that wrote it is gone, from which a restarted
server rolls back to a consistent state.  Here a region is a name, a size in pages and the
RAM frames its pages have been given so far.

Theory of operation.  ``segattach(space, name, npages)`` (the core's ``segattach`` system
call, Plan 9's segattach(2) with class ``retained``) finds or makes region ``name`` and
places it in the caller's space at the next free address of ``[SEGBASE, SEGLIMIT)``.
Nothing is mapped yet: a touch of a page in the segment is a page fault like any other, and
the Pager (``Hvm._serve_fault``) asks ``fault(sid, addr)``: the region's frame for that page,
taken from the free pool the first time (zeroed) and owned by the *region*, not the space.
So when the space dies (``detach_space``) its mappings go with it but the frames stay; the
next process that attaches the name sees the same bytes.

Rules:
1. A region's frames are owned by its own owner number (negative, below the kernel's -1), so
   ``FrameTable.release_owner(sid)`` at a space's death never frees them.
2. Making a region promises its pages: ``FrameTable.promise`` sets them aside at once, and a
   region is refused (``no free memory``) when the RAM cannot hold it all.  A region's page
   fault therefore never fails for want of memory, and no other space can take its frames.
3. A second attach of a region gives the same size or fails (``segment size mismatch``);
   attaching it again with npages 0 takes its size.  A region may be asked for as ``pct``
   percent of the free memory when it is made (a server that should scale with the node).
4. ``free(name)`` gives the frames and the promise back; a region attached by a live space
   is refused (``segment in use``).

A region lives in the node's RAM, so it survives its processes, not the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwsim.ram import PAGE_BITS, Ram
from lp49fs.errors import Enomem, Error, Esegbusy, Esegsize
from lp49fs.hvm.frames import FrameTable

SEGBASE = 0x8000_0000  # retained segments are placed from here ...
SEGLIMIT = 0xB000_0000  # ... up to here (below the KIP and the user limit)


@dataclass(eq=False)
class Region:
    """One retained region."""

    name: str
    owner: int  # FrameTable owner of its frames (Rule 1)
    npages: int  # its size in pages
    frames: dict[int, int] = field(default_factory=dict)  # page index -> frame
    spaces: dict[int, int] = field(default_factory=dict)  # sid -> base where it is attached


@dataclass(frozen=True)
class Seg:
    """A region as one space sees it."""

    base: int
    region: Region

    @property
    def top(self) -> int:
        return self.base + (self.region.npages << PAGE_BITS)


class Retained:
    """The retained regions of a node and where each space has them (module docstring)."""

    def __init__(self, frames: FrameTable, ram: Ram) -> None:
        self.frames = frames
        self.ram = ram
        self.regions: dict[str, Region] = {}
        self.segs: dict[int, list[Seg]] = {}  # sid -> its segments
        self._owner = -2

    def attach(self, sid: int, name: str, npages: int, pct: int = 0) -> Seg:
        """Rules 2, 3: region ``name`` placed in space ``sid``; returns the segment."""
        r = self.regions.get(name)
        if r is None and 0 < pct <= 100:
            npages = (self.frames.nfree - self.frames.promised) * pct // 100
        if r is None:
            if npages <= 0 or not self.frames.promise(npages):
                raise Error(Enomem)
            r = self.regions[name] = Region(name, self._owner, npages)
            self._owner -= 1
        elif npages not in (0, r.npages) and not pct:
            raise Error(Esegsize)
        segs = self.segs.setdefault(sid, [])
        for s in segs:
            if s.region is r:
                return s
        base = max([s.top for s in segs], default=SEGBASE)
        if base + (r.npages << PAGE_BITS) > SEGLIMIT:
            raise Error(Enomem)
        s = Seg(base, r)
        segs.append(s)
        r.spaces[sid] = base
        return s

    def fault(self, sid: int, addr: int) -> int | None:
        """The frame for ``addr`` if it lies in one of ``sid``'s segments (Rule 2), else None."""
        for s in self.segs.get(sid, ()):
            if s.base <= addr < s.top:
                r = s.region
                i = (addr - s.base) >> PAGE_BITS
                f = r.frames.get(i)
                if f is None:
                    f = self.frames.alloc(r.owner, promised=True)
                    assert f is not None  # promised at attach
                    self.ram.zero_frame(f)
                    r.frames[i] = f
                return f
        return None

    def detach_space(self, sid: int) -> None:
        """The space died: its segments go, the regions stay (Rule 1)."""
        for s in self.segs.pop(sid, ()):
            s.region.spaces.pop(sid, None)

    def free(self, name: str) -> bool:
        """Rule 4: drop region ``name`` and its frames; False if there was none."""
        r = self.regions.get(name)
        if r is None:
            return False
        if r.spaces:
            raise Error(Esegbusy)
        del self.regions[name]
        self.frames.release_owner(r.owner)
        self.frames.unpromise(r.npages - len(r.frames))
        return True

    def segments(self, sid: int) -> list[Seg]:
        return list(self.segs.get(sid, ()))
