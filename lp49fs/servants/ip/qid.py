"""The qid paths of ``#I``, one layout for both of its stacks (Plan 9 ip/devip.c's QID).

devip.c packs a file's identity into its qid path as ``QID(p, c, y) = p << 24 | c << 8 | y``:
``p`` the top field (here called the kind: a protocol, or ``ipifc`` on the own stack), ``c``
the conversation number, ``y`` the file's type.  ``servants/ip`` (host sockets) and
``servants/inet/devip`` (the own stack) have different trees, so each has its own ``Q``
enum of types; both describe their paths with one ``Qlayout`` over that enum, made once at
import, and keep devip.c's short names for its parts (``qid``, ``qconv``, ``qtype`` ...).

Rules
  1. A type fits in 8 bits, a conversation number in 16 (``MAXCONV`` of either stack is
     below ``1 << 16``); the kind takes the bits above 24.
  2. The qid's type (QTDIR or QTFILE) follows from the file type alone: a ``Qlayout`` is
     told which types are directories.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Generic, TypeVar

from lp49fs.ninep import QTDIR, QTFILE, Qid

KINDSHIFT = 24  # devip.c: the protocol field
CONVSHIFT = 8  # the conversation field
CONVMASK = 0xFFFF
TYPEMASK = 0xFF

Q = TypeVar("Q", bound=IntEnum)


class Qlayout(Generic[Q]):
    """Packs (kind, conversation, type) into a Qid and takes a Qid's path apart (Rules)."""

    def __init__(self, types: type[Q], dirs: Iterable[Q]) -> None:
        self.types = types  # the stack's Q enum
        self.dirs = frozenset(dirs)  # the types that are directories (Rule 2)

    def qid(self, kind: int, conv: int, t: Q) -> Qid:
        """The qid of file type ``t`` of conversation ``conv`` under ``kind``."""
        return Qid(QTDIR if t in self.dirs else QTFILE, 0,
                   kind << KINDSHIFT | conv << CONVSHIFT | t)  # fmt: skip

    def kind(self, q: Qid) -> int:
        return q.path >> KINDSHIFT

    def conv(self, q: Qid) -> int:
        return (q.path >> CONVSHIFT) & CONVMASK

    def type(self, q: Qid) -> Q:
        return self.types(q.path & TYPEMASK)
