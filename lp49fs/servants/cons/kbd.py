"""The console line discipline (Plan 9 devcons' ``kbd`` and the cooking in ``consread``).

Bytes typed at the console go in through ``Kbd.input``, which returns what to echo; finished
lines wait in ``ready`` until a reader ``take``s them.  Pure: no trio, no device.

Rules
  1. Cooked mode: ``\\r`` becomes ``\\n``; backspace drops the last character of the line,
     ^U the whole line; newline or ^D ends it (^D itself is not stored, so ^D on an empty line
     queues an empty line: a 0-byte read, end of file).  A line of ``LINELEN`` bytes is sent
     as it stands.  Echo is the typed bytes, ``\\n`` as ``\\r\\n`` and ^U as ``^U\\n``.
  2. ``take(n)`` gives at most one line; what does not fit stays first in ``ready``.
  3. Raw mode: bytes are queued as they come, unedited and unechoed, and ``take`` joins
     everything queued up to ``n``.  Going raw sends the partial cooked line at once
     (devcons' "clumsy hack"), so no typed byte is lost by a mode switch.
  4. DEL (0x7F) in cooked mode is the interrupt key, as on Plan 9's consoles: it drops the
     line being typed, echoes nothing and counts one ``interrupts`` for the console to post
     (``Cons`` sends the note ``interrupt`` to the note group of its reader).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

LINELEN = 1024  # longest cooked line (devcons kbd.line)

BS, CTLD, CTLU, DEL = 0x08, 0x04, 0x15, 0x7F


@dataclass
class Kbd:
    """The line discipline: raw bytes in, echo out, lines (or raw chunks) queued for readers."""

    raw: bool = False  # deliver bytes as they come, no echo, no editing
    line: bytearray = field(default_factory=bytearray)  # the line being cooked
    ready: collections.deque[bytes] = field(default_factory=collections.deque)  # for readers
    interrupts: int = 0  # DELs typed, not yet posted (Rule 4)

    def input(self, data: bytes) -> bytes:
        """Cook ``data``; returns the bytes to echo (nothing when raw)."""
        if self.raw:
            if data:
                self.ready.append(bytes(data))
            return b""
        echo = bytearray()
        for ch in data:
            if ch == ord("\r"):
                ch = ord("\n")
            if ch == DEL:
                self.line.clear()
                self.interrupts += 1
                continue
            if ch == BS:
                del self.line[-1:]
            elif ch == CTLU:
                self.line.clear()
            elif ch in (ord("\n"), CTLD):
                if ch == ord("\n"):
                    self.line.append(ch)
                self._send()
            else:
                self.line.append(ch)
                if len(self.line) >= LINELEN:
                    self._send()
            echo += {ord("\n"): b"\r\n", CTLU: b"^U\n"}.get(ch, bytes([ch]))
        return bytes(echo)

    def setraw(self, on: bool) -> None:
        """Switch modes; going raw hands the partial line to readers."""
        if on and not self.raw and self.line:
            self._send()
        self.raw = on

    def take(self, count: int) -> bytes | None:
        """Up to ``count`` bytes of the first ready line (all ready bytes when raw); None if
        nothing is ready.  An empty ready line (^D) gives b"" once."""
        if not self.ready:
            return None
        first = self.ready.popleft()
        if self.raw:
            while self.ready and len(first) < count:
                first += self.ready.popleft()
        if len(first) > count:
            self.ready.appendleft(first[count:])
            first = first[:count]
        return first

    def _send(self) -> None:
        self.ready.append(bytes(self.line))
        self.line.clear()
