"""Keep big 9P buffers off fresh mmaps: glibc malloc thresholds, set once per process.

Why: a 9P server at msize 1 MiB holds two ~1 MiB objects at once per Rread (the file's data
and the encoded frame).  glibc's dynamic thresholds then trim the heap top (more than
M_TRIM_THRESHOLD free) after every reply and grow it again for the next, so every frame
page-faults fresh memory, many times the cost of a frame whose memory is reused
(``bench/ninep.py``'s 1 MiB row shows it against the raw socket).

What: ``tune_malloc()`` calls ``mallopt`` once: M_MMAP_THRESHOLD = 32 MiB (the largest msize
we accept is far below) and M_TRIM_THRESHOLD = 64 MiB, so freed frames go back to the heap
and are reused.  Cost: up to 64 MiB of freed memory may stay in the process.  It is a
process-wide setting, so it is made by ``dial`` and ``announce`` (a process that speaks 9P
over sockets), not by an environment variable that children and tests would have to carry.
Any other libc, or a failing call, leaves malloc as it was (``tune_malloc`` says False).

The Framer's reused receive buffer (``lp49fs.ninep._framing``) and gathered sends
(``SocketLink.send_parts``) avoid the big allocations in the first place; this covers the
ones that remain (a backend's fresh data, a joined frame).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

_done: bool | None = None


def tune_malloc() -> bool:
    """Set the glibc thresholds once (see the module docstring); True if they are set."""
    global _done
    if _done is None:
        _done = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
