"""The kernel's half of tracing: a trace mark that travels with IPC, and an event sink.

Theory of operation: a *mark* is an opaque object naming one traced activity (the layers
above make it: ``lp49fs.trace.Trace``).  The running task's mark is the context variable
``mark``.  While ``on`` is set, every IPC carries the sender's mark to the receiver, as a
hardware trace tag would ride along with a message: the send phase records it on the sender
(``sent``), the transfer hands it to the receiver's thread (``delivered``), and the receiver's
task adopts it when its receive phase returns (``adopt``).  So a system call made by a traced
task arrives at the Mngr marked, the Mngr's hand-off carries the mark to the clerk, and the
reply carries it back, with no layer having to pass it by hand.

Rules:
1. With ``on`` False nothing here runs: each IPC path pays one module attribute check.
2. A receiver always adopts the mark of the message it took, ``None`` included, so a mark
   never outlives the message that brought it into a task.
3. ``sink(mark, what, src, dst, msg)`` is called for each send (``what`` = "send") and each
   delivery ("deliver") of a marked message; it must not raise or block.  The kernel never
   imports what installs it (the layers above register it here).
4. Interrupt messages carry no mark (an interrupt belongs to no traced activity).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from kernel.types import Msg

if TYPE_CHECKING:
    from kernel.thread import Thread

Sink = Callable[[object, str, "Thread", "Thread", Msg], None]

on = False  # Rule 1: set while any trace is being recorded
mark: ContextVar[object | None] = ContextVar("l4_trace_mark", default=None)
sink: Sink | None = None  # Rule 3


def sent(cur: Thread, dest: Thread, msg: Msg) -> None:
    """Send phase of ``cur`` to ``dest``: remember the mark of what it sends, report it."""
    m = cur.smark = mark.get()
    if m is not None and sink is not None:
        sink(m, "send", cur, dest, msg)


def delivered(m: object | None, src: Thread, dst: Thread, msg: Msg) -> None:
    """``msg`` (marked ``m``) from ``src`` lands in ``dst``: ``dst`` will adopt the mark."""
    dst.rmark = m
    if m is not None and sink is not None:
        sink(m, "deliver", src, dst, msg)


def adopt(cur: Thread) -> None:
    """The receive phase of ``cur`` returned: its task takes the message's mark (Rule 2)."""
    mark.set(cur.rmark)
    cur.rmark = None
