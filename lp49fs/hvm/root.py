"""HVM, the root task: physical memory, the Pager, spaces and threads for the core and processes.

Theory of operation: HVM runs in sigma0's privileged space (all RAM at va = pa), so it can
hand out any frame with a MapItem from its own space, and it may call ThreadControl.
``Hvm.start()`` creates its Pager thread.  A process is an address space plus threads running
coroutines; ``create_space(entry)`` makes the space with its first thread,
``create_thread(space, entry)`` adds one, ``delete_thread``/``delete_space`` end them (a space
dies with its last thread, and HVM then frees its frames).

The Pager serves the page-fault protocol: for a fault at ``addr`` in user range it allocates a
zeroed frame owned by the faulting space and replies with a MapItem of that frame (snd_base =
the page), so anonymous memory appears on first touch.  A fault it cannot serve (the KIP
page, outside user range, out of memory) kills the faulting thread, as Plan 9 would post
"sys: trap: fault".  A process may have its own pager instead (pass ``pager=``): that pager
gets frames from ``alloc_frame``/``map_frame`` and decides itself.

Rules:
1. Thread numbers are allocated upward from UserBase+3 and never reused in one run (a stale
   id can never name a new thread).
2. Every frame HVM hands to a space is owned by that space (its ``sid``) in ``frames`` until
   the space dies; then all of them go back to the free pool at once (the kernel's exit hook
   tells HVM of each deleted thread; ``nthreads`` counts the live threads HVM made in each
   space, and the space is dead when its count reaches zero).
3. A frame handed out is zeroed first: a process never sees another one's old data.
4. Retained regions (``retain.py``): a fault inside a segment a space attached with
   ``segattach`` is served with the region's frame for that page, which outlives the space.
5. The page cache (``pagecache.py``): pages of files of mounted 9P servers, which ``#M`` asks
   before a Tread (``Core.pagecache``), kept while the file's qid.vers holds; ``pagecache``
   False turns it off, ``cachepages`` bounds it.
"""

from __future__ import annotations

import logging

from kernel import mapdb
from kernel.kernel import Kernel
from kernel.kip import KernelInfoPage
from kernel.thread import Entry, Thread
from kernel.types import (
    LABEL_PAGEFAULT,
    NILTHREAD,
    PAGE_BITS,
    PAGE_SIZE,
    RWX,
    Fpage,
    IpcError,
    MapItem,
    Msg,
    ThreadId,
)
from lp49fs.hvm.frames import FrameTable
from lp49fs.hvm.pagecache import MAXPAGES, PageCache
from lp49fs.hvm.retain import Retained

log = logging.getLogger(__name__)

USER_LIMIT = 0xC000_0000  # user addresses are below this
KIP_AREA = 0xBFFF_F000  # where each space sees the KIP (read-only)


