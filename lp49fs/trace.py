"""Tracing one call through every layer: the recorder that the layers' hooks report to.

Theory of operation: a ``Trace`` is the record of one traced activity -- one FUSE request,
or one system call of a process whose ``/proc/N/ctl`` said ``trace`` -- and it is also the
*mark* that ``kernel.trace`` carries with every IPC made on its behalf.  Each layer's hook
adds an ``Event``: an arrow ``frm -> to`` between two lanes of ``LANES`` with one line of
text, stamped with ``time.perf_counter()``.  Between two arrows control is in the lane the
earlier one points to, so ``Trace.layers()`` charges each gap to that lane: the time spent in
each layer.  The same events draw the sequence diagram (``lp49fs.tracesvg``).

How the mark gets around (no layer passes it by hand):

* a FUSE request or the Mngr (for a traced process) makes a ``Trace`` and sets it as the
  task's mark (``begin``); the kernel carries it across every IPC (``kernel.trace``), so the
  clerk, namec and the servants run with it;
* ``#M``'s 9P client reports each T-message it sends (``tsent``); the chatty9p line is left
  in ``pending`` so the server that receives the same message on the other end of the link
  adopts the trace for its handling (``served``, ``answered``);
* the hook sites are ``if _t.on: _t.ev(...)``: with tracing off they cost one attribute
  check;
* a trace's ``watch`` is told one line per system call the activity makes (``libcall``):
  the FUSE view's ``-o debug`` log is such a reader, so the library has one hook, this one.

Rules:
1. ``on`` mirrors ``kernel.trace.on`` and is set while ``users`` > 0 (``enable``/``disable``
   are counted, so two tracers never turn each other off).
2. Events go only to the task's own mark; a finished trace takes no more events.
3. ``pending`` holds at most ``MAXPENDING`` lines (a server on another node never claims
   its lines here); the oldest go first.
4. Nothing here raises into a hook site or blocks.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple, TypeVar

import kernel.trace as _k
from kernel.thread import Thread
from kernel.types import LABEL_INTERRUPT, LABEL_PAGEFAULT, MapItem, Msg, StringItem, ThreadId
from lp49fs.ninep.trace import fmt
from lp49fs.syscall import ERR, OK, Bus, Sys

LANES = ("Linux", "FUSE", "lib", "L4", "HVM", "Mngr", "clerk", "namec", "servant", "#M", "9P",
         "server")  # fmt: skip
T = TypeVar("T")
MAXPENDING = 1024  # Rule 3
MAXEVENTS = 4096  # a runaway trace stops growing here
MAXTEXT = 120  # characters of one event's text

on = False  # Rule 1
users = 0
pending: OrderedDict[str, Trace] = OrderedDict()  # 9P T line -> trace that sent it (Rule 3)


class Event(NamedTuple):
    t: float  # time.perf_counter() seconds
    frm: str  # lane the arrow leaves
    to: str  # lane that has control afterwards
    text: str


class Trace:
    """One traced activity: its events in order, and whom to tell when it ends."""

    def __init__(
        self,
        title: str,
        log: TraceLog | None = None,
        caller: int = 0,
        home: str = "FUSE",
        watch: Callable[[str], None] | None = None,
    ) -> None:
        self.title = title
        self.home = home  # the lane of the program whose calls go into lib
        self.log = log  # where the finished trace goes (None: the maker keeps it)
        self.watch = watch  # told one line per system call of the activity (``libcall``)
        self.caller = caller  # for a traced system call: the calling thread's id
        self.events: list[Event] = []
        self.done = False

    def add(self, frm: str, to: str, text: str) -> None:
        if not self.done and len(self.events) < MAXEVENTS:
            text = text.replace("\n", "\\n")[:MAXTEXT]  # one event, one line
            self.events.append(Event(time.perf_counter(), frm, to, text))

    def finish(self) -> None:
        if not self.done:
            self.done = True
            if self.log is not None:
                self.log.put(self)

    def layers(self) -> dict[str, float]:
        """Seconds spent in each lane (the gap after each arrow goes to the lane it enters)."""
        out: dict[str, float] = {}
        ev = self.events
        for a, b in itertools.pairwise(ev):
            out[a.to] = out.get(a.to, 0.0) + (b.t - a.t)
        return out

    def to_json(self) -> dict[str, Any]:
        t0 = self.events[0].t if self.events else 0.0
        return {"title": self.title,
                "events": [[e.t - t0, e.frm, e.to, e.text] for e in self.events]}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trace:
        tr = cls(str(d["title"]))
        tr.events = [Event(float(t), str(f), str(to), str(x)) for t, f, to, x in d["events"]]
        tr.done = True
        return tr


class TraceLog:
    """Finished traces waiting for a reader (``/proc/N/trace``, a FUSE trace session)."""

    def __init__(self, limit: int = 256) -> None:
        self.traces: list[Trace] = []
        self.limit = limit  # older traces are dropped beyond this many
        self.closed = False
        self.waiters: list[Any] = []  # trio.Events of blocked readers (set on put/close)
        self.holders = 0  # processes whose calls come here (``hold``/``release``)

    def hold(self) -> TraceLog:
        """One more process reports here (and tracing is on while it does)."""
        self.holders += 1
        enable()
        return self

    def release(self) -> None:
        """A process stopped reporting here; the last one closes the log."""
        self.holders -= 1
        disable()
        if self.holders <= 0:
            self.close()

    def put(self, tr: Trace) -> None:
        self.traces = [*self.traces[-(self.limit - 1) :], tr]
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def take(self) -> list[Trace]:
        out, self.traces = self.traces, []
        return out

    def _wake(self) -> None:
        for w in self.waiters:
            w.set()
        self.waiters = []


def enable() -> None:
    global on, users
    users += 1
    on = _k.on = True
    _k.sink = _ipc


def disable() -> None:
    global on, users
    users = max(0, users - 1)
    if not users:
        on = _k.on = False
        pending.clear()


def current() -> Trace | None:
    m = _k.mark.get()
    return m if isinstance(m, Trace) else None


def ev(frm: str, to: str, text: str) -> None:
    """An arrow of the running task's trace (if it has one)."""
    m = _k.mark.get()
    if isinstance(m, Trace):
        m.add(frm, to, text)


