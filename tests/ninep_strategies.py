"""Hypothesis strategies for 9P2000 messages (shared by the ninep codec and oracle tests).

Every field is drawn over its whole wire range; strings are UTF-8 text without NUL.
``messages(max_walk=16)`` draws any message class; ``for_class(cls)`` one class.
"""

from __future__ import annotations

from hypothesis import strategies as st

from lp49fs import ninep as P

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=12)
name = text.filter(lambda s: s not in ("", ".", "..") and "/" not in s)
data = st.binary(max_size=64)
qids = st.builds(P.Qid, u8, u32, u64)
dirs = st.builds(P.Dir, u16, u32, qids, u32, u32, u32, u64, text, text, text, text)

FIELDS = {
    "msize": u32, "version": text, "afid": u32, "fid": u32, "newfid": u32, "uname": text,
    "aname": text, "aqid": qids, "qid": qids, "ename": text, "oldtag": u16, "mode": u8,
    "iounit": u32, "name": text, "perm": u32, "offset": u64, "count": u32, "data": data,
    "stat": dirs,
}


def for_class(cls: type, max_walk: int = P.MAXWELEM) -> st.SearchStrategy[P.Message]:
    """Messages of class ``cls`` with every field drawn over its wire range."""
    if cls is P.Twalk:
        return st.builds(P.Twalk, u32, u32, st.lists(name, max_size=max_walk).map(tuple))
    if cls is P.Rwalk:
        return st.builds(P.Rwalk, st.lists(qids, max_size=max_walk).map(tuple))
    kw = {f: FIELDS[f] for f in cls.__dataclass_fields__ if f != "TYPE"}
    return st.builds(cls, **kw)


CLASSES = sorted(P.MESSAGE_CLASSES.values(), key=lambda c: c.TYPE)
messages = st.one_of([for_class(c) for c in CLASSES])
tagged = st.tuples(u16, messages)
