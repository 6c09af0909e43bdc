"""How often a supervised server is restarted: backoff, a budget per time window, a pause.

Both supervisors (``servers`` for LP49 servers inside the node, ``hostservers`` for host
processes) ask one ``Budget`` before each restart.  The rules (issue: a server that crashed six
times in a node's life was never restarted again, however long ago the crashes were):

1. Backoff.  The first restart after a crash waits ``backoff`` seconds; each further crash in a
   row doubles the wait, up to ``maxbackoff``.  A run that lasted ``healthy`` seconds or more
   (default 2 s) was no crash loop: the next crash starts from ``backoff`` again.  The backoff
   is for a server that dies as it starts; one that dies every few seconds is bounded by the
   budget (Rule 2), so a server killed now and then is back in its first wait, not in a wait
   grown by kills long over.
2. Budget.  At most ``limit`` restarts in any ``window`` seconds.  When a crash would exceed it,
   the supervisor logs why and pauses ``pause`` seconds, then begins a fresh window.  It never
   gives up for good: a node that runs for weeks keeps its servers.
3. Every decision is logged with the server's name and the reason, and kept in ``state`` and
   ``why`` for status output.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import trio

log = logging.getLogger(__name__)


@dataclass
class Budget:
    """The restart policy of one supervised server (see the module docstring)."""

    name: str
    limit: int = 5
    window: float = 60.0
    pause: float = 30.0
    backoff: float = 0.05
    maxbackoff: float = 2.0
    healthy: float = 2.0  # a run this long resets the backoff (Rule 1)
    restarts: int = 0  # restarts so far, over the node's life
    state: str = "starting"  # starting | up | backoff | paused | stopped
    why: str = ""  # the last exit, as the supervisor saw it
    _recent: deque[float] = field(default_factory=deque)  # times of recent restarts
    _delay: float = 0.0
    _started: float = 0.0

    def started(self) -> None:
        """The server is up (posted); a crash after ``healthy`` seconds counts as a fresh one."""
        self.state, self._started = "up", trio.current_time()

    async def restart(self, why: str) -> None:
        """The server exited for ``why``: wait as the rules say before it is started again."""
        now = trio.current_time()
        self.why = why
        if now - self._started >= self.healthy:
            self._delay = 0.0  # Rule 1: a run past a crash loop resets the backoff
        while self._recent and now - self._recent[0] >= self.window:
            self._recent.popleft()
        if len(self._recent) >= self.limit:  # Rule 2
            log.error("server %s: %d restarts in %.0f s (last exit: %s): pausing %.0f s",
                      self.name, len(self._recent), self.window, why, self.pause)
            self.state = "paused"
            await trio.sleep(self.pause)
            self._recent.clear()
            self._delay = 0.0
        self._delay = min(self.maxbackoff, self._delay * 2 or self.backoff)
        log.warning("server %s exited (%s): restart %d in %.2f s", self.name, why,
                    self.restarts + 1, self._delay)
        self.state = "backoff"
        await trio.sleep(self._delay)
        self._recent.append(trio.current_time())
        self.restarts += 1
        self.state = "starting"