def begin(tr: Trace) -> Any:
    """Make ``tr`` the running task's mark; returns the token for ``end``."""
    return _k.mark.set(tr)


def end(tr: Trace, token: Any) -> None:
    tr.finish()
    _k.mark.reset(token)


def syscall_in(log: TraceLog | None, pid: int, caller: ThreadId, msg: Msg, mngr: int) -> None:
    """The Mngr took ``msg`` from ``caller``: start a trace if the process is traced."""
    m = _k.mark.get()
    if log is None or (m is not None and not (isinstance(m, Trace) and m.done)):
        return  # not traced, or part of a traced activity already (a done one counts as none)
    tr = Trace(f"pid {pid} {_label(msg.label, 'Mngr')}", log, int(caller), "lib")
    tr.add("lib", "L4", f"call {tidname(mngr)}: {fmtmsg(msg, 'Mngr')}")
    tr.add("L4", "Mngr", f"from {tidname(caller)}")
    _k.mark.set(tr)


def syscall_out(caller: ThreadId) -> None:
    """The clerk replied to ``caller``: a trace begun for that call ends."""
    m = _k.mark.get()
    if isinstance(m, Trace) and m.caller == int(caller):
        m.finish()
        _k.mark.set(None)


def tsent(tag: int, msg: object, frm: str = "#M") -> None:
    """A 9P client sent T-message ``msg``: note it, and leave its line for the server."""
    m = _k.mark.get()
    if isinstance(m, Trace):
        line = fmt(tag, msg)  # type: ignore[arg-type]
        m.add(frm, "9P", line)
        pending[line] = m
        while len(pending) > MAXPENDING:
            pending.popitem(last=False)


def rgot(tag: int, msg: object, to: str = "#M") -> None:
    ev("9P", to, fmt(tag, msg))  # type: ignore[arg-type]


def served(tag: int, msg: object, who: str) -> None:
    """A 9P server took T-message ``msg``: adopt the trace that sent it (or none)."""
    tr = pending.pop(fmt(tag, msg), None)  # type: ignore[arg-type]
    _k.mark.set(tr)
    if tr is not None:
        tr.add("9P", "server", f"{who} serves {type(msg).__name__}")


def answered(tag: int, reply: object, who: str) -> None:
    """The server queued its answer: report it and drop the mark (the next request is new)."""
    m = _k.mark.get()
    if isinstance(m, Trace):
        text = f"Rerror {reply}" if isinstance(reply, Exception) else type(reply).__name__
        m.add("server", "9P", f"{who} answers {text}")
        _k.mark.set(None)


async def libcall(msg: Msg, aw: Awaitable[Msg]) -> Msg:
    """Await system call ``msg`` (``aw``, the library's IPC to the Mngr) under the running
    task's trace: an arrow from the program to lib and one back with the reply, and the
    trace's ``watch`` told ``call -> result`` (the FUSE view's ``-o debug`` lines)."""
    m = _k.mark.get()
    if not isinstance(m, Trace):
        return await aw
    back = m.home
    m.add(back, "lib", callname(msg))
    r = await aw
    m.add("lib", back, fmtmsg(r, back))
    if m.watch is not None:
        m.watch(f"{callname(msg)} -> {_result(r)}")
    return r


