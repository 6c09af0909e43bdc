"""The readahead of a FUSE mount's backing device: 1 MiB, so one sequential read is one request.

How it works.  Linux gives every FUSE mount a backing-device-info (bdi) named after the
mount's anonymous device, ``MAJOR:MINOR``; its ``read_ahead_kb`` bounds how far ahead the
page cache reads a file that is read in order.  The FUSE init reply can only lower it
(``fuse_process_init_reply``: ``min(bdi ra_pages, max_readahead)``), and the default is
128 KiB, so a 1 MiB ``read(2)`` of a cached file becomes eight 128 KiB FUSE reads although
libfuse 3.14 already negotiates ``max_pages`` = 256 (1 MiB requests, the kernel's limit since
4.20).  Raising ``read_ahead_kb`` to ``READAHEAD_KB`` lets the kernel ask for the whole
window in one request and have the next window in flight (asynchronous readahead) while the
reader copies the first: several reads in flight, which the bridge serves concurrently
(every request is its own trio task and system call).

Rules:

1. ``device(mountpoint)`` finds ``MAJOR:MINOR`` in ``/proc/self/mountinfo`` (never by a stat
   of the mount point: the FUSE session is not served yet when this runs, and a stat would
   wait for itself).
2. ``raise_readahead`` writes the sysfs file; only root may, so anyone else keeps the
   kernel's default and the failure is logged at debug level.  A value already larger is
   left alone.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

READAHEAD_KB = 1024  # one window: 256 pages, FUSE's largest request (FUSE_MAX_MAX_PAGES)
MOUNTINFO = "/proc/self/mountinfo"
BDI = "/sys/class/bdi/{}/read_ahead_kb"


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a blank, ...) undone."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def device(mountpoint: str, mountinfo: str = MOUNTINFO) -> str | None:
    """``MAJOR:MINOR`` of the last mount on ``mountpoint`` (Rule 1), or None."""
    found = None
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == mountpoint:
                found = fields[2]  # a later line is a mount on top of an earlier one
    return found


def raise_readahead(mountpoint: str, kb: int = READAHEAD_KB) -> int | None:
    """Set the mount's readahead to at least ``kb`` KiB (Rule 2); the value now, or None."""
    dev = device(mountpoint)
    if dev is None:
        return None
    path = BDI.format(dev)
    try:
        with open(path) as f:
            now = int(f.read())
        if now >= kb:
            return now
        with open(path, "w") as f:
            f.write(str(kb))
        return kb
    except (OSError, ValueError) as e:
        log.debug("readahead of %s stays at the default: %s", mountpoint, e)
        return None
