"""Tell systemd how a ``Type=notify`` service is doing: sd_notify(3) in a few lines.

systemd passes ``$NOTIFY_SOCKET``, the path of a unix datagram socket; a leading ``@`` names
an abstract socket (the ``@`` becomes a NUL byte).  One datagram carries newline-separated
``KEY=VALUE`` assignments: ``READY=1`` when serving, ``STOPPING=1`` when shutting down,
``STATUS=text`` for ``systemctl status``.  Without ``$NOTIFY_SOCKET`` (not run by systemd)
every call does nothing and returns False; a send that fails is logged, never raised, so a
daemon does not die for its supervisor's sake.  A leaf: imports nothing from the project.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(*assignments: str) -> bool:
    """Send ``KEY=VALUE`` lines to ``$NOTIFY_SOCKET``; True if a datagram went out."""
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr or not assignments:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto("\n".join(assignments).encode(), addr)
    except OSError as e:
        log.warning("sd_notify to %r failed: %s", os.environ["NOTIFY_SOCKET"], e)
        return False
    return True


def ready(status: str | None = None) -> bool:
    """READY=1 (and STATUS=``status``): startup is complete."""
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def stopping(status: str | None = None) -> bool:
    """STOPPING=1 (and STATUS=``status``): shutdown has begun."""
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    """STATUS=``text``: a one-line state shown by ``systemctl status``."""
    return notify(f"STATUS={text}")
