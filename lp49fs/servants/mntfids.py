"""The fid records of a recovering #M session (``mntrecover``): how to make each fid again.

Every fid a mount holds is kept as the attach it came from (uname, aname), the names it was
walked by from that root with ``..`` resolved lexically (``walked``), the qid it reached and
the mode it was opened with, so that after the server restarts the session can attach, walk
and open it again and check that it is the same file.
"""

from __future__ import annotations

from dataclasses import dataclass

from lp49fs.ninep import Qid


@dataclass(frozen=True)
class FidRec:
    """How to make a fid again: its attach, its walked path, its qid and open mode."""

    uname: str
    aname: str
    names: tuple[str, ...]  # from the attach root, ".." resolved
    qid: Qid
    omode: int = -1  # -1: not open


def walked(names: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    out = list(names)
    for n in more:
        if n == "..":
            if out:
                out.pop()
        elif n != ".":
            out.append(n)
    return tuple(out)
