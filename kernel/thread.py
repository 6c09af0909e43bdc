"""Threads: the thread control block (TCB + UTCB in one object) and the IPC verbs on it.

Theory of operation: an L4 thread is a trio task running a Python coroutine ``entry(thread)``;
the ``Thread`` object it receives is its UTCB and its system-call gate at once: message
registers travel as a ``Msg``, the buffer registers are ``acceptor`` (receive window and string
buffer), and the TCRs are attributes (``id`` = MyGlobalId, ``pager``, ``user_handle``,
``error_code`` ...).  Other threads are always named by ``ThreadId``, never by object.

Verbs (libl4 names; all wrappers of ``kernel.ipc.ipc``): ``send``, ``receive``, ``wait``,
``call``, ``reply``, ``reply_wait``, ``sleep``.  Memory: ``load``/``store`` go through the
thread's space; a missing page becomes the page-fault IPC to ``pager`` (label 0xFFE0 | rwx,
MR1 address, MR2 ip, receive window = whole space) and the access is retried after the reply.

Rules:
1. One task at a time drives a thread: its own task, or a task that borrowed the idle thread
   (``lp49fs.lib`` lends a process's spare threads to its other tasks).  An IPC parks and
   reschedules the task that runs it: ``task`` is set at the start of every IPC.  Privileged
   calls (``thread_control`` ...) go through the kernel with the calling thread first.
2. An IpcError leaves ``error_code`` set to the X.2 ErrorCode word, as the TCR would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from kernel import ipc as _ipc
from kernel.ipc import INACTIVE, Timeout
from kernel.sched import DEFAULT_PRIORITY
from kernel.space import PageFault, Space
from kernel.types import (
    ANYTHREAD,
    COMPLETE,
    LABEL_PAGEFAULT,
    NILTHREAD,
    NO_PARTNER,
    TIMEOUT,
    Acceptor,
    Fpage,
    IpcError,
    Msg,
    ThreadId,
)

if TYPE_CHECKING:
    from kernel.kernel import Kernel

Entry = Callable[["Thread"], Awaitable[Any]]


class Thread:
    """One L4 thread (or, with ``irq`` set, an interrupt thread that never runs)."""

    __slots__ = (
        "abort_fn",
        "acceptor",
        "alive",
        "cancel_scope",
        "cut",
        "error",
        "error_code",
        "faults",
        "flags",
        "halted",
        "id",
        "ip",
        "irq",
        "kernel",
        "name",
        "pager",
        "parked",
        "priority",
        "rcv_from",
        "rcv_msg",
        "rmark",
        "scheduler",
        "send_to",
        "sendq",
        "smark",
        "snd_as",
        "snd_msg",
        "sp",
        "space",
        "state",
        "task",
        "then_from",
        "user_handle",
        "wait_from",
        "woken",
    )

    def __init__(
        self, kernel: Kernel, tid: ThreadId, space: Space | None, irq: int | None = None
    ) -> None:
        self.kernel = kernel  # the kernel this thread lives in
        self.id = tid  # MyGlobalId
        self.space = space  # address space (None for interrupt threads)
        self.irq = irq  # interrupt line, for interrupt threads only
        self.alive = True  # False once deleted
        self.state = INACTIVE  # see kernel.ipc rule 1
        self.pager = NILTHREAD  # Pager TCR (for interrupt threads: the handler)
        self.scheduler = NILTHREAD  # may call Schedule on this thread
        self.priority = DEFAULT_PRIORITY  # Schedule priority 0..255 (kernel.sched)
        self.woken = -1  # the priority it is counted ready at (kernel.sched Rule 1)
        self.ip = 0  # instruction pointer register (reported in page faults)
        self.sp = 0  # stack pointer register
        self.flags = 0  # flags register
        self.halted = False  # ExchangeRegisters halt bit (recorded)
        self.user_handle = 0  # UserDefinedHandle TCR
        self.error_code = 0  # ErrorCode TCR of the last failed IPC
        self.acceptor = Acceptor()  # BR0 + string buffer
        self.sendq: deque[Thread] = deque()  # senders blocked on this thread, FIFO
        self.send_to: Thread | None = None  # while SENDING: the destination
        self.snd_msg: Msg | None = None  # while SENDING: the message
        self.snd_as = tid  # while SENDING: the sender id the receiver sees (propagation)
        self.then_from = NILTHREAD  # while SENDING: the receive phase that follows
        self.wait_from = NILTHREAD  # while RECEIVING: whom from (ANYTHREAD = anyone)
        self.rcv_from = NILTHREAD  # delivered: sender
        self.rcv_msg: Msg | None = None  # delivered: message
        self.error: IpcError | None = None  # delivered: failure
        self.name = ""  # what it is, for traces and the debug console (kdb's thread names)
        self.smark: object | None = None  # the trace mark of what it sends (kernel.trace)
        self.rmark: object | None = None  # the trace mark of what it was given (kernel.trace)
        self.parked = False  # task blocked in wait_task_rescheduled
        self.task: Any = None  # the trio.lowlevel.Task running its IPC (Rule 1)
        self.cut = INACTIVE  # the IPC state a cancellation of the driving task cut short
        self.cancel_scope: trio.CancelScope | None = None  # cancels the task on deletion
        self.faults = 0  # page faults taken (for tests and benchmarks)
        self.abort_fn = self._abort

    def __repr__(self) -> str:
        return f"<Thread {self.id!r} {self.state}>"

    def _abort(self, raise_cancel: Any) -> trio.lowlevel.Abort:
        self.parked = False
        self.cut = self.state  # SENDING: the partner never saw the message; RECEIVING: it did
        _ipc.unlink(self)
        return trio.lowlevel.Abort.SUCCEEDED

    # -- IPC verbs (wrappers of kernel.ipc.ipc) --
    async def ipc(
        self,
        to: ThreadId,
        from_spec: ThreadId,
        msg: Msg | None = None,
        snd_timeout: Timeout = None,
        rcv_timeout: Timeout = None,
        propagate: ThreadId = NILTHREAD,
    ) -> tuple[ThreadId, Msg] | None:
        """brief: the general L4 Ipc (see kernel.ipc.ipc); sets ``error_code`` on failure."""
        try:
            return await _ipc.ipc(self, to, from_spec, msg, snd_timeout, rcv_timeout, propagate)
        except IpcError as e:
            self.error_code = e.error_code
            raise

    async def send(
        self, to: ThreadId, msg: Msg, timeout: Timeout = None, propagate: ThreadId = NILTHREAD
    ) -> None:
        """brief: send ``msg`` to ``to``, waiting up to ``timeout`` for it to receive.

        ``propagate``: send on behalf of that thread (X.2 propagation, see kernel.ipc.ipc).
        Raises: IpcError(NO_PARTNER) for a bad or dead ``to``; TIMEOUT; MSG_OVERFLOW; CANCELED.
        """
        await self.ipc(to, NILTHREAD, msg, timeout, None, propagate)

    async def receive(
        self, from_: ThreadId = ANYTHREAD, timeout: Timeout = None
    ) -> tuple[ThreadId, Msg]:
        """brief: receive from ``from_`` (a thread id, or ANYTHREAD for anyone).

        Returns: (sender id, message).  Raises: IpcError (receive phase) — NO_PARTNER if
        ``from_`` does not exist or dies meanwhile, TIMEOUT, CANCELED, MSG_OVERFLOW.
        """
        r = await self.ipc(NILTHREAD, from_, None, None, timeout)
        assert r is not None
        return r

    async def wait(self, timeout: Timeout = None) -> tuple[ThreadId, Msg]:
        """brief: receive from anyone (libl4 Wait)."""
        return await self.receive(ANYTHREAD, timeout)

    async def call(self, to: ThreadId, msg: Msg, timeout: Timeout = None) -> Msg:
        """brief: send ``msg`` to ``to`` and receive its reply, atomically (libl4 Call).

        ``timeout`` bounds the reply wait (X.2 Call uses never for both).  Returns the reply.
        """
        r = await self.ipc(to, to, msg, None, timeout)
        assert r is not None
        return r[1]

    async def reply(self, to: ThreadId, msg: Msg, propagate: ThreadId = NILTHREAD) -> None:
        """brief: send with zero timeout (libl4 Reply): ``to`` must be waiting for us.

        A clerk answering a caller that called its Mngr passes ``propagate=mngr``: the caller,
        in a closed wait for the Mngr, sees the reply as coming from the Mngr.
        """
        await self.ipc(to, NILTHREAD, msg, 0, None, propagate)

    async def reply_wait(
        self, to: ThreadId, msg: Msg, timeout: Timeout = None, propagate: ThreadId = NILTHREAD
    ) -> tuple[ThreadId, Msg]:
        """brief: reply to ``to`` (zero send timeout), then receive from anyone (ReplyWait).

        Raises: IpcError in the send phase if ``to`` is not waiting (then nothing was
        received: a server loop falls back to ``wait``).
        """
        r = await self.ipc(to, ANYTHREAD, msg, 0, timeout, propagate)
        assert r is not None
        return r

    async def sleep(self, seconds: float) -> None:
        """brief: libl4 Sleep: a receive from ourselves with a timeout."""
        if seconds <= 0:
            return
        try:
            await _ipc.ipc(self, NILTHREAD, self.id, None, None, seconds)
        except IpcError as e:
            if e.code != TIMEOUT:
                raise

    # -- memory: loads and stores through the space, with page faults --
    async def load(self, addr: int, n: int) -> bytes:
        """brief: read ``n`` bytes at ``addr`` of our space, taking page faults as needed.

        Raises: IpcError if the pager cannot be reached.
        """
        space = self.space
        assert space is not None
        while True:
            try:
                return space.read(addr, n)
            except PageFault as f:
                await self.page_fault(f.addr, f.access)

    async def store(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """brief: write ``data`` at ``addr`` of our space, taking page faults as needed."""
        space = self.space
        assert space is not None
        while True:
            try:
                space.write(addr, data)
                return
            except PageFault as f:
                await self.page_fault(f.addr, f.access)

    async def page_fault(self, addr: int, access: int) -> None:
        """brief: the kernel's page-fault protocol: Call the pager, accept a mapping anywhere."""
        self.faults += 1
        if not self.pager:
            self.error_code = NO_PARTNER << 1
            raise IpcError(NO_PARTNER, 0)
        saved = self.acceptor
        self.acceptor = Acceptor(COMPLETE)
        try:
            await self.ipc(
                self.pager, self.pager, Msg(LABEL_PAGEFAULT | access, (addr, self.ip)), None, None
            )
        finally:
            self.acceptor = saved

    def unmap(self, fpages: list[Fpage], flush: bool = False) -> list[Fpage]:
        """brief: X.2 Unmap of fpages of our space (see kernel.mapdb.unmap)."""
        return self.kernel.unmap(self, fpages, flush)