class Hvm:
    """The root task of a node."""

    def __init__(self, kernel: Kernel, *, pagecache: bool = True,
                 cachepages: int = MAXPAGES) -> None:  # fmt: skip
        self.kernel = kernel
        self.root: Thread = kernel.root  # HVM's own TCB, the caller of privileged calls
        self.frames = FrameTable(kernel.ram.nframes, {kernel.kip.kip_frame})
        self._next = kernel.user_base + 3  # rule 1
        self.pager = NILTHREAD  # the Pager thread, once started
        self.faults_served = 0
        kernel.exit_hooks.append(self._thread_exited)
        self._space_of: dict[ThreadId, int] = {}  # live thread HVM made -> its space's sid
        self.nthreads: dict[int, int] = {}  # sid -> live threads in it (rule 2)
        self.retained = Retained(self.frames, kernel.ram)  # rule 4
        self.pagecache = PageCache(cachepages, pagecache)  # rule 5

    @property
    def kip(self) -> KernelInfoPage:
        return self.kernel.kip

    def _new_id(self) -> ThreadId:
        tid = ThreadId.make(self._next, 1)
        self._next += 1
        return tid

    def start(self) -> None:
        """Create and start the Pager thread (in HVM's space)."""
        self.pager = self._new_id()
        self.kernel.thread_control(self.root, self.pager, self.root.id, self.root.id, NILTHREAD)
        self.kernel.start(self.root, self.pager, self._pager_loop)

    # -- spaces and threads --
    def create_space(self, entry: Entry | None, pager: ThreadId | None = None,
                     name: str = "") -> ThreadId:
        """A new address space with one thread running ``entry`` (None: leave it inactive).

        ``pager`` defaults to HVM's Pager.  The KIP is mapped read-only at KIP_AREA.
        """
        tid = self._new_id()
        self.kernel.thread_control(self.root, tid, tid, self.root.id,
                                   self.pager if pager is None else pager)
        t = self.kernel.thread(tid)
        assert t is not None and t.space is not None
        if name:
            t.space.name = name
        self._count(tid, t.space.sid)
        self.kernel.space_control(self.root, tid, Fpage(KIP_AREA, PAGE_BITS))
        if entry is not None:
            self.kernel.start(self.root, tid, entry)
        return tid

    def create_thread(self, space: ThreadId, entry: Entry | None,
                      pager: ThreadId | None = None) -> ThreadId:
        """A new thread in the space of thread ``space``, running ``entry``."""
        tid = self._new_id()
        self.kernel.thread_control(self.root, tid, space, self.root.id,
                                   self.pager if pager is None else pager)
        t = self.kernel.thread(tid)
        assert t is not None and t.space is not None
        self._count(tid, t.space.sid)
        if entry is not None:
            self.kernel.start(self.root, tid, entry)
        return tid

    def start_thread(self, tid: ThreadId, entry: Entry) -> None:
        """Start an inactive thread made with ``entry=None``."""
        self.kernel.start(self.root, tid, entry)

    def set_priority(self, tid: ThreadId, priority: int) -> None:
        """X.2 Schedule: thread ``tid`` runs at L4 ``priority`` (kernel.sched)."""
        self.kernel.schedule(self.root, tid, priority)

    def delete_thread(self, tid: ThreadId) -> None:
        """End thread ``tid`` (its space dies with its last thread); no-op if already gone."""
        if self.kernel.thread(tid) is not None:
            self.kernel.thread_control(self.root, tid, NILTHREAD, NILTHREAD, NILTHREAD)

    def space_threads(self, tid: ThreadId) -> int:
        """How many live threads the space of thread ``tid`` has (0: gone or not HVM's)."""
        sid = self._space_of.get(tid)
        return 0 if sid is None else self.nthreads.get(sid, 0)

    def space_kb(self, tid: ThreadId) -> int:
        """KiB of the frames the space of thread ``tid`` holds (0: gone or not HVM's)."""
        sid = self._space_of.get(tid)
        return 0 if sid is None else len(self.frames.by_owner.get(sid, ())) * PAGE_SIZE // 1024

    @property
    def nspaces(self) -> int:
        """Live address spaces HVM created."""
        return len(self.nthreads)

    def delete_space(self, tid: ThreadId) -> None:
        """End every thread in the space of ``tid`` (process exit)."""
        t = self.kernel.thread(tid)
        if t is None:
            return
        for other in [x for x in self.kernel.threads.values() if x.space is t.space]:
            self.delete_thread(other.id)

    # -- memory --
    def alloc_frame(self, owner: int) -> int | None:
        """A zeroed free frame for ``owner`` (a space id), or None."""
        f = self.frames.alloc(owner)
        if f is not None:
            self.kernel.ram.zero_frame(f)
        return f

    def map_frame(self, tid: ThreadId, vaddr: int, frame: int, rights: int = RWX) -> None:
        """Map ``frame`` at ``vaddr`` of ``tid``'s space directly (boot-time loading)."""
        t = self.kernel.thread(tid)
        assert t is not None and t.space is not None
        mapdb.map_fpage(self.kernel.sigma0_space, Fpage(frame << PAGE_BITS, PAGE_BITS, rights),
                        vaddr, t.space, Fpage(0, 32), False)

    # -- retained regions (rule 4) --
    def segattach(self, tid: ThreadId, name: str, npages: int, pct: int = 0) -> tuple[int, int]:
        """Place retained region ``name`` in ``tid``'s space (``retain.Retained.attach``);
        its (base, npages)."""
        t = self.kernel.thread(tid)
        assert t is not None and t.space is not None
        s = self.retained.attach(t.space.sid, name, npages, pct)
        return s.base, s.region.npages

    def segments(self, tid: ThreadId) -> list[tuple[str, int, int, int]]:
        """(name, base, top, pages touched) of each retained segment of ``tid``'s space."""
        t = self.kernel.thread(tid)
        segs = [] if t is None or t.space is None else self.retained.segments(t.space.sid)
        return [(s.region.name, s.base, s.top, len(s.region.frames)) for s in segs]

    def segfree(self, name: str) -> bool:
        """Free retained region ``name`` for good (its server was removed)."""
        return self.retained.free(name)

    # -- the Pager --
    async def _pager_loop(self, t: Thread) -> None:
        sender, m = await t.wait()
        while True:
            reply = self._serve_fault(sender, m)
            if reply is None:
                sender, m = await t.wait()
                continue
            try:
                sender, m = await t.reply_wait(sender, reply)
            except IpcError as e:
                log.warning("pager: reply to %r failed: %s", sender, e)
                sender, m = await t.wait()

    def _serve_fault(self, sender: ThreadId, m: Msg) -> Msg | None:
        if m.label & 0xFFF0 != LABEL_PAGEFAULT or len(m.words) != 2:
            log.warning("pager: unexpected message %r from %r", m, sender)
            return None
        addr = m.words[0]
        faulter = self.kernel.thread(sender)
        if faulter is None or faulter.space is None:
            return None
        frame = self.retained.fault(faulter.space.sid, addr)
        if frame is None and addr < USER_LIMIT and addr >> PAGE_BITS != KIP_AREA >> PAGE_BITS:
            frame = self.alloc_frame(faulter.space.sid)
        if frame is None:
            log.info("%r: sys: trap: fault %s addr=%#x", sender,
                     "write" if m.label & 2 else "read", addr)
            self.delete_thread(sender)
            return None
        self.faults_served += 1
        page = addr & ~(PAGE_SIZE - 1)
        return Msg(0, (), (MapItem(Fpage(frame << PAGE_BITS, PAGE_BITS, RWX), page),))

    def _count(self, tid: ThreadId, sid: int) -> None:
        self._space_of[tid] = sid
        self.nthreads[sid] = self.nthreads.get(sid, 0) + 1

    def _thread_exited(self, tid: ThreadId) -> None:
        """Kernel exit hook (rule 2): the last thread of a space returns its frames."""
        sid = self._space_of.pop(tid, None)
        if sid is None:
            return
        left = self.nthreads[sid] - 1
        if left:
            self.nthreads[sid] = left
        else:
            del self.nthreads[sid]
            self.frames.release_owner(sid)
            self.retained.detach_space(sid)
