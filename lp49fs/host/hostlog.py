"""Where a host-side daemon's log goes: a file, syslog (the journal), or stderr.

A mount daemon's stdio is /dev/null once it has detached, so what it has to say
must go somewhere a person can read later:

Rule 1. ``log=PATH`` (mount) or ``--log PATH`` (node): lines are appended to PATH with a UTC
        timestamp, opened before the fork so a bad path fails the command at once.
Rule 2. Without a file, a process that has detached logs to syslog through ``/dev/log``
        (systemd's journal reads that socket too); without ``/dev/log`` it stays silent.
Rule 3. In the foreground, without a file, lines go to stderr (journald takes a unit's
        stderr as well).
Rule 4. ``debug`` sets the level to DEBUG, which turns on the FUSE request trace
        (``lp49fs.fuse.trace``); otherwise INFO into a file or syslog, ``quiet`` (WARNING)
        on a terminal.  Only handlers made here are ever replaced.

A leaf: stdlib only.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time

SYSLOG = "/dev/log"  # Rule 2: the syslog socket (journald's /run/systemd/journal/dev-log)


class LogError(Exception):
    """The log file cannot be opened: one line, ready to print."""


def _formatter(prog: str, stamped: bool) -> logging.Formatter:
    if not stamped:
        return logging.Formatter(f"{prog}: %(levelname)s %(name)s: %(message)s")
    f = logging.Formatter(f"%(asctime)s {prog}[%(process)d]: %(levelname)s %(name)s: %(message)s")
    f.converter = time.gmtime
    return f


def _ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if getattr(h, "lp49", False)]


def setup(prog: str, path: str | None, debug: bool, quiet: int = logging.INFO) -> None:
    """Rules 1, 3 and 4: log to ``path`` if given, else to stderr; LogError if unopenable.
    ``quiet``: the level on stderr when not debugging."""
    root = logging.getLogger()
    for h in _ours(root):
        root.removeHandler(h)
    handler: logging.Handler
    if path is not None:
        try:
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as e:
            raise LogError(f"log file {path}: {e.strerror}") from None
        handler.setFormatter(_formatter(prog, stamped=True))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_formatter(prog, stamped=False))
    setattr(handler, "lp49", True)  # noqa: B010 (marks the handlers made here)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO if path is not None else quiet)


def detached(prog: str) -> None:
    """Rule 2: after detaching, swap a stderr handler for syslog (or for nothing)."""
    root = logging.getLogger()
    streams = [h for h in _ours(root) if type(h) is logging.StreamHandler]
    if not streams:
        return  # a log file: it stays
    for h in streams:
        root.removeHandler(h)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    if os.path.exists(SYSLOG):
        try:
            sl = logging.handlers.SysLogHandler(address=SYSLOG)
        except OSError:
            return
        sl.setFormatter(logging.Formatter(f"{prog}[%(process)d]: %(name)s: %(message)s"))
        setattr(sl, "lp49", True)  # noqa: B010
        root.addHandler(sl)
