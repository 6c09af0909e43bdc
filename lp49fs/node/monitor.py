"""The server monitor: health checks of supervised servers, and their status in /dev/servers.

The two supervisors (``servers`` for LP49 servers, ``hostservers`` for host processes) restart
a server that *exits*.  A server that stays alive but stops answering would not exit, and its
clients would wait until the ping of ``#M`` hangs them up.  The monitor closes that gap:

1. Health check.  Every ``period`` seconds, while a server is up, one 9P round trip on its
   link must come back within ``period`` seconds: for an LP49 server with a mount, a stat of
   its mount point through the boot process (``#M`` sends Tstat on the server's link); for a
   host server, a fresh connection to its address and Tversion, inside TLS with the node's
   private authority when the server has one (as ``srv`` dials it: a plain probe would be
   refused and logged by the server every period).  A server that does not
   answer is killed (the ``kill`` note, or SIGKILL for a host process) with the reason kept,
   so its supervisor logs ``health check: ...`` as the exit and restarts it as for a crash.
   A server with neither a mount nor an address is not checked.
2. Status.  ``register`` puts a supervised server in the node's table; ``/dev/servers``
   (``#c``, through ``Core.servers``) reads one line per server::

       name kind state pid starts restarts 'last exit'

   kind ``lp49`` or ``host``; state as the restart budget says (starting, up, backoff,
   paused, stopped); the ``servers`` program prints it with a header.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import TYPE_CHECKING

import trio

from lp49fs.auth import tls
from lp49fs.core import sysfile
from lp49fs.errors import Error
from lp49fs.lib9p.client import Session
from lp49fs.node.boot import Node
from lp49fs.servants.proc.fmt import quote

if TYPE_CHECKING:
    from lp49fs.node.hostservers import HostSupervised
    from lp49fs.node.servers import Supervised

log = logging.getLogger(__name__)

HEALTH = 5.0  # seconds between checks, and how long an answer may take ([node] health)


def register(node: Node, sv: Supervised | HostSupervised) -> None:
    """Rule 2: ``sv`` appears in /dev/servers from now on."""
    node.supervised.append(sv)
    node.core.servers = lambda: status(node.supervised)


def status(table: list[object]) -> str:
    from lp49fs.node.hostservers import HostSupervised
    from lp49fs.node.servers import Supervised

    lines = []
    for sv in table:
        assert isinstance(sv, (Supervised, HostSupervised))
        b = sv.budget
        if isinstance(sv, Supervised):
            name, kind, last = sv.spec.srvname, "lp49", b.why if b else ""
        else:
            assert isinstance(sv, HostSupervised)
            name, kind, last = sv.spec.name, "host", sv.last_exit
        state = b.state if b else "starting"
        restarts = b.restarts if b else 0
        lines.append(f"{name} {kind} {state} {sv.pid} {sv.starts} {restarts} {quote(last)}\n")
    return "".join(lines)


async def _answers(node: Node, sv: Supervised | HostSupervised, timeout: float) -> bool:
    """Rule 1: one 9P round trip on ``sv``'s link within ``timeout``."""
    from lp49fs.node.servers import Supervised

    with trio.move_on_after(timeout):
        try:
            if isinstance(sv, Supervised):
                assert sv.spec.old is not None
                await sysfile.stat(node.bootproc, sv.spec.old)
            else:
                _, host, port = sv.addr.split("!")
                auth = sv.spec.auth
                async with await trio.open_tcp_stream(host, int(port)) as stream:
                    link = stream if auth is None else await tls.client(stream, auth.dir,
                                                                        auth.user, host)
                    s = Session(link)
                    async with trio.open_nursery() as n:
                        await n.start(s.run)
                        await s.version()
                        n.cancel_scope.cancel()
        except* (Error, OSError, trio.BrokenResourceError):  # from the nursery: a group
            pass  # an answer, even an error one, or a refused connection: not frozen
        return True
    return False


async def health(node: Node, sv: Supervised | HostSupervised, period: float = HEALTH) -> None:
    """Rule 1, for ever (run beside the server's supervisor; cancelled with it)."""
    from lp49fs.node.servers import Supervised

    lp49 = isinstance(sv, Supervised)
    if period <= 0 or (lp49 and sv.spec.old is None):  # type: ignore[union-attr]
        return
    while True:
        await trio.sleep(period)
        pid = sv.pid
        if not (pid and sv.up.is_set() and (lp49 or sv.addr)):  # type: ignore[union-attr]
            continue
        if await _answers(node, sv, period) or sv.pid != pid:
            continue
        why = f"health check: no answer to 9P within {period:g} s"
        log.warning("server %s: %s: killing pid %d", sv.budget.name if sv.budget else "?",
                    why, pid)  # fmt: skip
        sv.killed = why
        if lp49:
            pi = node.procmgr.bypid.get(pid)
            if pi is not None:
                node.procmgr.note(pi.proc, "kill")
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
