"""Micro-benchmark of the 9P codec: the struct fast path against the construct table.

Prints microseconds per encode and per decode of whole frames (size prefix included) for
the hot messages and the stat messages, best of several timeit repeats, side by side in one
run; then the same for one stat entry (``encode_dir``/``decode_dirs``), a 100-entry
directory read, and the ``Dir`` renderings used by ``ls -l``.  A script, not a test: run
``taskset -c 0 .venv/bin/python bench/codec.py`` (pinned, so runs compare).
"""

from __future__ import annotations

import timeit

from lp49fs import ninep as P
from lp49fs.ninep import _codec

STAT = P.Dir(0, 0, P.Qid(P.QTFILE, 1, 3), 0o644, 1000000000, 1000000001, 5, "lib9p.c",
             "glenda", "sys", "glenda")
CASES: list[tuple[str, P.Message]] = [
    ("Tread", P.Tread(1, 4096, 8168)),
    ("Rread 16 B", P.Rread(b"x" * 16)),
    ("Rread 8 KiB", P.Rread(b"x" * 8192)),
    ("Twrite 8 KiB", P.Twrite(1, 0, b"x" * 8192)),
    ("Twalk 2 names", P.Twalk(0, 1, ("usr", "glenda"))),
    ("Rwalk 2 qids", P.Rwalk((P.Qid(P.QTDIR, 0, 2), P.Qid(0, 0, 3)))),
    ("Ropen", P.Ropen(P.Qid(0, 0, 3), 8168)),
    ("Tclunk", P.Tclunk(1)),
    ("Tstat", P.Tstat(1)),
    ("Rstat", P.Rstat(STAT)),
    ("Twstat", P.Twstat(1, STAT)),
    ("Rwstat", P.Rwstat()),
    ("Tversion (construct only)", P.Tversion(8192, "9P2000")),
]


def us(fn: object, n: int) -> float:
    t = min(timeit.repeat(fn, number=n, repeat=5))  # type: ignore[arg-type]
    return t / n * 1e6


def main() -> None:
    print(f"{'message':28} {'fast enc':>9} {'fast dec':>9} {'constr enc':>11} {'constr dec':>11}")
    for name, msg in CASES:
        wire = P.encode(7, msg)
        assert wire == _codec.build_message(7, msg)
        fe = us(lambda m=msg: P.encode(7, m), 20000)
        fd = us(lambda w=wire: P.decode(w), 20000)
        ce = us(lambda m=msg: _codec.build_message(7, m), 500)
        cd = us(lambda w=wire: _codec.parse_message(w), 500)
        print(f"{name:28} {fe:9.2f} {fd:9.2f} {ce:11.1f} {cd:11.1f}")
    entry = P.encode_dir(STAT)
    many = [P.Dir(qid=P.Qid(0, 0, i), mode=0o644, name=f"file{i}", uid="glenda", gid="sys",
                  muid="glenda") for i in range(100)]
    blob = b"".join(P.encode_dir(d) for d in many)
    assert P.decode_dirs(blob) == _codec.parse_dirs(blob) == many
    rows = [
        ("encode_dir", lambda: P.encode_dir(STAT), lambda: _codec.build_dir(STAT), 1),
        ("decode_dirs 1 entry", lambda: P.decode_dirs(entry),
         lambda: _codec.parse_dirs(entry), 1),
        ("decode_dirs 100 entries", lambda: P.decode_dirs(blob),
         lambda: _codec.parse_dirs(blob), 100),
    ]
    print(f"\n{'stat entries (per entry)':28} {'fast':>9} {'construct':>11}")
    for name, fast, slow, k in rows:
        print(f"{name:28} {us(fast, 20000 // k) / k:9.2f} {us(slow, 500 // k or 1) / k:11.1f}")
    print(f"\n{'Dir formatting':28} {'us':>9}")
    print(f"{'dirmode (ls -l mode)':28} {us(lambda: P.dirmode(STAT.mode), 20000):9.2f}")
    print(f"{'str(Dir)':28} {us(lambda: str(STAT), 20000):9.2f}")


if __name__ == "__main__":
    main()
