"""A trace as a learner reads it: numbered text lines, or an SVG sequence diagram.

``text(traces)`` prints each trace as a title line, one line per arrow (time since the
trace began, from lane, to lane, what went across) and a last line with the time spent in
each layer.  ``svg(traces)`` draws the same arrows between vertical lifelines, one per lane
of ``lp49fs.trace.LANES`` that the traces use, in the layers' order, with the time at the
left; a self-arrow (``namec -> namec``) is a note beside its lane.  Runs of page faults
are folded into one arrow to the pager and one back (``fold``).  Both are pure functions
of the events, so a test can check them on a recorded trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from lp49fs.trace import LANES, Event, Trace


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}us"


def fold(events: Sequence[Event]) -> list[Event]:
    """``events`` with each run of page faults (fault, deliver, map reply, deliver) shown as
    one arrow to the pager and one back: a first read into a fresh 128 KiB buffer takes 32."""
    out: list[Event] = []
    i = 0
    while i < len(events):
        n = 0
        while i + 4 * n + 3 < len(events) and ": pagefault" in events[i + 4 * n].text:
            n += 1
        if n == 0:
            out.append(events[i])
            i += 1
            continue
        first, last = events[i], events[i + 4 * n - 1]
        out.append(Event(first.t, first.frm, "HVM", f"{n} page fault(s): the library touches "
                         "its buffer, the pager maps each page"))  # fmt: skip
        out.append(Event(last.t, "HVM", last.to, f"{n} page(s) mapped"))
        i += 4 * n
    return out


def text(traces: Sequence[Trace]) -> str:
    out: list[str] = []
    for tr in traces:
        out.append(f"trace: {tr.title}")
        t0 = tr.events[0].t if tr.events else 0.0
        for e in fold(tr.events):
            out.append(f"  {us(e.t - t0):>8}  {e.frm:>7} -> {e.to:<7} {e.text}")
        spent = tr.layers()
        order = sorted(spent, key=lambda k: LANES.index(k) if k in LANES else len(LANES))
        total = tr.events[-1].t - t0 if tr.events else 0.0
        per = "  ".join(f"{k} {us(spent[k])}" for k in order)
        out.append(f"  time per layer: {per}  (total {us(total)})")
    return "\n".join(out) + "\n" if out else ""


COL = 96  # pixels between lifelines
ROW = 22  # pixels per arrow
LEFT = 70  # room for the time column
TOP = 40  # room for the lane names


def svg(traces: Sequence[Trace]) -> str:
    used = {x for tr in traces for e in tr.events for x in (e.frm, e.to)}
    lanes = [ln for ln in LANES if ln in used] + sorted(used - set(LANES))
    x = {ln: LEFT + COL // 2 + i * COL for i, ln in enumerate(lanes)}
    rows = sum(len(fold(tr.events)) + 1 for tr in traces)
    width = LEFT + COL * max(len(lanes), 1) + 260
    height = TOP + ROW * (rows + 1)
    p: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for ln in lanes:
        p.append(f'<text x="{x[ln]}" y="{TOP - 16}" text-anchor="middle" '
                 f'font-weight="bold">{escape(ln)}</text>')  # fmt: skip
        p.append(f'<line x1="{x[ln]}" y1="{TOP - 10}" x2="{x[ln]}" y2="{height - 8}" '
                 'stroke="#bbb" stroke-dasharray="4,3"/>')  # fmt: skip
    y = TOP
    for tr in traces:
        y += ROW
        p.append(f'<text x="4" y="{y}" font-weight="bold">{escape(tr.title)}</text>')
        t0 = tr.events[0].t if tr.events else 0.0
        for e in fold(tr.events):
            y += ROW
            p.append(f'<text x="4" y="{y}" fill="#777">{us(e.t - t0)}</text>')
            x1, x2 = x[e.frm], x[e.to]
            label = escape(e.text[:60])
            if x1 == x2:
                p.append(f'<circle cx="{x1}" cy="{y - 4}" r="3" fill="#36c"/>')
                p.append(f'<text x="{x1 + 8}" y="{y}" fill="#36c">{label}</text>')
                continue
            p.append(f'<line x1="{x1}" y1="{y - 4}" x2="{x2}" y2="{y - 4}" stroke="#333" '
                     'marker-end="url(#a)"/>')  # fmt: skip
            tx = min(x1, x2) + 4
            p.append(f'<text x="{tx}" y="{y - 7}">{label}</text>')
    p.append("</svg>")
    return "\n".join(p) + "\n"
