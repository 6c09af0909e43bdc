"""The kernel object: thread table, boot, privileged system calls, interrupts as IPC.

Theory of operation: ``open_kernel(machine)`` boots the model: it reserves the last RAM frame
for the KIP, builds sigma0's space (every other frame mapped at va = pa: the roots of the
mapping database), makes one interrupt thread per interrupt line (numbers below SystemBase,
version 1) and the root server's TCB ``root`` (``(UserBase+2).1``) in that privileged space.
User threads are trio tasks in the kernel's nursery; leaving ``open_kernel`` cancels them all.

System calls other than Ipc are methods taking the calling thread first, with X.2 names:
``thread_control``, ``space_control``, ``exchange_registers``, ``schedule``, ``unmap``, and the
model's start message, ``start``.  The root server's own calls may be made from plain code
through ``kernel.root`` (they never block).

Interrupts: hwsim delivers line n to ``_interrupt``; interrupt thread n then "sends" the
interrupt message (label 0xFFF0) to its handler (its pager TCR, set by
``thread_control(irq, irq, NILTHREAD, handler)``).  The line stays in service until the
handler sends to the interrupt thread (a reply): that is the acknowledge, which calls
``eoi`` on the line, so a raise meanwhile arrives as the next message.

Rules:
1. ``threads`` maps thread number -> Thread; an id is valid iff the entry's id equals it.
2. A thread is deleted (ThreadControl with space nil, or its coroutine returning or
   raising): it leaves the table, its IPC partners get NO_PARTNER, its task is cancelled;
   the last thread of a space deletes the space and every mapping derived from it.  Its own
   IPC in progress ends with CANCELED and any later IPC it tries fails at once (``kernel.ipc``
   Rule 6), so code that cannot be cancelled (a shielded ``finally`` making a system call)
   never waits for a reply that a dead thread can no longer get.
3. Privileged calls need the caller in the root server's space, else NO_PRIVILEGE.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from hwsim.machine import Machine
from kernel import interrupt, mapdb
from kernel import ipc as _ipc
from kernel.ipc import INACTIVE, RECEIVING, RUNNING, SENDING
from kernel.kip import MEMDESC_CONVENTIONAL, MEMDESC_RESERVED, KernelInfoPage
from kernel.sched import Sched
from kernel.space import Space
from kernel.thread import Entry, Thread
from kernel.types import (
    ANYTHREAD,
    CANCELED,
    INVALID_PARAM,
    INVALID_SCHEDULER,
    INVALID_SPACE,
    INVALID_THREAD,
    KIP_AREA,
    NILTHREAD,
    NO_PARTNER,
    NO_PRIVILEGE,
    PAGE_BITS,
    PAGE_SIZE,
    RECEIVE_PHASE,
    SEND_PHASE,
    THREADNO_BITS,
    VERSION_BITS,
    Fpage,
    SyscallError,
    ThreadId,
)

log = logging.getLogger(__name__)

KERNEL_THREADS = 16  # numbers between SystemBase and UserBase

# ExchangeRegisters control bits (REFERENCE §5.7)
EX_HALT, EX_ABORT_RECEIVE, EX_ABORT_SEND = 1 << 0, 1 << 1, 1 << 2
EX_SET_SP, EX_SET_IP, EX_SET_FLAGS, EX_SET_HANDLE, EX_SET_PAGER = 8, 16, 32, 64, 128
EX_APPLY_HALT = 1 << 8
# Schedule states
SCHED_ERROR, SCHED_DEAD, SCHED_INACTIVE, SCHED_RUNNING = 0, 1, 2, 3
SCHED_PENDING_SEND, SCHED_SENDING, SCHED_WAITING, SCHED_RECEIVING = 4, 5, 6, 7


@dataclass(frozen=True, slots=True)
class ExRegs:
    """What ExchangeRegisters returns: the old values."""

    id: ThreadId
    control: int  # bit0 halted, bit1 receiving, bit2 sending
    sp: int
    ip: int
    flags: int
    user_handle: int
    pager: ThreadId


class Kernel:
    """One node's microkernel."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.ram = machine.ram
        self.system_base = machine.irqc.nlines
        self.user_base = self.system_base + KERNEL_THREADS
        self.threads: dict[int, Thread] = {}  # thread number -> TCB (rule 1)
        self.sched = Sched()  # ready counts by priority (kernel.sched)
        self.nursery: trio.Nursery | None = None  # where thread tasks run
        self.exit_hooks: list[Callable[[ThreadId], None]] = []  # told of every deletion
        kip_frame = self.ram.nframes - 1
        self.kip = KernelInfoPage(
            api_version=0x84, api_flags=0, kernel_id="lp49fs L4 model", thread_bits=32,
            system_base=self.system_base, user_base=self.user_base,
            page_size_mask=PAGE_SIZE, page_rights=7, processors=1, clock_resolution_us=1,
            memory=((0, kip_frame * PAGE_SIZE, MEMDESC_CONVENTIONAL),
                    (kip_frame * PAGE_SIZE, PAGE_SIZE, MEMDESC_RESERVED)),
            kip_frame=kip_frame,
        )  # fmt: skip
        self.ram.frame(kip_frame)[:] = self.kip.to_bytes()
        self.sigma0_space = Space(self.ram, "sigma0")  # va = pa, privileged
        for f in range(kip_frame):
            mapdb.add_root(self.sigma0_space, f, f, 7)
        self.sigma0_space.nthreads = 1  # never freed
        self.irq_threads = []
        for n in range(self.system_base):
            t = Thread(self, ThreadId.make(n, 1), None, irq=n)
            t.state = RUNNING
            self.threads[n] = t
            self.irq_threads.append(t)
        self.root = Thread(self, ThreadId.make(self.user_base + 2, 1), self.sigma0_space)
        self.root.state = RUNNING
        self.threads[self.root.id.number] = self.root
        machine.irqc.connect(self._interrupt)

    # -- lookup --
    def thread(self, tid: ThreadId) -> Thread | None:
        """The live thread ``tid`` (number and version must match), or None."""
        t = self.threads.get(tid >> VERSION_BITS)
        return t if t is not None and t.id == tid else None

    def _check_privileged(self, caller: Thread) -> None:
        if caller.space is not self.sigma0_space:
            raise SyscallError(NO_PRIVILEGE)

    # -- ThreadControl --
    def thread_control(
        self, caller: Thread, dest: ThreadId, space: ThreadId, scheduler: ThreadId,
        pager: ThreadId,
    ) -> None:
        """brief: create, modify or delete a thread (X.2 ThreadControl, privileged).

        Args: ``space`` NILTHREAD deletes ``dest``; ``space == dest`` creates it in a new
        address space; another id creates it in that thread's space.  ``pager`` not nil sets
        the pager.  For an interrupt thread, ``pager`` is the handler (``dest`` itself
        detaches).  A new thread is inactive until ``start``.
        Raises: SyscallError NO_PRIVILEGE, INVALID_THREAD, INVALID_SPACE, INVALID_SCHEDULER.
        """
        self._check_privileged(caller)
        if dest in (NILTHREAD, ANYTHREAD) or dest >> VERSION_BITS >= 1 << THREADNO_BITS:
            raise SyscallError(INVALID_THREAD)
        number = dest >> VERSION_BITS
        if number < self.system_base:
            self._associate(dest, pager)
            return
        if number < self.user_base or dest & 0x3F == 0:
            raise SyscallError(INVALID_THREAD)
        existing = self.threads.get(number)
        if space == NILTHREAD:
            if existing is None or existing.id != dest or existing is self.root:
                raise SyscallError(INVALID_THREAD)
            self.delete(existing)
            return
        if existing is not None:
            if existing.id != dest:
                raise SyscallError(INVALID_THREAD)
            if space != dest and (self.thread(space) is None or
                                  self.thread(space).space is not existing.space):  # type: ignore[union-attr]
                raise SyscallError(INVALID_SPACE)
            if pager != NILTHREAD:
                existing.pager = pager
            if scheduler != NILTHREAD:
                existing.scheduler = scheduler
            return
        if scheduler == NILTHREAD:
            raise SyscallError(INVALID_SCHEDULER)
        if space == dest:
            sp = Space(self.ram, f"space-of-{dest!r}")
        else:
            other = self.thread(space)
            if other is None or other.space is None:
                raise SyscallError(INVALID_SPACE)
            sp = other.space
        t = Thread(self, dest, sp)
        t.scheduler = scheduler
        t.pager = pager
        sp.nthreads += 1
        self.threads[number] = t

    def start(self, caller: Thread, tid: ThreadId, entry: Entry) -> None:
        """brief: the start message (X.2: pager sends IP/SP): run ``entry(thread)`` as a task.

        Raises: SyscallError INVALID_THREAD unless ``tid`` is an inactive thread.
        """
        self._check_privileged(caller)
        t = self.thread(tid)
        if t is None or t.state is not INACTIVE or t.irq is not None:
            raise SyscallError(INVALID_THREAD)
        if self.nursery is None:
            raise RuntimeError("kernel not running: use open_kernel()")
        t.state = RUNNING
        t.cancel_scope = trio.CancelScope()
        self.nursery.start_soon(self._run, t, entry, name=f"l4-{tid!r}")

    async def _run(self, t: Thread, entry: Entry) -> None:
        t.task = trio.lowlevel.current_task()
        try:
            assert t.cancel_scope is not None
            with t.cancel_scope:
                await entry(t)
        except* Exception:  # a group mixing errors with an outer scope's Cancelled too
            log.exception("thread %r died", t.id)
        finally:
            if t.alive:
                self.delete(t)

    def delete(self, t: Thread) -> None:
        """Delete thread ``t`` (rule 2)."""
        if not t.alive:
            return
        t.alive = False
        if self.threads.get(t.id.number) is t:
            del self.threads[t.id.number]
        if t.cancel_scope is not None:
            t.cancel_scope.cancel()  # a parked, unshielded task is aborted right here
        if t.parked:  # still parked: shielded; its own IPC ends with CANCELED
            _ipc.wake_error(t, CANCELED, SEND_PHASE if t.state is SENDING else RECEIVE_PHASE)
        elif t.state is SENDING:
            _ipc.unlink(t)
        t.state = _ipc.DEAD
        for s in list(t.sendq):
            if s.irq is not None:
                t.sendq.remove(s)
                s.state = RUNNING  # its line stays in service until a new handler acks
            else:
                _ipc.wake_error(s, NO_PARTNER, SEND_PHASE)
        for other in list(self.threads.values()):
            if other.state is RECEIVING and other.wait_from == t.id:
                _ipc.wake_error(other, NO_PARTNER, RECEIVE_PHASE)
        sp = t.space
        if sp is not None:
            sp.nthreads -= 1
            if sp.nthreads <= 0 and sp is not self.sigma0_space:
                mapdb.flush_space(sp)
                sp.alive = False
        if self.sched.deferred:
            self.sched.release()
        for hook in list(self.exit_hooks):
            hook(t.id)

    # -- SpaceControl --
    def space_control(self, caller: Thread, space: ThreadId, kip_area: Fpage,
                      utcb_area: Fpage | None = None) -> None:
        """brief: place the KIP (read-only) and UTCB area of ``space``'s address space.

        Raises: SyscallError NO_PRIVILEGE, INVALID_SPACE, KIP_AREA (not a valid page-sized
        fpage or it overlaps a mapping).
        """
        self._check_privileged(caller)
        t = self.thread(space)
        if t is None or t.space is None or t.space is self.sigma0_space:
            raise SyscallError(INVALID_SPACE)
        sp = t.space
        if not kip_area.valid or kip_area.log2size != PAGE_BITS:
            raise SyscallError(KIP_AREA)
        vpn = kip_area.base >> PAGE_BITS
        if vpn in sp.pages and sp.kip_area != kip_area.base:
            raise SyscallError(KIP_AREA)
        if sp.kip_area is not None:
            old = sp.pages.get(sp.kip_area >> PAGE_BITS)
            if old is not None:
                mapdb.remove_subtree(old)
        mapdb.add_root(sp, vpn, self.kip.kip_frame, 4)
        sp.kip_area = kip_area.base
        if utcb_area is not None:
            sp.utcb_area = utcb_area.base

    # -- ExchangeRegisters --
    def exchange_registers(
        self, caller: Thread, dest: ThreadId, control: int, sp: int = 0, ip: int = 0,
        flags: int = 0, user_handle: int = 0, pager: ThreadId = NILTHREAD,
    ) -> ExRegs:
        """brief: read and set ``dest``'s registers; abort its IPC (X.2 ExchangeRegisters).

        ``dest`` must be in the caller's space (or the caller privileged).  Aborting an IPC
        ends it with IpcError(CANCELED) in that phase.  Halt is recorded, not enforced.
        Raises: SyscallError INVALID_THREAD.
        """
        t = self.thread(dest)
        if t is None or t.irq is not None or (
            t.space is not caller.space and caller.space is not self.sigma0_space
        ):
            raise SyscallError(INVALID_THREAD)
        old = ExRegs(t.id, int(t.halted) | (t.state is RECEIVING) << 1 | (t.state is SENDING) << 2,
                     t.sp, t.ip, t.flags, t.user_handle, t.pager)
        if control & EX_ABORT_RECEIVE and t.state is RECEIVING:
            _ipc.wake_error(t, 3, RECEIVE_PHASE)
        if control & EX_ABORT_SEND and t.state is SENDING:
            _ipc.wake_error(t, 3, SEND_PHASE)
        if control & EX_SET_SP:
            t.sp = sp
        if control & EX_SET_IP:
            t.ip = ip
        if control & EX_SET_FLAGS:
            t.flags = flags
        if control & EX_SET_HANDLE:
            t.user_handle = user_handle
        if control & EX_SET_PAGER:
            t.pager = pager
        if control & EX_APPLY_HALT:
            t.halted = bool(control & EX_HALT)
        return old

    # -- Schedule --
    def schedule(self, caller: Thread, dest: ThreadId, priority: int = -1) -> int:
        """brief: set ``dest``'s priority (0..255; -1 unchanged); returns its thread state.

        The caller must be ``dest``'s scheduler or privileged.  The priority decides which
        woken thread runs first (``kernel.sched``).  Returns SCHED_ERROR on refusal.
        """
        t = self.thread(dest)
        if t is None or t.irq is not None:
            return SCHED_ERROR
        if caller.id != t.scheduler and caller.space is not self.sigma0_space:
            return SCHED_ERROR
        if priority > 255:
            return SCHED_ERROR
        if priority >= 0:
            t.priority = priority
        if t.state is INACTIVE:
            return SCHED_INACTIVE
        if t.state is SENDING:
            return SCHED_PENDING_SEND
        if t.state is RECEIVING:
            return SCHED_WAITING
        return SCHED_RUNNING

    # -- Unmap --
    def unmap(self, caller: Thread, fpages: list[Fpage], flush: bool) -> list[Fpage]:
        """brief: X.2 Unmap: revoke rights derived from the caller's mappings (kernel.mapdb).

        Raises: SyscallError INVALID_PARAM for an invalid fpage (nothing is changed then).
        """
        if caller.space is None or any(not f.valid for f in fpages):
            raise SyscallError(INVALID_PARAM)
        return [mapdb.unmap(caller.space, f, flush) for f in fpages]

    # -- interrupts (kernel.interrupt) --
    def _associate(self, irq_tid: ThreadId, handler: ThreadId) -> None:
        interrupt.associate(self, irq_tid, handler)

    def _interrupt(self, line: int) -> None:
        interrupt.deliver(self, line)

    def acknowledge(self, caller: Thread, irqt: Thread) -> None:
        """The handler's send to interrupt thread ``irqt``: end of interrupt on its line."""
        interrupt.acknowledge(self, caller, irqt)


@asynccontextmanager
async def open_kernel(machine: Machine) -> AsyncIterator[Kernel]:
    """Boot a kernel on ``machine``; threads run until the block ends (then are cancelled)."""
    kernel = Kernel(machine)
    async with trio.open_nursery() as nursery:
        kernel.nursery = nursery
        try:
            yield kernel
        finally:
            nursery.cancel_scope.cancel()
