"""Micro-benchmark of the 9P codec: the struct fast path against the construct table.

Prints microseconds per encode and per decode of whole frames (size prefix included) for
the hot messages, best of several timeit repeats, side by side in one run.  A script, not a
test: run ``.venv/bin/python bench/codec.py``.
"""

from __future__ import annotations

import timeit

from lp49fs import ninep as P
from lp49fs.ninep import _codec

CASES: list[tuple[str, P.Message]] = [
    ("Tread", P.Tread(1, 4096, 8168)),
    ("Rread 16 B", P.Rread(b"x" * 16)),
    ("Rread 8 KiB", P.Rread(b"x" * 8192)),
    ("Twrite 8 KiB", P.Twrite(1, 0, b"x" * 8192)),
    ("Twalk 2 names", P.Twalk(0, 1, ("usr", "glenda"))),
    ("Rwalk 2 qids", P.Rwalk((P.Qid(P.QTDIR, 0, 2), P.Qid(0, 0, 3)))),
    ("Tclunk", P.Tclunk(1)),
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


if __name__ == "__main__":
    main()
