"""Physical memory ownership: the sigma0 role of HVM.

HVM owns all RAM (the kernel maps it into HVM's space at va = pa).  ``FrameTable`` records
which owner (a small integer, usually a space id) holds each frame and hands out free ones.

Rules:
1. A frame has at most one owner; ``claim`` of a frame owned by someone else is refused
   (returns False), as sigma0 refuses a page already given to another thread.
2. Frames the kernel reserved (the KIP) are never handed out.
3. ``release_owner`` frees everything an owner held (process exit).
4. ``promise(n)`` sets ``n`` free frames aside for a retained region (``retain.py``): an
   ordinary ``alloc`` leaves that many free, and an ``alloc(promised=True)`` takes one of them.
"""

from __future__ import annotations


class FrameTable:
    """Owner per frame, with a free list."""

    def __init__(self, nframes: int, reserved: set[int]) -> None:
        self.owner: dict[int, int] = {f: -1 for f in reserved}  # frame -> owner (-1 kernel)
        self.free = [f for f in range(nframes - 1, -1, -1) if f not in reserved]  # pop() = low
        self.by_owner: dict[int, set[int]] = {}  # owner -> frames
        self.promised = 0  # free frames set aside for retained regions (Rule 4)

    def promise(self, n: int) -> bool:
        """Rule 4: set ``n`` free frames aside; False (nothing set aside) if there are not."""
        if self.nfree - self.promised < n:
            return False
        self.promised += n
        return True

    def unpromise(self, n: int) -> None:
        self.promised -= n

    def alloc(self, owner: int, promised: bool = False) -> int | None:
        """A free frame now owned by ``owner``, or None when memory is exhausted (Rule 4)."""
        if promised:
            self.promised -= 1
        elif len(self.free) <= self.promised:
            return None
        while self.free:
            f = self.free.pop()
            if f not in self.owner:
                self._own(f, owner)
                return f
        return None

    def claim(self, frame: int, owner: int) -> bool:
        """Give ``frame`` to ``owner``; False if another owner (or the kernel) holds it."""
        held = self.owner.get(frame)
        if held is not None:
            return held == owner
        self._own(frame, owner)
        return True

    def release(self, frame: int) -> None:
        """Return ``frame`` to the free pool."""
        owner = self.owner.pop(frame, None)
        if owner is None or owner == -1:
            if owner == -1:
                self.owner[frame] = -1
            return
        self.by_owner[owner].discard(frame)
        self.free.append(frame)

    def release_owner(self, owner: int) -> int:
        """Free every frame of ``owner``; returns how many."""
        frames = self.by_owner.pop(owner, set())
        for f in frames:
            del self.owner[f]
            self.free.append(f)
        return len(frames)

    def _own(self, frame: int, owner: int) -> None:
        self.owner[frame] = owner
        self.by_owner.setdefault(owner, set()).add(frame)

    @property
    def nfree(self) -> int:
        return sum(1 for f in self.free if f not in self.owner)
