"""IPC: the one L4 system call that moves messages, ``Ipc(to, from, timeouts)``, and its transfer.

Theory of operation: every verb is ``ipc(cur, to, from_spec, msg, snd_timeout, rcv_timeout)``,
an optional send phase (``to`` not nil) followed atomically by an optional receive phase
(``from_spec`` not nil; ANYTHREAD = open receive, a thread id = closed receive).  The verbs on
``Thread`` (send, receive, wait, call, reply, reply_wait, sleep) are thin wrappers, as libl4's
are.

Rendezvous without per-message trio objects: a blocked thread parks its own task with
``trio.lowlevel.wait_task_rescheduled`` (``parked`` = True); the partner finishes the transfer
into the parked thread's fields (``rcv_from``/``rcv_msg`` or ``error``), sets its state, and
``reschedule``s it.  A sender that finds no waiting receiver queues itself on the receiver's
``sendq``; the receiver takes it from there.  Only a finite timeout costs a cancel scope.

Rules:
1. State says where a thread is: RUNNING (not in IPC or runnable), SENDING (queued on
   ``send_to.sendq`` with ``snd_msg``), RECEIVING (waiting for ``wait_from``).
2. Send-then-receive is atomic: when a receiver takes a queued caller it switches the caller to
   RECEIVING from ``then_from`` in the same step, so a reply can never arrive "too early".
   A woken thread may find its reply already delivered (state RUNNING, ``rcv_msg`` set).
3. A message without typed items is handed over as the same object; items are checked whole
   before any is applied (strings against the receiver's string buffer, fpages for validity),
   so a failing transfer changes nothing and both sides get MSG_OVERFLOW.
4. An interrupt thread (``irq`` set) never runs: raising its line makes it a sender of the
   interrupt message; its handler's send to it is the acknowledge (eoi), see ``kernel.kernel``.
5. Errors are ``IpcError(code, phase)``; nothing else escapes for bad ids, items or timeouts.
6. A deleted thread (``alive`` False) cannot IPC: its call fails at once with CANCELED (its
   task may still run, shielded, until it notices it was cancelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from trio.lowlevel import wait_task_rescheduled

from kernel import mapdb
from kernel import trace as _trace
from kernel.types import (
    ANYTHREAD,
    CANCELED,
    MR_COUNT,
    MSG_OVERFLOW,
    NILTHREAD,
    NO_PARTNER,
    RECEIVE_PHASE,
    SEND_PHASE,
    TIMEOUT,
    IpcError,
    MapItem,
    Msg,
    StringItem,
    ThreadId,
)

if TYPE_CHECKING:
    from kernel.thread import Thread

Timeout = float | None  # None = never, 0 = zero time, > 0 = seconds of trio time

INACTIVE, RUNNING, SENDING, RECEIVING, DEAD = "inactive", "running", "sending", "receiving", "dead"
IRQ_DELIVERED = "delivered"  # an interrupt thread whose message waits for the handler's ack


async def ipc(
    cur: Thread,
    to: ThreadId,
    from_spec: ThreadId,
    msg: Msg | None,
    snd_timeout: Timeout,
    rcv_timeout: Timeout,
    propagate: ThreadId = NILTHREAD,
) -> tuple[ThreadId, Msg] | None:
    """brief: the L4 Ipc system call.

    Args: ``to`` (NILTHREAD: no send phase), ``from_spec`` (NILTHREAD: no receive phase;
    ANYTHREAD: from anyone), ``msg`` (sent if ``to``), the two timeouts, and ``propagate``:
    a VirtualSender to send on behalf of (X.2 propagation; honoured when it lives in the
    caller's space or ``to`` is in a closed wait for it, silently ignored otherwise).
    Returns: (sender, message) when there is a receive phase, else None.
    Raises: IpcError — TIMEOUT, NO_PARTNER, CANCELED, MSG_OVERFLOW, with the phase.
    """
    cur.task = trio.lowlevel.current_task()  # whichever task drives the thread (thread Rule 1)
    sched = cur.kernel.sched
    if sched.top > cur.priority:  # a higher thread is ready: it runs first (kernel.sched)
        await sched.defer(cur)
    if not cur.alive:  # Rule 6 (a cancelled, unshielded task sees Cancelled instead)
        await trio.lowlevel.checkpoint_if_cancelled()
        raise IpcError(CANCELED, SEND_PHASE if to else RECEIVE_PHASE)
    if to:
        dest = cur.kernel.threads.get(to >> 14)
        if dest is None or dest.id != to:
            raise IpcError(NO_PARTNER, SEND_PHASE)
        if msg is None:
            msg = Msg()
        me = cur.id
        if propagate:
            vs = cur.kernel.threads.get(propagate >> 14)
            if vs is not None and vs.id == propagate and (
                vs.space is cur.space or (dest.state is RECEIVING and dest.wait_from == propagate)
            ):
                me = propagate
        if _trace.on:
            _trace.sent(cur, dest, msg)
        if dest.irq is not None:
            cur.kernel.acknowledge(cur, dest)
        elif dest.state is RECEIVING and (dest.wait_from == ANYTHREAD or dest.wait_from == me):
            if msg.items or len(msg.words) >= MR_COUNT:
                got = transfer(cur, dest, msg)
                if got is None:
                    wake_error(dest, MSG_OVERFLOW, RECEIVE_PHASE)
                    raise IpcError(MSG_OVERFLOW, SEND_PHASE)
                msg = got
            dest.rcv_from = me
            dest.rcv_msg = msg
            if _trace.on:
                _trace.delivered(cur.smark, cur, dest, msg)
            dest.state = RUNNING
            if dest.parked:
                sched.wake(dest)
        else:
            if snd_timeout == 0:
                raise IpcError(TIMEOUT, SEND_PHASE)
            cur.state = SENDING
            cur.send_to = dest
            cur.snd_msg = msg
            cur.snd_as = me
            cur.then_from = from_spec
            dest.sendq.append(cur)
            await park(cur, snd_timeout, SEND_PHASE)
            if not from_spec:
                return None
            if cur.state is RUNNING:  # the reply came while we were runnable
                return take(cur)
            return await wait_receive(cur, rcv_timeout)
    if not from_spec:
        return None
    if from_spec != ANYTHREAD:
        partner = cur.kernel.threads.get(from_spec >> 14)
        if partner is None or partner.id != from_spec:
            raise IpcError(NO_PARTNER, RECEIVE_PHASE)
    cur.state = RECEIVING
    cur.wait_from = from_spec
    return await wait_receive(cur, rcv_timeout)


async def wait_receive(cur: Thread, timeout: Timeout) -> tuple[ThreadId, Msg]:
    """Receive phase of ``cur`` (state RECEIVING): take a queued sender or park."""
    q = cur.sendq
    if q:
        want = cur.wait_from
        if want == ANYTHREAD:
            return accept(cur, q[0])
        for s in q:
            if s.snd_as == want:
                return accept(cur, s)
    if timeout == 0:
        cur.state = RUNNING
        cur.wait_from = NILTHREAD
        raise IpcError(TIMEOUT, RECEIVE_PHASE)
    await park(cur, timeout, RECEIVE_PHASE)
    return take(cur)


def accept(cur: Thread, s: Thread) -> tuple[ThreadId, Msg]:
    """``cur`` takes the message of ``s``, queued on its sendq."""
    cur.sendq.remove(s)
    cur.state = RUNNING
    cur.wait_from = NILTHREAD
    msg = s.snd_msg
    assert msg is not None
    s.snd_msg = None
    if s.irq is not None:
        if _trace.on:  # kernel.trace Rules 2 and 4
            _trace.mark.set(None)
        s.state = IRQ_DELIVERED
        return s.id, msg
    sender = s.snd_as
    if msg.items or len(msg.words) >= MR_COUNT:
        got = transfer(s, cur, msg)
        if got is None:
            s.state = SENDING  # so wake_error leaves the queue alone (already removed)
            s.send_to = None
            wake_error(s, MSG_OVERFLOW, SEND_PHASE)
            raise IpcError(MSG_OVERFLOW, RECEIVE_PHASE)
        msg = got
    if _trace.on:
        _trace.delivered(s.smark, s, cur, msg)
        _trace.adopt(cur)
    if s.then_from:
        s.state = RECEIVING
        s.wait_from = s.then_from
    else:
        s.state = RUNNING
    s.send_to = None
    if s.parked:
        cur.kernel.sched.wake(s)
    return sender, msg


def take(cur: Thread) -> tuple[ThreadId, Msg]:
    """The message delivered into ``cur``'s fields while it was parked or runnable."""
    err = cur.error
    if err is not None:
        cur.error = None
        raise err
    msg = cur.rcv_msg
    assert msg is not None
    cur.rcv_msg = None
    if _trace.on:
        _trace.adopt(cur)
    return cur.rcv_from, msg


async def park(cur: Thread, timeout: Timeout, phase: int) -> None:
    """Block ``cur``'s task until a partner reschedules it (or the timeout passes).

    A deleted thread never blocks: ``delete`` wakes a parked thread with CANCELED, but a
    thread deleted while its task was runnable (between the phases of a call, or deferred
    to a higher-priority thread) would otherwise park with nobody left to wake it."""
    if not cur.alive:  # Rule 6, as at the start of ``ipc``: Cancelled for an unshielded task
        await trio.lowlevel.checkpoint_if_cancelled()
        raise IpcError(CANCELED, phase)
    cur.parked = True
    sched = cur.kernel.sched
    if sched.deferred:  # the processor is free for lower threads no ready one outranks
        sched.release()
    try:
        if timeout is None:
            await wait_task_rescheduled(cur.abort_fn)
        else:
            with trio.move_on_after(timeout) as cs:
                await wait_task_rescheduled(cur.abort_fn)
            if cs.cancelled_caught:
                raise IpcError(TIMEOUT, phase)
    finally:
        sched.ran(cur)
    if sched.top > cur.priority:  # woken, but a higher thread is ready (kernel.sched)
        await sched.defer(cur)
    err = cur.error
    if err is not None and phase == SEND_PHASE:
        cur.error = None
        raise err


def unlink(t: Thread) -> None:
    """Take ``t`` out of any IPC wait (queues included); it becomes RUNNING."""
    if t.state is SENDING and t.send_to is not None:
        try:
            t.send_to.sendq.remove(t)
        except ValueError:
            pass
    t.send_to = None
    t.snd_msg = None
    t.state = RUNNING
    t.wait_from = NILTHREAD


def wake_error(t: Thread, code: int, phase: int) -> None:
    """End ``t``'s IPC with IpcError(code, phase) and make it runnable."""
    unlink(t)
    t.error = IpcError(code, phase)
    if t.parked:
        t.kernel.sched.wake(t)


def transfer(src: Thread, dst: Thread, msg: Msg) -> Msg | None:
    """Apply the typed items of ``msg`` from ``src`` to ``dst``; None on message overflow.

    Checks everything first (rule 3), then maps/grants into ``dst``'s receive window.
    """
    if len(msg.words) + 2 * len(msg.items) >= MR_COUNT:
        return None
    acc = dst.acceptor
    window = acc.window
    for item in msg.items:
        if isinstance(item, StringItem):
            if len(item.data) > acc.strings:
                return None
        elif not item.fpage.valid or src.space is None:
            return None
    if window.is_nil or not window.valid or dst.space is None:
        window = None  # type: ignore[assignment]  # mappings refused: items pass unapplied
    out: list[MapItem | StringItem] = []
    for item in msg.items:
        if isinstance(item, StringItem):
            out.append(item)
            continue
        landed = None
        if window is not None and src.space is not None and dst.space is not None:
            landed = mapdb.map_fpage(
                src.space, item.fpage, item.snd_base, dst.space, window, item.grant
            )
        out.append(type(item)(item.fpage, item.snd_base, landed))  # type: ignore[arg-type]
    return Msg(msg.label, msg.words, tuple(out))
