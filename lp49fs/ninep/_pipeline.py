"""Pipeline: the one rule the 9P2000.lp49 dialect adds, on the server side.

In plain 9P2000 a client may not send a request naming a fid before the request that creates
or changes that fid has been answered: a server may carry out requests in any order, and
ServerConn checks each fid when the request arrives (a Topen of a walk's newfid that is
still being walked is "unknown fid").  9P2000.lp49 (docs/ninep.md) has the same messages and
one promise more: **a request that creates or changes a fid (Tattach, Tauth, a Twalk to
it, Topen, Tcreate, Tclunk, Tremove) takes effect before any request sent after it that
names the same fid, and after every request sent before it that does**.  So a client may
send Twalk(newfid), Topen(newfid), Tread(newfid) at once: one round trip.  Requests that
only use a fid (Twalk from it, Tread, Twrite, Tstat, Twstat) still run side by side, so
walks from one mount's root fid are not put in a line.

How: every request of a pipelined connection enters the queue of each fid it names (fid,
newfid, afid).  It is *admitted* (checked by ServerConn and given to the backend) when no
earlier request in those queues changes the fid, and, for a fid it changes itself, when
no earlier request is left there at all; until then it is *parked*.  A request leaves its
queues when it is answered (or refused by the checks, or flushed while parked); parked
requests of those queues that may then be admitted become *ready*, in arrival order, and
ServerConn admits them before it decodes anything new.

Rules
-----
1. A parked request's tag is in use (a duplicate is refused) and a Tflush of it removes it
   at once: it never happened (flush(5)), and the Rflush goes out at once.
2. A new Tversion forgets every queue.
"""

from __future__ import annotations

from collections import deque

from . import _constants as C
from ._messages import Message, Tattach, Tauth, Tclunk, Tcreate, Topen, Tremove, Twalk

_CHANGERS = (Tauth, Topen, Tcreate, Tclunk, Tremove)


def fids_of(msg: Message) -> tuple[int, ...]:
    """The fid numbers a T-message names (created or used)."""
    if isinstance(msg, Twalk):
        return (msg.fid,) if msg.newfid == msg.fid else (msg.fid, msg.newfid)
    if isinstance(msg, Tattach):
        return (msg.fid,) if msg.afid == C.NOFID else (msg.fid, msg.afid)
    if isinstance(msg, Tauth):
        return (msg.afid,)
    fid = getattr(msg, "fid", None)
    return () if fid is None else (fid,)


def changes(msg: Message, fid: int) -> bool:
    """Whether ``msg`` creates or changes the state of ``fid`` (one of ``fids_of(msg)``)."""
    if isinstance(msg, Twalk):
        return fid == msg.newfid
    if isinstance(msg, Tattach):
        return fid == msg.fid
    return isinstance(msg, _CHANGERS)


class Pipeline:
    """Per-fid order for one connection (see the module rules)."""

    def __init__(self) -> None:
        self.queues: dict[int, deque[tuple[int, bool]]] = {}  # fid -> (tag, changes it)
        self.parked: dict[int, Message] = {}  # tag -> request not yet admitted
        self.ready: deque[int] = deque()  # parked tags now free to be admitted, in order

    def enter(self, tag: int, msg: Message) -> bool:
        """Queue request ``tag``; True if it may be admitted now, else it is parked."""
        for f in fids_of(msg):
            self.queues.setdefault(f, deque()).append((tag, changes(msg, f)))
        if self._may_run(tag, msg):
            return True
        self.parked[tag] = msg
        return False

    def _may_run(self, tag: int, msg: Message) -> bool:
        for f in fids_of(msg):
            mine = changes(msg, f)
            for t, ch in self.queues[f]:
                if t == tag:
                    break
                if ch or mine:
                    return False
        return True

    def leave(self, tag: int, msg: Message) -> None:
        """Request ``tag`` is answered (or refused, or flushed): let its successors go."""
        for f in fids_of(msg):
            q = self.queues.get(f)
            if q is None:
                continue
            self.queues[f] = q = deque(e for e in q if e[0] != tag)
            if not q:
                del self.queues[f]
                continue
            for t, _ in q:
                m = self.parked.get(t)
                if m is not None and t not in self.ready and self._may_run(t, m):
                    self.ready.append(t)

    def next_ready(self) -> tuple[int, Message] | None:
        """The oldest parked request that may now be admitted (it stays queued)."""
        while self.ready:
            tag = self.ready.popleft()
            msg = self.parked.pop(tag, None)
            if msg is not None:
                return tag, msg
        return None

    def unpark(self, tag: int) -> bool:
        """Drop parked request ``tag`` (Rule 1); False if it is not parked."""
        msg = self.parked.pop(tag, None)
        if msg is None:
            return False
        self.leave(tag, msg)
        return True

    def clear(self) -> None:
        self.queues.clear()
        self.parked.clear()
        self.ready.clear()
