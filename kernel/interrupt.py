"""Interrupts as IPC: interrupt threads, their handlers, and the acknowledge.

Theory of operation: interrupt thread n (``ThreadId.make(n, 1)``, below SystemBase) never
runs.  ``associate`` (ThreadControl on it) sets its pager TCR to the handler thread.  When
hwsim delivers line n, ``deliver`` makes the interrupt thread a sender of the interrupt message
(label 0xFFF0, no words) to the handler: handed over at once if the handler is receiving from
it or from anyone, else queued on the handler's sendq like any sender.  The line stays in
service (hwsim rule 1) until the handler sends to the interrupt thread: ``acknowledge`` then
calls ``eoi``, which re-delivers a raise made meanwhile.

Rules:
1. Only the associated handler may acknowledge; anyone else gets NO_PARTNER.
2. A line delivered while no handler is associated stays in service; associating a handler
   delivers it then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel.ipc import IRQ_DELIVERED, RECEIVING, RUNNING, SENDING
from kernel.types import (
    ANYTHREAD,
    INVALID_THREAD,
    LABEL_INTERRUPT,
    NILTHREAD,
    NO_PARTNER,
    SEND_PHASE,
    IpcError,
    Msg,
    SyscallError,
    ThreadId,
)

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.thread import Thread

INTERRUPT_MSG = Msg(LABEL_INTERRUPT)


def associate(kernel: Kernel, irq_tid: ThreadId, handler: ThreadId) -> None:
    """Make ``handler`` the handler of interrupt thread ``irq_tid`` (itself: detach)."""
    irqt = kernel.thread(irq_tid)
    if irqt is None or irqt.irq is None:
        raise SyscallError(INVALID_THREAD)
    irqt.pager = NILTHREAD if handler == irq_tid else handler
    if irqt.pager and kernel.machine.irqc.in_service[irqt.irq] and irqt.state is RUNNING:
        deliver(kernel, irqt.irq)  # rule 2


def deliver(kernel: Kernel, line: int) -> None:
    """hwsim delivered ``line``: its interrupt thread sends to the handler."""
    irqt = kernel.irq_threads[line]
    h = kernel.thread(irqt.pager) if irqt.pager else None
    if h is None or h.irq is not None:
        return  # rule 2
    if h.state is RECEIVING and (h.wait_from == ANYTHREAD or h.wait_from == irqt.id):
        h.rcv_from = irqt.id
        h.rcv_msg = INTERRUPT_MSG
        h.state = RUNNING
        irqt.state = IRQ_DELIVERED
        if h.parked:
            kernel.sched.wake(h)
    else:
        irqt.state = SENDING
        irqt.send_to = h
        irqt.snd_msg = INTERRUPT_MSG
        irqt.snd_as = irqt.id
        h.sendq.append(irqt)


def acknowledge(kernel: Kernel, caller: Thread, irqt: Thread) -> None:
    """``caller`` sent to interrupt thread ``irqt``: end of interrupt (rule 1)."""
    if caller.id != irqt.pager:
        raise IpcError(NO_PARTNER, SEND_PHASE)
    if irqt.state is IRQ_DELIVERED:
        irqt.state = RUNNING
        assert irqt.irq is not None
        kernel.machine.irqc.eoi(irqt.irq)