def buscall(msg: Msg) -> str:
    """A service-bus read or write (``lp49fs.lib.bus``): an arrow from wherever control is
    (returned, for ``busret``) to lib; the IPC itself goes to the server, not the Mngr."""
    m = _k.mark.get()
    if not isinstance(m, Trace):
        return ""
    m.add(m.home, "lib", fmtmsg(msg, "bus").split(" ", 1)[0])
    return m.home


def busret(back: str, r: Msg) -> None:
    if back:
        ev("lib", back, fmtmsg(r, back))


def _result(r: Msg) -> str:
    """A reply as the ``watch`` lines give it: its words, or the error it carries."""
    if r.label != ERR:
        return str(r.words)
    item = r.items[0] if r.items else None
    return f"error {item.data.decode() if isinstance(item, StringItem) else '?'!r}"


def callname(msg: Msg) -> str:
    """``open('/x', 0)``-style text of a system call message: its strings, then its words."""
    try:
        name = Sys(msg.label).name.lower()
    except ValueError:
        name = f"sys{msg.label}"
    args = [repr(i.data.decode(errors="replace")) for i in msg.items if isinstance(i, StringItem)]
    return f"{name}({', '.join([*args, *map(str, msg.words)])})"


def svlane(dc: str) -> str:
    return "#M" if dc == "M" else "servant"


async def svcall(frm: str, c: Any, text: str, aw: Awaitable[T]) -> T:
    """Await servant operation ``aw`` on Chan ``c``: an arrow there and one back."""
    ln = svlane(c.sv.dc)
    ev(frm, ln, f"#{c.sv.dc} {c.sv.name}: {text} ({c.path.s})")
    try:
        r = await aw
    except Exception as e:
        ev(ln, frm, f"error: {e}")
        raise
    ev(ln, frm, summary(r))
    return r


def summary(r: object) -> str:
    if isinstance(r, bytes | bytearray):
        return f"{len(r)} bytes {bytes(r[:24])!r}"
    qids = getattr(r, "qids", None)
    if qids is not None:
        return f"walked {len(qids)}: {' '.join(str(q) for q in qids)}"
    path = getattr(r, "path", None)
    if path is not None and hasattr(r, "qid"):
        return f"chan {r.qid}"
    name = getattr(r, "name", None)
    if name is not None and hasattr(r, "length"):
        return f"dir {name!r} length {r.length}"
    return "ok" if r is None else str(r)


def unmark() -> None:
    _k.mark.set(None)


# -- the kernel's sink and message formatting -------------------------------------------------


def _lane(t: Thread) -> str:
    return t.name or "lib"  # the core names its Mngr and clerks, the node its pager


def tidname(tid: int) -> str:
    """A thread id as ``number.version`` (``-`` for nil, ``any`` for ANYTHREAD)."""
    if not tid or tid == 0xFFFFFFFF:
        return "any" if tid else "-"
    return f"{int(tid) >> 14}.{int(tid) & 0x3FFF}"


def _label(label: int, dst: str) -> str:
    if dst in ("Mngr", "bus"):  # a system call, or a service-bus request (docs/servicebus.md)
        try:
            return (Sys if dst == "Mngr" else Bus)(label).name.lower()
        except ValueError:
            return f"label {label:#x}"
    if label & 0xFFF0 == LABEL_PAGEFAULT:
        return "pagefault"
    if label == LABEL_INTERRUPT:
        return "interrupt"
    return {OK: "OK", ERR: "ERR"}.get(label, f"label {label:#x}")


def fmtitems(items: Iterable[object]) -> str:
    out = []
    for it in items:
        if isinstance(it, StringItem):
            out.append(f"string {it.data[:40]!r}"[: MAXTEXT // 2])
        elif isinstance(it, MapItem) or hasattr(it, "fpage"):
            fp = it.fpage
            rw = "".join(c for c, b in (("r", 4), ("w", 2), ("x", 1)) if fp.rights & b)
            out.append(f"{'grant' if it.grant else 'map'} {fp.base:#x}/{fp.size} {rw}")  # type: ignore[attr-defined]
    return ", ".join(out)


def fmtmsg(msg: Msg, dst: str) -> str:
    """An L4 message as ``label words (..) items [..]``."""
    s = _label(msg.label, dst)
    if msg.words:
        s += f" words {tuple(msg.words)}"
    if msg.items:
        s += f" items [{fmtitems(msg.items)}]"
    return s


def _ipc(m: object, what: str, src: Thread, dst: Thread, msg: Msg) -> None:
    if not isinstance(m, Trace):
        return
    if what == "send":
        d = _lane(dst)
        m.add(_lane(src), "L4", f"ipc {tidname(src.id)} -> {tidname(dst.id)}: {fmtmsg(msg, d)}")
    else:
        m.add("L4", _lane(dst), f"deliver to {tidname(dst.id)}")
