"""A minimal root task for booting a node: frames, the Pager thread, spaces and threads.

This is the HVM role (DESIGN.md §4) reduced to what the process manager needs, used by
``lp49fs.node.boot`` while ``lp49fs.hvm`` is not there; it implements the ``Hvm`` protocol of
``lp49fs.core.procmgr`` (``new_space``, ``new_thread``, ``delete_thread``).

Theory of operation: the root task runs in sigma0's privileged space, where virtual address
= physical address, so mapping frame f to someone is a MapItem of the page at f * PAGE_SIZE.
It hands out thread numbers from ``UserBase + 3`` up.  Every thread it creates has the
``pager`` thread as its pager; the pager answers each page fault with a fresh zeroed frame
mapped RWX at the faulting page, and remembers which space owns which frames.  When the
kernel deletes the last thread of a space (exit hook), the space's frames go back on the
free list.

Rules:
1. A frame belongs to at most one space at a time (sigma0's rule).
2. A fault the pager cannot serve (no free frame) gets a nil reply: the faulter faults
   again, so running out of memory shows as a hang of that thread, not of the node; it is
   logged.
"""

from __future__ import annotations

import logging

from kernel.kernel import Kernel
from kernel.space import Space
from kernel.thread import Entry, Thread
from kernel.types import LABEL_PAGEFAULT, PAGE_BITS, RWX, Fpage, MapItem, Msg, ThreadId

log = logging.getLogger(__name__)


class RootTask:
    """Frame owner, pager and thread factory of one node."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.root = kernel.root
        kip = kernel.kip.kip_frame
        self.free: list[int] = [f for f in range(kernel.ram.nframes - 1, 0, -1) if f != kip]
        self.owned: dict[Space, list[int]] = {}  # frames handed to each space
        self.spaces: dict[ThreadId, Space] = {}  # threads we made -> their space
        self._next = kernel.user_base + 3
        kernel.exit_hooks.append(self._thread_gone)
        self.pager = self._tid()
        kernel.thread_control(self.root, self.pager, self.root.id, self.root.id, self.root.id)
        kernel.start(self.root, self.pager, self._pager)

    def _tid(self) -> ThreadId:
        n = self._next
        self._next += 1
        return ThreadId.make(n, 1)

    # -- the Hvm protocol --
    def new_space(self, entry: Entry, name: str) -> ThreadId:
        """A new address space with one thread running ``entry`` (started)."""
        tid = self._tid()
        k = self.kernel
        k.thread_control(self.root, tid, tid, self.root.id, self.pager)
        t = k.thread(tid)
        assert t is not None and t.space is not None
        t.space.name = name
        self.spaces[tid] = t.space
        k.start(self.root, tid, entry)
        return tid

    def new_thread(self, space_of: ThreadId, entry: Entry) -> ThreadId:
        """A new thread in the space of ``space_of`` running ``entry`` (started)."""
        tid = self._tid()
        k = self.kernel
        k.thread_control(self.root, tid, space_of, self.root.id, self.pager)
        t = k.thread(tid)
        assert t is not None and t.space is not None
        self.spaces[tid] = t.space
        k.start(self.root, tid, entry)
        return tid

    def delete_thread(self, tid: ThreadId) -> None:
        """Delete ``tid`` (the space goes with its last thread)."""
        if self.kernel.thread(tid) is not None:
            self.kernel.thread_control(self.root, tid, ThreadId(0), ThreadId(0), ThreadId(0))

    # -- memory --
    def _thread_gone(self, tid: ThreadId) -> None:
        sp = self.spaces.pop(tid, None)
        if sp is not None and not sp.alive:
            self.free.extend(self.owned.pop(sp, []))

    async def _pager(self, thread: Thread) -> None:
        """Serve page faults forever (Rule 2)."""
        ram = self.kernel.ram
        while True:
            sender, msg = await thread.wait()
            if msg.label & 0xFFF0 != LABEL_PAGEFAULT:
                continue
            t = self.kernel.thread(sender)
            if t is None or t.space is None or not self.free:
                log.warning("pager: cannot serve fault of %r at %#x", sender, msg.words[0])
                reply = Msg()
            else:
                frame = self.free.pop()
                ram.zero_frame(frame)
                self.owned.setdefault(t.space, []).append(frame)
                page = msg.words[0] >> PAGE_BITS << PAGE_BITS
                reply = Msg(0, (), (MapItem(Fpage(frame << PAGE_BITS, PAGE_BITS, RWX), page),))
            try:
                await thread.reply(sender, reply)
            except Exception:
                log.debug("pager: faulter %r gone", sender)
